#!/usr/bin/env bash
# Node trust for a private registry, part 1 of 2: strict mode, where the state lives, and the bookkeeping.
# Not run on its own: components/nodeScripts.ts sends one script on stdin to `bash -s -- create|delete`,
# made of a generated header (ID, REGISTRY, CTD_CONFIG, CTD_RESTART, DOCKER_RESTART, ca_pem and
# create_items for one node), this file, then node-trust-steps.sh. Both modes are in it because the
# provider replays the stored script for delete.
#
# Every file it writes or directory it creates goes into a manifest first (record, put), with a backup of
# what was there before; prune undoes whatever the manifest holds that this run no longer wants, which is
# everything on delete. Restarts wait in RUNDIR until they succeed (need, settle).
set -Eeuo pipefail
shopt -s inherit_errexit
umask 022
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
STATE="/etc/$ID"          # node-private; /var and /tmp may be shared
MANIFEST="$STATE/$REGISTRY.manifest"
BACKUPS="$STATE/$REGISTRY.orig"
RUNDIR="/run/$ID"         # pending restarts: a reboot clears them and restarts everything anyway
CA_DIR=/usr/local/share/ca-certificates
STEP=start
DESIRED=()
CHANGED=0

say() { printf '%s: %s\n' "$1" "$2"; }
fail() { printf 'private-registry[%s]: %s: %s\n' "$ID" "$1" "$2" >&2; exit 1; }
# Subshells only pass the status up, so the step is reported once, by the main shell.
on_err() {
  local rc=$?
  ((BASH_SUBSHELL)) || printf 'private-registry[%s]: %s failed (exit %s)\n' "$ID" "$STEP" "$rc" >&2
  exit "$rc"
}
trap on_err ERR

emit() { [[ -z $1 ]] || printf '%s\n' "$1"; }
# Byte comparison in pure bash (cmp is not everywhere); the x keeps trailing newlines.
same() { [[ -f $1 ]] || return 1; local a b; a=$(cat -- "$1"; echo x); b=$(emit "$2"; echo x); [[ $a == "$b" ]]; }
same_files() { [[ -f $1 && -f $2 ]] || return 1; local a b; a=$(cat -- "$1"; echo x); b=$(cat -- "$2"; echo x); [[ $a == "$b" ]]; }
backup_of() { printf '%s/%s' "$BACKUPS" "${1//\//%}"; }
has_entry() { [[ -f $MANIFEST ]] && awk -F'\t' -v k="$1" -v p="${2:-}" '$1 == k && (p == "" || $2 == p) { f = 1 } END { exit !f }' "$MANIFEST"; }

record() {
  local line
  line=$(IFS=$'\t'; printf '%s' "$*")
  if [[ -f $MANIFEST ]] && grep -qxF -- "$line" "$MANIFEST"; then return 0; fi
  STEP="record in $MANIFEST"
  mkdir -p -- "$STATE"
  printf '%s\n' "$line" >> "$MANIFEST"
}

mkdirs() { # creates missing parents, recording each so delete removes only those
  local d=$1 missing=()
  while [[ ! -d $d ]]; do missing=("$d" ${missing[@]+"${missing[@]}"}); d=$(dirname -- "$d"); done
  for d in ${missing[@]+"${missing[@]}"}; do
    record dir "$d"
    STEP="create directory $d"
    mkdir -- "$d"
  done
}

# shellcheck disable=SC2034 # CHANGED is read by the caller (system_trust, in node-trust-steps.sh)
put() { # put <path> <whole|ctd|docker> <content>: write only if different; sets CHANGED
  local path=$1 how=$2 content=$3 bk
  DESIRED+=("$path")
  CHANGED=0
  if same "$path" "$content"; then say unchanged "$path"; return 0; fi
  if ! has_entry put "$path"; then
    if [[ -e $path ]]; then
      bk=$(backup_of "$path")
      STEP="back up $path to $bk"
      (umask 077 && mkdir -p -- "$BACKUPS")  # originals may hold registry credentials
      cp -p -- "$path" "$bk"
      record put "$path" orig "$how"
    else
      mkdirs "$(dirname -- "$path")"
      record put "$path" new "$how"
    fi
  fi
  STEP="write $path"
  emit "$content" > "$path"
  CHANGED=1
  say changed "$path"
}

