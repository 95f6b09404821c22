#!/usr/bin/env bash
# Sets up containerd on one live node (up.sh runs it): a config.toml in the node's private /etc with every
# path under the node dir (/var is shared with the host), and restart-containerd.sh, which (re)starts it
# inside the node's namespaces, from the host or from an SSH session on the node.
# Usage: node-containerd.sh NODE_DIR preset|absent [BIN_DIR]
#   preset: the CRI registry config_path is already set; absent: it is not (the program must enable it)
#   BIN_DIR: a containerd 2.x build (config version 3); without it, Debian's containerd 1.6 (version 2)
set -euo pipefail
b=$1 mode=$2 bin=${3:-}
c=$b/containerd
n=$(basename "$b")
mkdir -p "$c"/{root,state,opt} "$b/etc/containerd"
if [ -z "$bin" ]; then
  registry=
  [ "$mode" != preset ] || registry='
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"'
  # Debian's default config.toml, with every path moved under the node dir.
  cat > "$b/etc/containerd/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"

[grpc]
  address = "$c/containerd.sock"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"$registry
  [plugins."io.containerd.internal.v1.opt"]
    path = "$c/opt"
EOF
  containerd=containerd ctr=ctr
else
  [ "$mode" = absent ] || { echo "node-containerd.sh: a 2.x node starts without config_path" >&2; exit 1; }
  # containerd 2.x's own layout (version 3, the CRI image settings under io.containerd.cri.v1.images) and
  # no config_path: 2.x then defaults to a colon list that its CRI pulls ignore
  cat > "$b/etc/containerd/config.toml" <<EOF
version = 3
root = "$c/root"
state = "$c/state"

[grpc]
  address = "$c/containerd.sock"

[plugins.'io.containerd.internal.v1.opt']
  path = "$c/opt"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
EOF
  containerd=$bin/containerd ctr=$bin/ctr
fi
# The flags repeat the paths so a rewritten config.toml cannot move state onto the host.
cat > "$b/restart-containerd.sh" <<EOF
#!/usr/bin/env bash
# Restarts node $n's containerd inside the node's network + mount namespaces (written by node-containerd.sh).
set -euo pipefail
C=$c
ns_pid=\$(cat "$b/ns.pid")
ours() { [ -r "/proc/\$1/cmdline" ] && tr '\\0' ' ' <"/proc/\$1/cmdline" | grep -q -- "--root \$C/root"; }
if [ -s "\$C/containerd.pid" ] && old=\$(cat "\$C/containerd.pid") && ours "\$old"; then
  kill "\$old"
  for _ in \$(seq 150); do ours "\$old" || break; sleep 0.1; done
  if ours "\$old"; then kill -9 "\$old"; sleep 0.2; fi
fi
rm -f "\$C/containerd.sock"
setsid nsenter -t "\$ns_pid" -n -m -- $containerd -c /etc/containerd/config.toml \\
  --root "\$C/root" --state "\$C/state" --address "\$C/containerd.sock" </dev/null >>"\$C/containerd.log" 2>&1 &
pid=\$!
echo "\$pid" > "\$C/containerd.pid"
for _ in \$(seq 200); do
  if $ctr -a "\$C/containerd.sock" version >/dev/null 2>&1; then
    echo "containerd on node $n running (pid \$pid)"
    exit 0
  fi
  kill -0 "\$pid" 2>/dev/null || break
  sleep 0.1
done
echo "restart-containerd.sh: containerd on node $n did not come up; last lines of \$C/containerd.log:" >&2
tail -n 20 "\$C/containerd.log" >&2
exit 1
EOF
chmod 755 "$b/restart-containerd.sh"
printf '%s\n' "$ctr" > "$b/ctr-path"
