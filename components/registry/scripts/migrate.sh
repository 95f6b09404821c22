#!/usr/bin/env bash
# Taking over a registry container started by hand (the manual recipe's `docker run … registry:2`), with the
# docker CLI where pulumi runs ($DOCKER_HOST is the program's dockerHost). The program runs this text as
# `bash -c <script> migrate.sh <mode>`:
#   check     at preview: one line per problem ("fail <message>"), or "ok <summary>" / "done": the old container
#             is a registry on the filesystem driver, holds images, and nothing was uploaded to it in the last
#             $QUIET_MINUTES minutes; with $KEEP_LOGIN=1 its htpasswd is readable and does not name $USERNAME.
#             "done" when it is gone and the program's container (the first of $TARGET_CONTAINERS) exists.
#             Exits 0 either way.
#   logins    prints the old container's htpasswd lines (bcrypt only), for keepLogin.
#   copy      copies the old registry's data into $TARGET (a volume name or an absolute host path) while it keeps
#             serving (nothing to copy when $TARGET is its own volume, adopted).
#   takeover  right before the new container starts: stops the old one, copies what it wrote since, and checks
#             that every file arrived; a failure starts it again. Nothing to do once it is gone.
#   restore   the program's new container could not start: stop $TARGET_CONTAINERS, start the old one again.
#   retire    the program's registry is healthy: remove the old container (its volume stays).
set -Eeuo pipefail
mode=${1:?usage: migrate.sh check|logins|copy|takeover|restore|retire}
: "${FROM:?}" "${QUIET_MINUTES:=2}"
KEY="private-registry:migrate.fromContainer"
HOST_DESC=${DOCKER_HOST:-the default docker engine}
REPOS=docker/registry/v2/repositories

die() { printf '%s: %s\n' "$KEY" "$*" >&2; exit 1; }
command -v docker >/dev/null || die "the docker CLI is needed where pulumi runs to migrate a container (DOCKER_HOST is set to private-registry:dockerHost)"

# inspect <format>: the old container's field; fails when it does not exist
inspect() { docker inspect --type container --format "$1" "$FROM" 2>/dev/null; }

