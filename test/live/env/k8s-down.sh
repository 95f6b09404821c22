#!/usr/bin/env bash
# Stops what k8s-up.sh started under $K8S_DIR (default /tmp/pr-k8s) and removes its data. Idempotent.
set -uo pipefail
K8S_DIR=${K8S_DIR:-/tmp/pr-k8s}
K8S_DIR=${K8S_DIR%/}
case "$K8S_DIR" in /?*/?*) ;; *) echo "k8s-down.sh: K8S_DIR must be an absolute path at least two levels deep" >&2; exit 1 ;; esac
[ -d "$K8S_DIR" ] || exit 0
# the pods' processes first: their command lines do not name K8S_DIR
sock=$K8S_DIR/containerd/containerd.sock
if [ -S "$sock" ] && [ -s "$K8S_DIR/bin.path" ]; then
  ctr=$(cat "$K8S_DIR/bin.path")/ctr
  for t in $("$ctr" -a "$sock" -n k8s.io tasks ls -q 2>/dev/null); do "$ctr" -a "$sock" -n k8s.io tasks kill -s KILL "$t" 2>/dev/null || true; done
fi
# every process started with a path under K8S_DIR (the node's containerd, shims and pods included)
ours() { for p in /proc/[0-9]*; do tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q -- "$K8S_DIR" && echo "${p#/proc/}"; done; }
for sig in TERM KILL; do
  pids=$(ours | grep -vx "$$" || true)
  [ -n "$pids" ] || break
  # shellcheck disable=SC2086 # one pid per word
  kill -s "$sig" $pids 2>/dev/null || true
  for _ in $(seq 50); do ours | grep -qvx "$$" || break; sleep 0.1; done
done
# mounts the kubelet and containerd made under K8S_DIR (pod volumes, rootfs)
grep -o " $K8S_DIR/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
rm -rf "$K8S_DIR"
echo "k8s-down.sh: removed $K8S_DIR"
