#!/usr/bin/env bash
# Node trust for a private registry, part 2 of 6: what several stacks on one node share, counted node-wide.
# Follows node-trust.sh in the script components/nodes/nodeScripts.ts sends (see there).
#
# containerd's config_path, the mirror's <config_path>/<upstream>/hosts.toml and the entries of daemon.json
# serve every stack that trusts a registry on the node. Each stack lists what it relies on in its own file
# under shared.d (claim); the original of a shared file is kept once, node-wide, by the first stack that
# changes it (shared_put), and given back only when no stack relies on the file any more (shared_settle).
SHARED=/etc/private-registry
CLAIMS_DIR="$SHARED/shared.d"
CLAIMS="$CLAIMS_DIR/$ID@$REGISTRY"   # this stack's: "config_path <file>", "mirror <hosts.toml> <mirror> <url> <ca>", "daemon-json <key> <value>"
ORIGS="$SHARED/orig"                 # originals of shared files: <path with / as %>, or that name plus .absent
DIRS_LIST="$SHARED/dirs"             # directories a stack created that others use too: removed once empty
ADDED="$SHARED/daemon-json.added"    # daemon.json entries a stack added (the ones already there are the user's)
CLAIM_WANT=()
DOCKER_DONE=0
RESTORED=0

orig_of() { printf '%s/%s' "$ORIGS" "${1//\//%}"; }

set_file() { # set_file <path> <content>: written only when it differs; "" removes it
  if [[ -z $2 ]]; then rm -f -- "$1"; return 0; fi
  if same "$1" "$2"; then return 0; fi
  mkdir -p -- "$(dirname -- "$1")"
  emit "$2" > "$1"
}

add_line() { # add_line <file> <line>: appended unless there
  if [[ -f $1 ]] && grep -qxF -- "$2" "$1"; then return 0; fi
  mkdir -p -- "$(dirname -- "$1")"
  printf '%s\n' "$2" >> "$1"
}

claim() { # claim <kind> <path or key> [fields]: this run relies on it; recorded at once, so a run cut short still counts
  local line
  line=$(IFS=$'\t'; printf '%s' "$*")
  CLAIM_WANT+=("$line")
  STEP="record in $CLAIMS"
  add_line "$CLAIMS" "$line"
}

others() { # others <kind> [path]: the other stacks' claims, as "<their file name><TAB><claim>"
  local f
  for f in "$CLAIMS_DIR"/*; do
    [[ -f $f && $f != "$CLAIMS" ]] || continue
    awk -F'\t' -v k="$1" -v p="${2:-}" -v n="${f##*/}" '$1 == k && (p == "" || $2 == p) { print n "\t" $0 }' "$f"
  done
}

mine() { # mine <kind> [path]: this run's claims, in the same form
  local l k p
  for l in ${CLAIM_WANT[@]+"${CLAIM_WANT[@]}"}; do
    IFS=$'\t' read -r k p _ <<<"$l"
    if [[ $k == "$1" && (-z ${2:-} || $p == "$2") ]]; then printf '%s\t%s\n' "${CLAIMS##*/}" "$l"; fi
  done
}

shared_dir() { # a directory some stack created, given to whichever run finds it empty (sweep_dirs)
  STEP="record in $DIRS_LIST"
  add_line "$DIRS_LIST" "$1"
}

sweep_dirs() { # the listed directories that are empty now go, deepest first
  [[ -f $DIRS_LIST ]] || return 0
  local dirs=() keep=() d changed=0
  mapfile -t dirs < <(awk -F/ '{ print NF "\t" $0 }' "$DIRS_LIST" | sort -rn -k1,1 | cut -f2-)
  for d in "${dirs[@]}"; do
    STEP="remove directory $d"
    if [[ ! -d $d ]]; then changed=1
    elif rmdir -- "$d" 2>/dev/null; then say removed "$d"; changed=1
    else keep+=("$d"); fi
  done
  ((changed)) || return 0
  STEP="update $DIRS_LIST"
  set_file "$DIRS_LIST" "$(printf '%s\n' ${keep[@]+"${keep[@]}"})"
}

# shellcheck disable=SC2034 # CHANGED is read by the callers
shared_put() { # shared_put <path> <content>: like put, but the original is kept node-wide by the first stack that changes it
  local path=$1 o
  CHANGED=0
  if same "$path" "$2"; then say unchanged "$path"; return 0; fi
  o=$(orig_of "$path")
  if [[ ! -e $o && ! -e $o.absent ]]; then
    STEP="back up $path to $o"
    (umask 077 && mkdir -p -- "$ORIGS")  # originals may hold registry credentials
    if [[ -e $path ]]; then cp -p -- "$path" "$o"; else : > "$o.absent"; fi
  fi
  [[ -e $path ]] || mkdirs "$(dirname -- "$path")" shared
  STEP="write $path"
  emit "$2" > "$path"
  CHANGED=1
  say changed "$path"
}

shared_restore() { # shared_restore <path>: the original back, or the file gone when there was none; sets RESTORED
  local path=$1 o
  o=$(orig_of "$path")
  RESTORED=0
  if [[ -f $o ]]; then
    if ! same_files "$o" "$path"; then STEP="restore $path from $o"; cp -p -- "$o" "$path"; say restored "$path"; RESTORED=1; fi
    rm -f -- "$o"
  elif [[ -f $o.absent ]]; then
    if [[ -e $path ]]; then STEP="remove $path"; rm -f -- "$path"; say removed "$path"; RESTORED=1; fi
    rm -f -- "$o.absent"
  fi
}

