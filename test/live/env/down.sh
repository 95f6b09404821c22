#!/usr/bin/env bash
# Tears down what up.sh built under $LIVE_DIR (default /tmp/pr-live); idempotent, and works after a partial
# or failed up.sh. It touches only what up.sh creates: processes recorded under (or started with paths in)
# $LIVE_DIR, processes inside the prl-* network namespaces, the prl-* namespaces and links, and mounts
# under $LIVE_DIR.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
LIVE_DIR=${LIVE_DIR:-/tmp/pr-live}
LIVE_DIR=${LIVE_DIR%/}
PREFIX=prl   # netns prl-<node>, veths prl-<node>-h, bridge prl-br0
CGROUP=pr-live   # the suite dockerd's --cgroup-parent
D=$LIVE_DIR/docker
DOCKER_SOCK=$LIVE_DIR/docker.sock

T0=$(date +%s%N)
die() { echo "down.sh: ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
case "$LIVE_DIR" in /?*/?*) ;; *) die "LIVE_DIR must be an absolute path at least two levels deep: '$LIVE_DIR'" ;; esac

# A zombie has done its work (PID 1 here may never reap it); only a running process counts as alive.
# Fork-free, since on a loaded machine a fork per check per 0.1 s adds up to many seconds.
alive() {
  local st
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# Sends TERM to the given PIDs, waits up to WAIT seconds, then KILLs what is left.
stop_pids() { # wait pid...
  local end=$((SECONDS + $1)) p left
  shift
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  while ((SECONDS < end)); do
    left=()
    for p in "$@"; do if alive "$p"; then left+=("$p"); fi; done
    [ ${#left[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  echo "down.sh: killing unresponsive PIDs: ${left[*]}" >&2
  kill -9 "${left[@]}" 2>/dev/null || true
  sleep 0.2
}

pidfile_pid() { # file comm-regex: the PID in FILE if that process is still one of ours
  local p
  [ -s "$1" ] && p=$(<"$1") && [[ $p =~ ^[0-9]+$ ]] && alive "$p" && [[ $(cat "/proc/$p/comm" 2>/dev/null) =~ $2 ]] &&
    echo "$p"
  return 0
}

# ---- the suite's containers first, so dockerd's shutdown is quick and leaves no shims or proxies -----------
dpid=$(pidfile_pid "$D/dockerd.started.pid" '^dockerd$')
[ -n "$dpid" ] || dpid=$(pidfile_pid "$D/dockerd.pid" '^dockerd$')
if [ -n "$dpid" ]; then
  if ids=$(timeout 20 docker -H "unix://$DOCKER_SOCK" ps -aq 2>/dev/null) && [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # one ID per word
    timeout 60 docker -H "unix://$DOCKER_SOCK" rm -f -v $ids >/dev/null ||
      echo "down.sh: removing containers failed" >&2
  fi
fi

# ---- dockerd, and node processes: everything inside our namespaces, plus recorded PIDs --------------------
# The prl-* names are ours unless up.sh's bridge says they belong to an environment under another LIVE_DIR.
ours=true
owner=$(ip -o link show "$PREFIX-br0" 2>/dev/null | sed -n 's/.* alias //p') || true
if [ -n "$owner" ] && [ "$owner" != "$LIVE_DIR" ]; then
  echo "down.sh: $PREFIX-* belong to the environment under $owner; leaving them" >&2
  ours=false
fi
netns=()
if $ours; then mapfile -t netns < <(ip netns list | awk -v p="^$PREFIX-" '$1 ~ p {print $1}'); fi
pids=()
for ns in "${netns[@]}"; do mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null); done
for b in "$LIVE_DIR"/nodes/*/; do
  for f in ns.pid sshd.pid containerd/containerd.pid; do
    p=$(pidfile_pid "$b$f" '^(sleep|sshd|containerd)$')
    if [ -n "$p" ]; then pids+=("$p"); fi
  done
done
# All at once, since dockerd and containerd each take about a second to exit.
if [ -n "$dpid" ]; then pids+=("$dpid"); fi
stop_pids 30 "${pids[@]}"

# ---- leftovers of a dockerd that died hard: its containerd, shims, proxies and container processes ---------
pids=()
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  [ "$p" != $$ ] || continue
  read -r comm 2>/dev/null <"/proc/$p/comm" || continue
  case "$comm" in
    dockerd | containerd | containerd-shim* | sshd | runc) [[ $(cmdline "$p") == *"$LIVE_DIR/"* ]] && pids+=("$p") ;;
    docker-proxy) $ours && [[ $(cmdline "$p") == *"-container-ip 10.213.0."* ]] && pids+=("$p") ;;
    *)
      cg=
      read -r -d '' cg 2>/dev/null <"/proc/$p/cgroup" || true
      if $ours && [[ $cg == *":/$CGROUP/"* ]]; then pids+=("$p"); fi ;;
  esac
done
if [ ${#pids[@]} -gt 0 ]; then
  echo "down.sh: stopping leftover processes: ${pids[*]}" >&2
  stop_pids 3 "${pids[@]}"   # a container's PID 1 ignores TERM
fi

# Empty cgroups docker leaves under its cgroup parent (all controllers, cgroup v1 or v2), deepest first.
if $ours; then
  for d in /sys/fs/cgroup/"$CGROUP" /sys/fs/cgroup/*/"$CGROUP"; do
    [ -d "$d" ] || continue
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || echo "down.sh: cannot remove cgroup $d" >&2
  done
fi

# ---- network: deleting a veth end deletes the pair and the routes via it ------------------------------------
if $ours; then
  for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^$PREFIX-"); do
    ip link del "$l" || echo "down.sh: ip link del $l failed" >&2
  done
fi
for ns in "${netns[@]}"; do ip netns del "$ns" || echo "down.sh: ip netns del $ns failed" >&2; done
if [ -e "$LIVE_DIR/run-netns.created" ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
  umount /run/netns 2>/dev/null || true
  rmdir /run/netns 2>/dev/null || true
fi

# ---- mounts under $LIVE_DIR: none expected (dockerd and nodes mount in their own namespaces); a safeguard -----
mounts_under() { awk -v d="$LIVE_DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo; }
umount_all() {
  local m
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done < <(mounts_under | sort -r)
}
if [ -d "$LIVE_DIR" ]; then
  umount_all
  remaining=$(mounts_under)
  [ -z "$remaining" ] || die "mounts remain under $LIVE_DIR, not removing it: $remaining"
  rm -rf --one-file-system "$LIVE_DIR"
fi
printf 'down.sh: done in %.2fs\n' "$(( $(date +%s%N) - T0 ))e-9"