need() { # need <ca|ca-fresh|containerd|docker> <reason>: kept until the action succeeds, so a failed run is retried
  STEP="record pending $1 in $RUNDIR"
  mkdir -p -- "$RUNDIR"
  printf '%s\n' "$2" > "$RUNDIR/$REGISTRY.$1"
}

settle() { # settle <name> <summary when done> <command>
  local f="$RUNDIR/$REGISTRY.$1" reason out
  [[ -e $f ]] || return 0
  reason=$(cat -- "$f")
  STEP="run $3"
  out=$(bash -c "$3" 2>&1 </dev/null) || fail "$STEP" "exit $?: $out"
  rm -f -- "$f"
  rmdir -- "$RUNDIR" 2>/dev/null || true
  printf '%s (%s)\n' "$2" "$reason"
}

undo() { # undo <kind> <path> <new|orig> <how>: sets UNDONE=1 when the entry is fully reverted
  local kind=$1 path=$2 existed=$3 how=$4 bk out src expect=''
  UNDONE=1
  if [[ $kind == dir ]]; then
    STEP="remove directory $path"
    [[ -d $path ]] || return 0
    if ! rmdir -- "$path" 2>/dev/null; then UNDONE=0; return 0; fi  # others put files in it
    say removed "$path"
    return 0
  fi
  [[ $kind == put && -e $path ]] || return 0
  bk=$(backup_of "$path")
  if [[ $existed == orig ]]; then
    [[ -f $bk ]] || { say kept "$path (its original is missing from $bk)"; return 0; }
    if same_files "$bk" "$path"; then return 0; fi
  fi
  STEP="undo $path"
  if [[ $how != whole ]]; then
    if [[ $existed == orig ]]; then src=$bk; else src=''; fi
    case $how in
      ctd) expect=$(ctd_edit "$src") ;;
      docker) expect=$(daemon_json expect "$src") || true ;;
    esac
  fi
  if [[ $how == whole ]] || same "$path" "$expect"; then
    if [[ $existed == orig ]]; then
      STEP="restore $path from $bk"; cp -p -- "$bk" "$path"; say restored "$path"
    else
      STEP="remove $path"; rm -f -- "$path"; say removed "$path"
    fi
  elif [[ $how == docker ]]; then
    # Edited since create: take out only our entries.
    STEP="remove this stack's entries from $path"
    if out=$(daemon_json remove "$path"); then emit "$out" > "$path"; say changed "$path"
    elif (($? != 3)); then fail "$STEP" "python3 could not edit it"; fi
  else
    UNDONE=0
    say kept "$path (changed since create, so not restored; the original is $bk)"
    return 0
  fi
  case $how in
    ctd) need containerd "restored $path" ;;
    docker)
      if grep -q '^insecure-registries' "$DOCKER_ENTRIES" 2>/dev/null; then need docker "restored $path"; else need reload "restored $path"; fi
      rm -f -- "$DOCKER_ENTRIES" ;;
  esac
  if [[ $path == "$CRIO_DROPIN" ]]; then need reload "removed $path"; fi
  # Plain update-ca-certificates leaves the removed cert's links in /etc/ssl/certs; --fresh rebuilds them.
  if [[ $path == "$CA_DIR"/* ]]; then need ca-fresh "removed $path"; fi
}

prune() { # undo what this run no longer wants: everything on delete
  [[ -f $MANIFEST ]] || return 0
  local lines=() kept=() line kind path existed how dropped=0
  mapfile -t lines < <(tac -- "$MANIFEST")
  for line in ${lines[@]+"${lines[@]}"}; do
    IFS=$'\t' read -r kind path existed how <<<"$line"
    if wanted "$kind" "$path"; then kept=("$line" ${kept[@]+"${kept[@]}"}); continue; fi
    undo "$kind" "$path" "${existed:-}" "${how:-}"
    if ((!UNDONE)); then kept=("$line" ${kept[@]+"${kept[@]}"}); continue; fi
    if [[ $kind == put ]]; then rm -f -- "$(backup_of "$path")"; fi
    dropped=1
  done
  ((dropped)) || return 0
  STEP="update $MANIFEST"
  if ((${#kept[@]})); then printf '%s\n' "${kept[@]}" > "$MANIFEST"; else rm -f -- "$MANIFEST"; fi
  rmdir -- "$BACKUPS" 2>/dev/null || true
}

