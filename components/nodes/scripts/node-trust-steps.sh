#!/usr/bin/env bash
# Node trust for a private registry, part 6 of 6: the runtime steps create_items calls, and main.
# Follows node-trust-recipe.sh in the script components/nodes/nodeScripts.ts sends (see there).
CRIO_DROPIN="/etc/containers/registries.conf.d/50-$ID-mirror.conf"
CTD_DEFAULT_DIR=/etc/containerd/certs.d
TOML_FN='
function hdr(s) { sub(/^[[:space:]]*\[/, "", s); sub(/\][[:space:]]*(#.*)?$/, "", s); gsub(/[[:space:]]/, "", s); gsub(/\047/, "\"", s); return s }
function val(s) { sub(/^[^=]*=[[:space:]]*/, "", s); sub(/[[:space:]]*(#.*)?$/, "", s); gsub(/^["\047]|["\047]$/, "", s); return s }
'

ctd_info() { # ctd_info <file>: sets CTD_SEC (registry section), CTD_PLUGIN, CTD_CUR (config_path), CTD_CONFLICT
  local f=$1 version=2
  CTD_CUR='' CTD_CONFLICT=0
  if [[ -e $f ]]; then
    version=$(awk "$TOML_FN"'/^[[:space:]]*\[/ { exit } /^[[:space:]]*version[[:space:]]*=/ { print val($0); exit }' "$f")
  fi
  case $version in
    2) CTD_PLUGIN=io.containerd.grpc.v1.cri ;;
    3) CTD_PLUGIN=io.containerd.cri.v1.images ;;
    *) fail "read $f" "unsupported containerd config version '${version:-1}' (expected 2 or 3); set config_path yourself" ;;
  esac
  CTD_SEC="plugins.\"$CTD_PLUGIN\".registry"
  [[ -e $f ]] || return 0
  # containerd refuses config_path next to registry.mirrors."x" or registry.configs."x".tls.
  IFS=$'\t' read -r CTD_CONFLICT CTD_CUR < <(awk -v sec="$CTD_SEC" "$TOML_FN"'
    /^[[:space:]]*\[/ { cur = hdr($0); if (index(cur, sec ".mirrors.") == 1 || (index(cur, sec ".configs.") == 1 && cur ~ /\.tls$/)) bad = 1; next }
    cur == sec && /^[[:space:]]*config_path[[:space:]]*=/ { path = val($0) }
    END { printf "%d\t%s\n", bad, path }' "$f")
}

ctd_dir() { # the one directory config_path should name, after ctd_info: the first of a colon list, or the default
  local d=${CTD_CUR%%:*}
  d=${d%/}
  printf '%s' "${d:-$CTD_DEFAULT_DIR}"
}

ctd_edit() { # ctd_edit <file or "">: the file with config_path set to one directory (deterministic, so delete can recompute it)
  local f=$1 dir
  ctd_info "$f"
  dir=$(ctd_dir)
  if [[ ! -e $f ]]; then
    printf 'version = 2\n\n[%s]\n  config_path = "%s"\n' "$CTD_SEC" "$dir"
    return 0
  fi
  awk -v sec="$CTD_SEC" -v dir="$dir" "$TOML_FN"'
    FNR == 1 { cur = "" }
    FNR == NR { if (/^[[:space:]]*\[/) cur = hdr($0); else if (cur == sec && /^[[:space:]]*config_path[[:space:]]*=/) has = 1; next }
    /^[[:space:]]*\[/ {
      cur = hdr($0); print
      if (cur == sec) { found = 1; if (!has) { ind = $0; sub(/\[.*/, "", ind); print ind "  config_path = \"" dir "\"" } }
      next
    }
    cur == sec && /^[[:space:]]*config_path[[:space:]]*=/ { ind = $0; sub(/config_path.*/, "", ind); print ind "config_path = \"" dir "\""; next }
    { print }
    END { if (!found) printf "\n[%s]\n  config_path = \"%s\"\n", sec, dir }' "$f" "$f"
}

ctd_validate() { # ctd_validate <file> <candidate> <dir>: containerd's own parser, else Python's tomllib, else a note
  local f=$1 at=$RUNDIR cand out
  if command -v containerd >/dev/null; then
    # beside the file when it imports others: containerd resolves relative imports from the file's directory
    if [[ -f $f ]] && grep -q '^[[:space:]]*imports[[:space:]]*=' "$f"; then at=$(dirname -- "$f"); fi
    STEP="check the edited $f with containerd config dump"
    mkdir -p -- "$RUNDIR"
    cand="$at/.$ID.candidate.toml"
    emit "$2" > "$cand"
    if ! out=$(containerd --config "$cand" config dump 2>&1 >/dev/null </dev/null 8>&-); then
      rm -f -- "$cand"
      fail "enable config_path in $f" "containerd refuses the edited file (${out//"$cand"/the edit}); set config_path = \"$3\" yourself"
    fi
    rm -f -- "$cand"
    rmdir -- "$RUNDIR" 2>/dev/null || true
  elif command -v python3 >/dev/null && python3 -c 'import tomllib' 2>/dev/null; then
    emit "$2" | python3 -c '
import sys, tomllib
c = tomllib.load(sys.stdin.buffer)
sys.exit(str(c["plugins"][sys.argv[1]]["registry"]["config_path"]).split(":")[0] != sys.argv[2])
' "$CTD_PLUGIN" "$3" 2>/dev/null || fail "enable config_path in $f" "the edit would not give valid TOML with config_path set (unusual layout); set config_path = \"$3\" yourself"
  else
    say note "$f not checked before the restart (no containerd and no Python 3.11 on PATH)"
  fi
}

containerd_trust() {
  local cfg=$CTD_CONFIG dir new
  STEP="read $cfg"
  ctd_info "$cfg"
  dir=$(ctd_dir)
  # A colon list (containerd 2.2+ defaults to one) is ignored by the CRI plugin's pulls: one directory only.
  # Either way, config_path is counted node-wide: another stack on this node may rely on it too.
  if [[ -n $CTD_CUR && $CTD_CUR != *:* ]]; then
    claim config_path "$cfg"
    say unchanged "$cfg"
  else
    ((CTD_CONFLICT == 0)) || fail "enable config_path in $cfg" "registry.mirrors or registry.configs.*.tls is set, which containerd refuses together with config_path; move them to hosts.toml first"
    STEP="edit $cfg"
    new=$(ctd_edit "$cfg")
    # an odd layout must not leave containerd unable to start
    ctd_validate "$cfg" "$new" "$dir"
    claim config_path "$cfg"
    need containerd "enabled config_path = \"$dir\" in $cfg so containerd reads $dir/$REGISTRY/hosts.toml; needed once"
    shared_put "$cfg" "$new"
  fi
  put "$dir/$REGISTRY/ca.crt" whole "$(ca_pem)"
  put "$dir/$REGISTRY/hosts.toml" whole "$(hosts_toml "$dir/$REGISTRY")"
  # the mirror first, for pull and resolve; the upstream itself (server) when the mirror fails
  if [[ -n $MIRROR ]]; then mirror_hosts "$dir"; fi
}

settle_containerd() { # the pending restart; when it fails after this run enabled config_path, the original comes back
  local f="$RUNDIR/$REGISTRY.containerd" reason out rc again o
  [[ -e $f ]] || return 0
  reason=$(cat -- "$f")
  STEP="run $CTD_RESTART"
  if out=$(run_cmd "$CTD_RESTART"); then
    rm -f -- "$f"
    rmdir -- "$RUNDIR" 2>/dev/null || true
    printf 'restarted: containerd (%s)\n' "$reason"
    return 0
  else rc=$?; fi
  o=$(orig_of "$CTD_CONFIG")
  # delete gave the original back already; another stack relies on the edit: nothing to roll back
  if [[ $MODE != create || (! -e $o && ! -e $o.absent) || -n $(others config_path "$CTD_CONFIG") ]]; then fail "$STEP" "exit $rc: $out"; fi
  shared_restore "$CTD_CONFIG"
  rm -f -- "$f"
  STEP="run $CTD_RESTART again"
  if again=$(run_cmd "$CTD_RESTART"); then again="containerd was restarted with it"
  else again="the restart with it failed too (exit $?: $again)"; fi
  fail "restart containerd" "\`$CTD_RESTART\` failed (exit $rc: $out) after config_path was enabled in $CTD_CONFIG; the original $CTD_CONFIG is back and $again. Check that containerd starts with config_path set (or set it yourself), then run again"
}

crio_mirror() { # a registries.conf.d drop-in (CRI-O, podman, skopeo, buildah): the mirror, then the upstream
  put "$CRIO_DROPIN" whole "$(cat <<EOT
# private-registry ($ID): pull $UPSTREAM images through the mirror $MIRROR first.
[[registry]]
prefix = "$UPSTREAM"
location = "$UPSTREAM"

[[registry.mirror]]
location = "$MIRROR"
EOT
)"
  if ((CHANGED)); then need reload "wrote $CRIO_DROPIN"; fi
  say mirror "$UPSTREAM through $MIRROR: $CRIO_DROPIN"
}

hosts_toml() { # hosts_toml <host dir>: containerd takes the registry from the directory's name, and so does this
  cat <<EOF
server = "https://${1##*/}"

[host."https://${1##*/}"]
  capabilities = ["pull", "resolve", "push"]
  ca = "$1/ca.crt"
EOF
}

wanted() { # wanted <kind> <path>: does this run keep that manifest entry?
  local d
  case $1 in
    hostsnl) [[ -n $HOSTS_WANT ]] ;;
    put) for d in ${DESIRED[@]+"${DESIRED[@]}"}; do [[ $d != "$2" ]] || return 0; done; return 1 ;;
    dir) for d in ${DESIRED[@]+"${DESIRED[@]}"}; do [[ $d != "$2"/* ]] || return 0; done; return 1 ;;
    *) return 1 ;;
  esac
}

# Everything runs inside main with stdin from /dev/null: the script itself arrives on stdin, and any
# command reading stdin (python3, a restart command) would otherwise swallow the rest of it.
main() {
  MODE=${1:-}
  case $MODE in
    create | delete) ;;
    *) fail usage "expected create or delete as the first argument, got '$MODE'" ;;
  esac
  ((EUID == 0)) || fail "$MODE" "must run as root (a non-root user goes through sudo -n)"
  lock_node
  adopt_legacy
  # an earlier version restarted dockerd for insecure-registries; a reload applies it
  if [[ -e $RUNDIR/$REGISTRY.docker ]]; then mv -f -- "$RUNDIR/$REGISTRY.docker" "$RUNDIR/$REGISTRY.reload"; fi
  if [[ $MODE == create ]]; then create_items; else hosts_line ''; fi
  shared_settle
  prune
  sweep_dirs
  settle ca-fresh "updated: system CA bundle" "update-ca-certificates --fresh"
  settle ca "updated: system CA bundle" update-ca-certificates
  settle ca-suse "updated: system CA bundle" update-ca-certificates
  settle ca-rhel "updated: system CA bundle" "update-ca-trust extract"
  settle_containerd
  settle reload "reloaded: the runtime's mirror settings" "$RELOAD"
  if [[ $MODE == delete ]]; then
    STEP="remove $MANIFEST"
    rm -f -- "$MANIFEST"
    rmdir -- "$BACKUPS" 2>/dev/null || true
    rmdir -- "$STATE" 2>/dev/null || true
  fi
  shared_cleanup
  rmdir -- "$RUNDIR" 2>/dev/null || true
}

main "$@" </dev/null