# Sets IMAGE, ROOT (the registry's data directory inside it), MOUNT (the volume or host path mounted there),
# MOUNT_TYPE, HTPASSWD (its htpasswd path or ""), RUNNING; or prints why it cannot be taken over.
describe() {
  local envs storage
  IMAGE=$(inspect '{{.Image}}') || return 1
  RUNNING=$(inspect '{{.State.Running}}')
  envs=$(inspect '{{range .Config.Env}}{{println .}}{{end}}')
  env_of() { awk -v k="$1" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' <<<"$envs"; }
  storage=$(env_of REGISTRY_STORAGE)
  ROOT=$(env_of REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY)
  ROOT=${ROOT:-/var/lib/registry}
  HTPASSWD=$(env_of REGISTRY_AUTH_HTPASSWD_PATH)
  PROBLEM='' MOUNT='' MOUNT_TYPE=''
  if ! docker run --rm --entrypoint registry "$IMAGE" --version >/dev/null 2>&1; then
    PROBLEM="container $FROM on $HOST_DESC is not a registry (its image has no working \`registry\` command)"
    return 0
  fi
  if [[ -n $storage && $storage != filesystem ]]; then
    PROBLEM="container $FROM stores its data with the $storage driver; only the filesystem driver is taken over"
    return 0
  fi
  IFS=$'\t' read -r MOUNT_TYPE MOUNT < <(docker inspect --type container --format \
    '{{range .Mounts}}{{.Destination}}{{"\t"}}{{.Type}}{{"\t"}}{{if eq .Type "volume"}}{{.Name}}{{else}}{{.Source}}{{end}}{{println}}{{end}}' "$FROM" |
    awk -F'\t' -v d="$ROOT" '$1 == d { print $2 "\t" $3; exit }') || true
  if [[ -z ${MOUNT:-} ]]; then
    PROBLEM="container $FROM keeps $ROOT in its own writable layer, not on a volume; copy it out first (docker cp $FROM:$ROOT <dir>) and run it with that directory mounted"
  fi
}

# helper <args…>: a throwaway container of the old image that sees the old data read-only at $ROOT
helper() { docker run --rm --network none --volumes-from "$FROM:ro" --entrypoint sh "$IMAGE" "$@"; }

# the old htpasswd's lines, read through the docker API (works on a stopped container too)
old_logins() {
  [[ -n $HTPASSWD ]] || die "container $FROM has no htpasswd login (REGISTRY_AUTH_HTPASSWD_PATH is not set): turn private-registry:migrate.keepLogin off"
  docker cp "$FROM:$HTPASSWD" - 2>/dev/null | tar -xO 2>/dev/null | awk 'NF' ||
    die "cannot read $HTPASSWD from container $FROM"
}

check_logins() { # prints problems with the old logins for keepLogin
  local lines users
  lines=$(old_logins 2>&1) || { echo "fail $lines"; return 0; }
  # shellcheck disable=SC2016 # a literal $ in the pattern
  if grep -qv '^[^:[:space:]]\+:\$2[aby]\$' <<<"$lines"; then
    echo "fail private-registry:migrate.keepLogin: $HTPASSWD in container $FROM has lines that are not bcrypt (the registry accepts bcrypt only)"
  fi
  users=$(cut -d: -f1 <<<"$lines" | paste -sd, -)
  if [[ ,$users, == *",$USERNAME,"* ]]; then
    echo "fail private-registry:migrate.keepLogin: the recipe's login '$USERNAME' has the same name as private-registry:username; set another private-registry:username (the recipe's password keeps working under its name), or turn keepLogin off"
  fi
}

# what is in the old registry: "<repositories> <uploads written in the last QUIET_MINUTES minutes>"
contents() {
  # shellcheck disable=SC2016 # expanded by the helper's sh
  helper -c 'cd "$1" 2>/dev/null || { echo "0 0"; exit 0; }
    r=$(ls "$2" 2>/dev/null | wc -l)
    u=$(find "$2" -path "*/_uploads/*" -mmin "-$3" 2>/dev/null | wc -l)
    echo "$r $u"' sh "$ROOT" "$REPOS" "$QUIET_MINUTES"
}

check() {
  if ! inspect '{{.Id}}' >/dev/null; then
    local first=${TARGET_CONTAINERS:-}
    first=${first%% *}
    if [[ -n $first ]] && docker inspect --type container "$first" >/dev/null 2>&1; then echo "done"; return 0; fi
    echo "fail $KEY: no container named $FROM on $HOST_DESC (docker ps -a lists the containers there)"
    return 0
  fi
  describe
  if [[ -n $PROBLEM ]]; then echo "fail $KEY: $PROBLEM"; return 0; fi
  local repos uploads
  read -r repos uploads < <(contents)
  local problems
  problems=$(
    if ((repos == 0)); then echo "fail $KEY: container $FROM holds no images ($ROOT/$REPOS is empty): nothing to migrate; remove private-registry:migrate"; fi
    if ((uploads > 0)); then echo "fail $KEY: container $FROM is still being written to ($uploads upload files changed in the last $QUIET_MINUTES minutes); stop the pushes and run again"; fi
    if [[ ${KEEP_LOGIN:-0} == 1 ]]; then check_logins; fi
  )
  if [[ -n $problems ]]; then echo "$problems"; return 0; fi
  echo "ok $FROM: $repos repositories in $MOUNT_TYPE $MOUNT"
}

# the helper container that copies: old data read-only at $ROOT, the target at /to
copier() {
  local to=(-v "$TARGET:/to")
  docker run --rm --network none --volumes-from "$FROM:ro" "${to[@]}" --entrypoint sh "$IMAGE" "$@"
}

adopted() { [[ $MOUNT_TYPE == volume && $MOUNT == "$TARGET" ]]; }

# The mark is touched before each copy: what the old registry writes afterwards is newer, and the next pass
# takes just that. Then every file of the old tree must be in the new one, with its size.
# shellcheck disable=SC2016 # expanded by the helper's sh
SYNC='set -e; cd "$1"
  if [ -e /to/.private-registry-copy ]; then
    touch -r /to/.private-registry-copy /tmp/mark; touch /to/.private-registry-copy
    find . -newer /tmp/mark ! -type d | while IFS= read -r f; do mkdir -p "/to/${f%/*}"; cp -a "$f" "/to/$f"; done
  else
    touch /to/.private-registry-copy; cp -a ./. /to/
  fi
  find . -type f -exec stat -c "%s %n" {} + | sort > /tmp/from
  (cd /to && find . -type f -exec stat -c "%s %n" {} + | sort) > /tmp/to
  missing=$(comm -23 /tmp/from /tmp/to | wc -l)
  if [ "$missing" != 0 ]; then echo "$missing files differ after the copy" >&2; exit 1; fi
  echo "$(wc -l < /tmp/from) files, $(du -sk . | cut -f1) KiB"'

# copy: the first pass, while the old registry keeps serving
copy() {
  : "${TARGET:?}"
  describe || die "no container named $FROM on $HOST_DESC"
  [[ -z $PROBLEM ]] || die "$PROBLEM"
  local repos uploads summary
  read -r repos uploads < <(contents)
  ((repos > 0)) || die "container $FROM holds no images"
  ((uploads == 0)) || die "container $FROM is still being written to ($uploads upload files changed in the last $QUIET_MINUTES minutes)"
  if adopted; then echo "adopted: volume $TARGET of container $FROM (no copy)"; return 0; fi
  summary=$(copier -c "$SYNC" sh "$ROOT") || die "copying $ROOT of $FROM into $TARGET failed"
  echo "copied: $summary from $MOUNT_TYPE $MOUNT of container $FROM into $TARGET"
}

# takeover: right before the new container starts (each time it is created): the old one stops, what it
# wrote since the copy follows; any failure starts it again
takeover() {
  if ! inspect '{{.Id}}' >/dev/null; then return 0; fi
  describe
  [[ -z $PROBLEM ]] || die "$PROBLEM"
  local stopped=0 summary=''
  restart_old() { if ((stopped)); then docker start "$FROM" >/dev/null 2>&1 && echo "started container $FROM again" >&2; fi; }
  trap 'restart_old' ERR
  if [[ $RUNNING == true ]]; then
    docker stop --time 30 "$FROM" >/dev/null
    stopped=1
  fi
  if ! adopted; then summary=$(copier -c "$SYNC" sh "$ROOT") || die "the copy of $FROM's data into $TARGET is incomplete"; fi
  trap - ERR
  echo "stopped: container $FROM${summary:+; $TARGET holds its $summary}"
}

case $mode in
  check) check ;;
  logins)
    inspect '{{.Id}}' >/dev/null || die "no container named $FROM on $HOST_DESC"
    describe
    old_logins ;;
  copy) copy ;;
  takeover) takeover ;;
  restore)
    if ! inspect '{{.Id}}' >/dev/null; then echo "nothing to restore: container $FROM is gone"; exit 0; fi
    if [[ $(inspect '{{.State.Running}}') == true ]]; then echo "container $FROM is running"; exit 0; fi
    for c in ${TARGET_CONTAINERS:-}; do docker stop --time 5 "$c" >/dev/null 2>&1 || true; done
    docker start "$FROM" >/dev/null
    echo "started: container $FROM again" ;;
  retire)
    if ! inspect '{{.Id}}' >/dev/null; then echo "removed: container $FROM (it was gone already)"; exit 0; fi
    describe || true
    docker rm --force "$FROM" >/dev/null
    if [[ ${MOUNT_TYPE:-} == volume && ${MOUNT:-} != "${TARGET:-}" ]]; then
      echo "removed: container $FROM; its data stays in volume $MOUNT until you delete it (docker volume rm $MOUNT)"
    else
      echo "removed: container $FROM"
    fi ;;
  *) die "unknown mode $mode" ;;
esac
