#!/usr/bin/env bash
# Stops the S3 store s3-up.sh started under $S3_DIR (default /tmp/pr-live-s3) and removes its data, keys
# and certificates; safe to run twice, and after a partial s3-up.sh. Only the process recorded in
# $S3_DIR/versitygw.pid is stopped, and only while it is a versitygw serving that directory.
set -euo pipefail
S3_DIR=${S3_DIR:-/tmp/pr-live-s3}
S3_DIR=${S3_DIR%/}
die() { echo "s3-down.sh: ERROR: $*" >&2; exit 1; }
case "$S3_DIR" in /?*/?*) ;; *) die "S3_DIR must be an absolute path at least two levels deep: '$S3_DIR'" ;; esac

alive() { # a running process (a zombie has done its work)
  local st
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}
pid=
if [ -s "$S3_DIR/versitygw.pid" ]; then pid=$(<"$S3_DIR/versitygw.pid"); fi
if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = versitygw ] &&
   [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *" $S3_DIR/data"* ]]; then
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "s3-down.sh: killing unresponsive versitygw $pid" >&2
    kill -9 "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  echo "s3-down.sh: stopped versitygw $pid" >&2
fi
rm -rf --one-file-system "$S3_DIR"
