#!/usr/bin/env bash
# Stops what k8s-up.sh started under $K8S_DIR (default /tmp/pr-k8s) and removes what it made: the
# processes (control plane, node, pods), the node's network namespace, its veth with the host routes
# via it, the containers' cgroups (containerd's default /k8s.io/<id>), and $K8S_DIR. The namespace and
# veth are removed only when the veth is marked with this K8S_DIR (or the namespace is left without
# one). Idempotent.
set -uo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
K8S_DIR=${K8S_DIR:-/tmp/pr-k8s}
K8S_DIR=${K8S_DIR%/}
NETNS=prk8s VETH=prk8s-h   # as in k8s-up.sh
case "$K8S_DIR" in /?*/?*) ;; *) echo "k8s-down.sh: K8S_DIR must be an absolute path at least two levels deep" >&2; exit 1 ;; esac

ours=false
if owner=$(ip -o link show "$VETH" 2>/dev/null); then
  [ "${owner##* alias }" != "$K8S_DIR" ] || ours=true
elif ip netns list 2>/dev/null | cut -d' ' -f1 | grep -qx "$NETNS"; then
  ours=true   # a namespace whose veth is gone: nobody else's
fi
if ! $ours && [ -n "${owner:-}" ]; then echo "k8s-down.sh: $VETH belongs to ${owner##* alias }; leaving the node network" >&2; fi
[ -d "$K8S_DIR" ] || $ours || exit 0

# the containers this cluster's containerd ran (its state dir names them): their processes and cgroups
declare -A ids=()
if [ -d "$K8S_DIR/containerd/state" ]; then
  while read -r id; do ids[$id]=1; done < <(find "$K8S_DIR/containerd/state" -maxdepth 3 -regextype egrep -regex '.*/[0-9a-f]{64}' -printf '%f\n')
fi
# the pods' processes first, while their containerd still answers
sock=$K8S_DIR/containerd/containerd.sock
if [ -S "$sock" ] && [ -s "$K8S_DIR/bin.path" ]; then
  ctr=$(cat "$K8S_DIR/bin.path")/ctr
  for t in $(timeout 5 "$ctr" -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
    timeout 5 "$ctr" -a "$sock" -n k8s.io tasks kill -s KILL "$t" 2>/dev/null || true
  done
fi
# every process started with a path under K8S_DIR (control plane, the node's containerd, kubelet, shims
# and kube-proxy), in those containers' cgroups, or in the node's network namespace
ours_pids() { # (builtins only: it scans every process, several times)
  local p cg id args
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" != $$ ] || continue
    mapfile -d '' args 2>/dev/null < "$p/cmdline" || continue
    if [[ "${args[*]}" == *"$K8S_DIR/"* ]]; then echo "${p#/proc/}"; continue; fi
    [ ${#ids[@]} -gt 0 ] && read -r cg 2>/dev/null < "$p/cgroup" || continue
    id=${cg##*/}
    if [ -n "$id" ] && [ -n "${ids[$id]:-}" ]; then echo "${p#/proc/}"; fi
  done
  if $ours; then ip netns pids "$NETNS" 2>/dev/null; fi
}
for sig in TERM KILL; do
  pids=$(ours_pids | sort -u)
  [ -n "$pids" ] || break
  # shellcheck disable=SC2086 # one pid per word
  kill -s "$sig" $pids 2>/dev/null || true
  for _ in $(seq 30); do [ -n "$(ours_pids)" ] || break; sleep 0.1; done
done
# mounts under K8S_DIR on the host (the node's own are gone with its mount namespace): a safeguard
grep -o " $K8S_DIR/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done

if $ours; then
  # deleting the veth deletes its peer and the routes via it
  ip link del "$VETH" 2>/dev/null || true
  ip netns del "$NETNS" 2>/dev/null || true
fi
for id in "${!ids[@]}"; do
  for d in /sys/fs/cgroup/*/k8s.io/"$id" /sys/fs/cgroup/k8s.io/"$id"; do
    [ ! -d "$d" ] || rmdir "$d" 2>/dev/null || echo "k8s-down.sh: cannot remove cgroup $d" >&2
  done
done
# ip netns made /run/netns for k8s-up.sh: gone again once nothing else uses it
if [ -e "$K8S_DIR/run-netns.created" ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
  umount /run/netns 2>/dev/null || true
  rmdir /run/netns 2>/dev/null || true
fi
rm -rf --one-file-system "$K8S_DIR"
echo "k8s-down.sh: removed $K8S_DIR"