release_config_path() { # release_config_path <file>: the last stack relying on config_path gives the original back
  local f=$1 o expect
  [[ -z $(others config_path "$f") ]] || return 0
  o=$(orig_of "$f")
  if [[ -e $o ]]; then expect=$(ctd_edit "$o")
  elif [[ -e $o.absent ]]; then expect=$(ctd_edit '')
  else return 0; fi   # config_path was there before any stack
  if [[ -e $f ]] && ! same "$f" "$expect"; then
    say kept "$f (changed since config_path was enabled, so not restored; the original is $o)"
    return 0
  fi
  shared_restore "$f"
  if ((RESTORED)); then need containerd "restored $f"; fi
}

mirror_render() { # mirror_render <hosts.toml>: every stack's mirror of that upstream, in the order of their claim files
  { others mirror "$1"; mine mirror "$1"; } | LC_ALL=C sort -s -t$'\t' -k1,1 | awk -F'\t' '
    $4 == "" { next }
    !n++ { printf "server = \"%s\"\n", $5 }
    { printf "\n[host.\"https://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"%s\"\n", $4, $6 }'
}

mirror_hosts() { # mirror_hosts <config_path dir>: the upstream's hosts.toml, the mirror first; the mirror's certificate is the registry's
  local f="$1/$UPSTREAM/hosts.toml"
  claim mirror "$f" "$MIRROR" "$UPSTREAM_URL" "$1/$REGISTRY/ca.crt"
  shared_put "$f" "$(mirror_render "$f")"
  say mirror "$UPSTREAM through $MIRROR: $f"
}

release_mirror() { # release_mirror <hosts.toml>: the other stacks' mirrors stay; with none, the original comes back
  local content
  content=$(mirror_render "$1")
  if [[ -n $content ]]; then shared_put "$1" "$content"; else shared_restore "$1"; fi
}

adopt_legacy() { # earlier versions kept shared files in this stack's manifest: they move to the node-wide store
  [[ -f $MANIFEST ]] || return 0
  local lines=() kept=() line kind path existed how o bk moved=0 legacy="$STATE/$REGISTRY.daemon-json-entries" k v
  mapfile -t lines < "$MANIFEST"
  for line in "${lines[@]}"; do
    IFS=$'\t' read -r kind path existed how <<<"$line"
    STEP="move $path to the node-wide store"
    case $kind:$how in
      put:ctd) add_line "$CLAIMS" "config_path"$'\t'"$path" ;;
      put:docker)
        while IFS=$'\t' read -r k v; do
          add_line "$CLAIMS" "daemon-json"$'\t'"$k"$'\t'"$v"
          add_line "$ADDED" "$k"$'\t'"$v"
        done < <(cat -- "$legacy" 2>/dev/null || true)
        rm -f -- "$legacy" ;;
      put:whole)
        if [[ $path != */hosts.toml || ${path%/hosts.toml} == */"$REGISTRY" ]]; then kept+=("$line"); continue; fi
        add_line "$CLAIMS" "mirror"$'\t'"$path"$'\t\t\t' ;;
      *) kept+=("$line"); continue ;;
    esac
    o=$(orig_of "$path") bk=$(backup_of "$path")
    if [[ ! -e $o && ! -e $o.absent ]]; then
      (umask 077 && mkdir -p -- "$ORIGS")
      if [[ $existed == orig && -f $bk ]]; then cp -p -- "$bk" "$o"; elif [[ $existed == new ]]; then : > "$o.absent"; fi
    fi
    rm -f -- "$bk"
    moved=1
  done
  ((moved)) || return 0
  save_manifest ${kept[@]+"${kept[@]}"}
}

# shellcheck disable=SC2034 # STEP is read by on_err (node-trust.sh)
shared_settle() { # this run's claims replace the old ones; what no stack relies on any more is given back
  local old=() l kind path docker=0
  if [[ -f $CLAIMS ]]; then mapfile -t old < "$CLAIMS"; fi
  STEP="update $CLAIMS"
  set_file "$CLAIMS" "$(printf '%s\n' ${CLAIM_WANT[@]+"${CLAIM_WANT[@]}"})"
  for l in ${old[@]+"${old[@]}"}; do
    IFS=$'\t' read -r kind path _ <<<"$l"
    if [[ $kind == daemon-json ]]; then docker=1; continue; fi
    if [[ -n $(mine "$kind" "$path") ]]; then continue; fi
    case $kind in
      config_path) release_config_path "$path" ;;
      mirror) release_mirror "$path" ;;
    esac
  done
  if ((docker && !DOCKER_DONE)); then daemon_json_apply; fi
}

shared_cleanup() { # the node-wide store goes with the last thing in it
  [[ -d $SHARED ]] || return 0
  rmdir -- "$CLAIMS_DIR" 2>/dev/null || true
  rmdir -- "$ORIGS" 2>/dev/null || true
  rmdir -- "$SHARED" 2>/dev/null || true
}
