#!/usr/bin/env bash
# Starts a real dockerd on one live node (up.sh runs it), inside the node's network namespace, so it
# reads the node's own /etc/docker (daemon.json, certs.d) and /etc/hosts. Data, exec root, socket and
# pid file live under the node dir; no bridge, no iptables: it only pulls. Also writes reload-docker.sh,
# the SIGHUP that `systemctl reload docker` sends, which makes dockerd re-read daemon.json.
# Usage: node-dockerd.sh NODE_DIR CGROUP_PARENT
set -euo pipefail
b=$1 cg=$2
d=$b/dockerd
mkdir -p "$d"/{data,exec}
# The node's network namespace, and a mount namespace of its own that sees the node's /etc and CA folder
# (the node's own has the sysfs of `ip netns exec`, without the cgroup mounts dockerd needs).
# shellcheck disable=SC2016 # $1 and $2 expand in the inner sh
setsid nsenter -t "$(cat "$b/ns.pid")" -n -- unshare --mount --propagation slave -- sh -c '
  mount --bind "$1/etc" /etc && mount --bind "$1/local-ca" /usr/local/share/ca-certificates &&
  mount -t tmpfs -o mode=755 tmpfs /run && shift && exec "$@"' dockerd "$b" \
  dockerd --host "unix://$d/docker.sock" \
  --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
  --bridge none --iptables=false --ip-forward=false --ip-masq=false \
  --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$cg" --storage-driver overlay2 \
  </dev/null >"$d/dockerd.log" 2>&1 &
echo $! > "$d/dockerd.started.pid"
cat > "$b/reload-docker.sh" <<EOF
#!/bin/sh
# Reloads node $(basename "$b")'s dockerd configuration (SIGHUP), as systemctl reload docker does.
kill -HUP "\$(cat "$d/dockerd.pid")"
EOF
chmod 755 "$b/reload-docker.sh"
for _ in $(seq 300); do
  if DOCKER_HOST=unix://$d/docker.sock docker version >/dev/null 2>&1; then exit 0; fi
  kill -0 "$(cat "$d/dockerd.started.pid")" 2>/dev/null || break
  sleep 0.1
done
echo "node-dockerd.sh: dockerd on $(basename "$b") did not come up: $(tail -n 20 "$d/dockerd.log")" >&2
exit 1
