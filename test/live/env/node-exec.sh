#!/usr/bin/env bash
# Usage: node-exec.sh NAME CMD [ARG...]
# Runs CMD as root inside node NAME's network + mount namespaces, without SSH, so tests can read or change a
# node's private /etc. Output and exit status are CMD's; 125 means the node itself could not be entered.
set -euo pipefail
LIVE_DIR=${LIVE_DIR:-/tmp/pr-live}
fail() { echo "node-exec.sh: $*" >&2; exit 125; }
[ $# -ge 2 ] || fail "usage: node-exec.sh NAME CMD [ARG...]"
name=$1
shift
pidfile=$LIVE_DIR/nodes/$name/ns.pid
[ -s "$pidfile" ] || fail "no node '$name' under $LIVE_DIR/nodes (is the environment up?)"
pid=$(<"$pidfile")
[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] || fail "node '$name': its namespace holder (pid $pid) is gone"
exec nsenter -t "$pid" -n -m -- "$@"
