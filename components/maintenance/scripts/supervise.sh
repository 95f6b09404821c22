#!/bin/sh
# PID 1 of a writer registry with maintenance configured. It runs the registry as the image would,
# except while a maintenance window is open: then the registry is stopped (the front answers pushes
# with 503 and clients retry) and the runner may collect garbage. The window is the epoch in
# .maintenance/readonly-until beside the data; once it has passed (the runner closed it, or died and
# stopped extending it) the registry starts again, a fresh process with an empty cache. What it is doing
# goes to .maintenance/state/<hostname> as "<stopped|rw> <epoch>", which the runner waits for.
# With MAINT_URL (cluster mode: no shared folder on an object store), the window and the state travel
# as one GET of $MAINT_URL/window?writer=<hostname>&state=<state> per second instead; a runner that
# cannot be reached leaves the last deadline it gave in force, so pushes resume by then. (`timeout`,
# not wget -T: the static busybox of some images crashes on -T.)
set -u
root=${MAINT_ROOT:-/var/lib/registry}
flag=$root/.maintenance/readonly-until
state=$root/.maintenance/state/$(hostname)
health=http://${REGISTRY_HTTP_DEBUG_ADDR:-127.0.0.1:5001}/debug/health
cfg=/etc/distribution/config.yml
[ -f "$cfg" ] || cfg=/etc/docker/registry/config.yml
pid=""
cur=starting
until_http=0

say() { echo "supervise: $*" >&2; }
report() {
  cur=$1
  [ -n "${MAINT_URL:-}" ] && return 0
  mkdir -p "${state%/*}" && echo "$1 $(date +%s)" > "$state.tmp" && mv -f "$state.tmp" "$state"
}
in_window() {
  if [ -n "${MAINT_URL:-}" ]; then
    got=$(timeout 3 wget -q -O - "$MAINT_URL/window?writer=$(hostname)&state=$cur" 2>/dev/null) &&
      case $got in '' | *[!0-9]*) ;; *) until_http=$got ;; esac
    until=$until_http
  else
    until=$(cat "$flag" 2>/dev/null) || return 1
  fi
  case $until in '' | *[!0-9]*) return 1 ;; esac
  [ "$until" -gt "$(date +%s)" ]
}
alive() {
  [ -n "$pid" ] || return 1
  s=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$s" ] && [ "$s" != Z ]
}
stop() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    pid=""
cur=starting
until_http=0
  fi
}
start() {
  registry serve "$cfg" &
  pid=$!
  i=0
  while [ $i -lt 120 ]; do
    alive || { wait "$pid"; code=$?; say "the registry exited ($code) while starting"; exit "$code"; }
    wget -q -O /dev/null "$health" 2>/dev/null && { report rw; return; }
    i=$((i + 1))
    sleep 0.5
  done
  say "the registry did not answer $health within 60 s"
  stop
  exit 1
}

trap 'stop; exit 0' TERM INT
while :; do
  if in_window; then
    if [ -n "$pid" ]; then say "maintenance window open: stopping the registry"; stop; fi
    report stopped
  elif [ -z "$pid" ]; then
    start
    say "the registry serves (pid $pid)"
  elif ! alive; then
    wait "$pid"
    code=$?
    say "the registry exited ($code)"
    exit "$code"
  fi
  sleep 1 &
  wait $!
done
