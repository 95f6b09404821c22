#!/usr/bin/env bash
# Node trust for a private registry, part 1 of 6: strict mode, where the state lives, the node-wide lock
# and this stack's bookkeeping. Not run on its own: components/nodes/nodeScripts.ts sends one script on stdin to
# `bash -s -- create|delete`, made of a generated header (ID, REGISTRY, NODE, CTD_CONFIG, CTD_RESTART,
# RELOAD, the opt-ins such as CLEAN_RECIPE, ca_pem and create_items for one node), this file,
# node-trust-shared.sh, node-trust-docker.sh, node-trust-hosts.sh, node-trust-recipe.sh, then
# node-trust-steps.sh. Both modes are in it because the provider replays the stored script for delete.
#
# Every file only this stack writes, or directory it creates, goes into a manifest first (record, put),
# with a backup of what was there before; prune undoes whatever the manifest holds that this run no longer
# wants, which is everything on delete. Files several stacks rely on (containerd's config_path, the
# mirror's hosts.toml, daemon.json) are counted node-wide instead (node-trust-shared.sh). Restarts wait in
# RUNDIR until they succeed (need, settle).
set -Eeuo pipefail
shopt -s inherit_errexit
umask 022
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
STATE="/etc/$ID"          # node-private; /var and /tmp may be shared
MANIFEST="$STATE/$REGISTRY.manifest"
BACKUPS="$STATE/$REGISTRY.orig"
RUNDIR="/run/$ID"         # pending restarts: a reboot clears them and restarts everything anyway
LOCK=/run/lock/private-registry.lock
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

# One run at a time per node, whichever stack it is for: the shared files are read, changed and written
# back, and two stacks applied at once (two `pulumi up` on one node) would lose each other's edits.
lock_node() {
  STEP="take the node lock $LOCK"
  mkdir -p -- "${LOCK%/*}"
  if command -v flock >/dev/null; then
    exec 8>"$LOCK"
    flock -w 600 8 || fail "$STEP" "another private-registry run on this node has held it for 10 minutes"
    return 0
  fi
  # No flock (a minimal node): a directory holding the holder's pid. A holder that died is taken over;
  # two waiters could both take over the same dead holder at the same instant, which needs that holder
  # to have been killed mid-run, and is accepted for nodes without util-linux.
  local d="$LOCK.d" pid i
  for ((i = 0; ; i++)); do
    if mkdir -- "$d" 2>/dev/null; then
      printf '%s\n' "$$" > "$d/pid"
      trap 'rm -rf -- "$LOCK.d"' EXIT
      return 0
    fi
    pid=$(cat -- "$d/pid" 2>/dev/null) || pid=''
    # an empty pid is a holder between its mkdir and its write: wait, unless that is minutes old
    if { [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; } || [[ -z $pid && -n $(find "$d" -maxdepth 0 -mmin +2 2>/dev/null) ]]; then
      rm -rf -- "$d"
      continue
    fi
    ((i < 6000)) || fail "$STEP" "another private-registry run on this node (pid ${pid:-?}) has held $d for 10 minutes"
    sleep 0.1
  done
}

# A restart command may leave a daemon running (containerd started in the background): it must not keep the
# lock's descriptor, or the node stays locked for as long as that daemon runs.
run_cmd() { bash -c "$1" 2>&1 </dev/null 8>&-; }

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

mkdirs() { # mkdirs <dir> [shared]: creates missing parents, recording each (in this stack's manifest, or node-wide)
  local d=$1 missing=()
  while [[ ! -d $d ]]; do missing=("$d" ${missing[@]+"${missing[@]}"}); d=$(dirname -- "$d"); done
  for d in ${missing[@]+"${missing[@]}"}; do
    if [[ ${2:-} == shared ]]; then shared_dir "$d"; else record dir "$d"; fi
    STEP="create directory $d"
    mkdir -- "$d"
  done
}

# shellcheck disable=SC2034 # CHANGED is read by the callers (system_trust, crio_mirror)
put() { # put <path> whole <content>: write only if different; sets CHANGED
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

need() { # need <ca|ca-fresh|ca-suse|ca-rhel|containerd|reload> <reason>: kept until the action succeeds, so a failed run is retried
  STEP="record pending $1 in $RUNDIR"
  mkdir -p -- "$RUNDIR"
  printf '%s\n' "$2" > "$RUNDIR/$REGISTRY.$1"
}

settle() { # settle <name> <summary when done> <command>
  local f="$RUNDIR/$REGISTRY.$1" reason out
  [[ -e $f ]] || return 0
  reason=$(cat -- "$f")
  STEP="run $3"
  out=$(run_cmd "$3") || fail "$STEP" "exit $?: $out"
  rm -f -- "$f"
  rmdir -- "$RUNDIR" 2>/dev/null || true
  printf '%s (%s)\n' "$2" "$reason"
}

undo() { # undo <kind> <path> <new|orig>: sets UNDONE=1 when the entry is fully reverted
  local kind=$1 path=$2 existed=$3 bk
  UNDONE=1
  if [[ $kind == dir ]]; then
    STEP="remove directory $path"
    [[ -d $path ]] || return 0
    # Others (another stack, the user) put files in it: it goes once it is empty (sweep_dirs).
    if ! rmdir -- "$path" 2>/dev/null; then shared_dir "$path"; return 0; fi
    say removed "$path"
    return 0
  fi
  [[ $kind == put && -e $path ]] || return 0
  bk=$(backup_of "$path")
  if [[ $existed == orig ]]; then
    [[ -f $bk ]] || { say kept "$path (its original is missing from $bk)"; return 0; }
    if same_files "$bk" "$path"; then return 0; fi
    STEP="restore $path from $bk"; cp -p -- "$bk" "$path"; say restored "$path"
  else
    STEP="remove $path"; rm -f -- "$path"; say removed "$path"
  fi
  if [[ $path == "$CRIO_DROPIN" ]]; then need reload "removed $path"; fi
  trust_removed "$path"
}

save_manifest() { # save_manifest [line...]: the manifest becomes exactly these lines (none: it goes)
  STEP="update $MANIFEST"
  if (($#)); then printf '%s\n' "$@" > "$MANIFEST"; else rm -f -- "$MANIFEST"; fi
  rmdir -- "$BACKUPS" 2>/dev/null || true
}

prune() { # undo what this run no longer wants: everything on delete
  [[ -f $MANIFEST ]] || return 0
  local lines=() kept=() line kind path existed dropped=0
  mapfile -t lines < <(tac -- "$MANIFEST")
  for line in ${lines[@]+"${lines[@]}"}; do
    IFS=$'\t' read -r kind path existed _ <<<"$line"
    if wanted "$kind" "$path"; then kept=("$line" ${kept[@]+"${kept[@]}"}); continue; fi
    undo "$kind" "$path" "${existed:-}"
    if ((!UNDONE)); then kept=("$line" ${kept[@]+"${kept[@]}"}); continue; fi
    if [[ $kind == put ]]; then rm -f -- "$(backup_of "$path")"; fi
    dropped=1
  done
  ((dropped)) || return 0
  save_manifest ${kept[@]+"${kept[@]}"}
}
