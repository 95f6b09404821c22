#!/usr/bin/env bash
# Four more SSH nodes (f, g, h, i at 10.213.0.7-10) for the 8-node fan-out, made exactly the way
# test/live/env/up.sh makes a, b, c, d: own netns + veth, private /etc, /usr/local/share/ca-certificates and
# /run, own sshd and host key. The prl-* names and $LIVE_DIR/nodes/<n> files are what down.sh already
# removes, so nothing here needs its own teardown. Run by bench/run.sh after up.sh, under the live lock.
# (A LIVE_EXTRA_NODES=n knob in up.sh would make this file unnecessary; see docs/BENCHMARKS.md.)
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
LIVE_DIR=${LIVE_DIR:-/tmp/pr-live}
HOST_IP=10.213.0.1
NODES=("f 10.213.0.7 docker" "g 10.213.0.8 crio" "h 10.213.0.9 docker" "i 10.213.0.10 crio")
[ -s "$LIVE_DIR/env.json" ] || { echo "extra-nodes.sh: run up.sh first" >&2; exit 1; }

node_up() { # name ip: up.sh's node_net + node_sshd
  local n=$1 ip=$2 ns=prl-$1 b=$LIVE_DIR/nodes/$1
  mkdir -p "$b"
  ip netns add "$ns"
  ip link add "$ns-h" type veth peer name eth0 netns "$ns"
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip addr add "$HOST_IP/32" dev "$ns-h"
  ip link set "$ns-h" up
  ip route add "$ip/32" dev "$ns-h" src "$HOST_IP"
  cp -a /etc "$b/etc"
  rm -f "$b/etc/ca-certificates/update.d/jks-keystore"
  cp -a /usr/local/share/ca-certificates "$b/local-ca"
  mkdir -m 700 "$b/root"
  sed -i "s|^root:\([^:]*:[^:]*:[^:]*:[^:]*\):/root:|root:\1:$b/root:|" "$b/etc/passwd"
  # shellcheck disable=SC2016 # $1 expands in the inner sh
  setsid ip netns exec "$ns" unshare --mount --propagation private -- sh -c '
    mount --bind "$1/etc" /etc && mount --bind "$1/local-ca" /usr/local/share/ca-certificates &&
    mount -t tmpfs -o mode=755 tmpfs /run && mkdir /run/sshd && touch /run/node-ready &&
    exec sleep infinity' "node-$n" "$b" </dev/null >"$b/ns.log" 2>&1 &
  echo $! > "$b/ns.pid"
  ssh-keygen -q -t ed25519 -N '' -C "node-$n" -f "$b/ssh_host_ed25519_key"
  sed -e "s|^ListenAddress .*|ListenAddress $ip:22|" -e "s|^HostKey .*|HostKey $b/ssh_host_ed25519_key|" \
    "$LIVE_DIR/nodes/a/sshd_config" > "$b/sshd_config"
  local pid
  pid=$(<"$b/ns.pid")
  for _ in $(seq 50); do [ -e "/proc/$pid/root/run/node-ready" ] && break; sleep 0.1; done
  setsid nsenter -t "$pid" -n -m -- /usr/sbin/sshd -D -e -f "$b/sshd_config" </dev/null >"$b/sshd.log" 2>&1 &
  echo $! > "$b/sshd.pid"
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/$ip/22") 2>/dev/null && return 0; sleep 0.1; done
  echo "extra-nodes.sh: sshd on node $n ($ip) did not come up: $(tail -n 5 "$b/sshd.log")" >&2
  return 1
}

pids=()
for spec in "${NODES[@]}"; do
  read -r n ip _ <<<"$spec"
  node_up "$n" "$ip" &
  pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p"; done
for spec in "${NODES[@]}"; do
  read -r n ip rt <<<"$spec"
  printf '{"name":"%s","host":"%s","port":22,"user":"root","runtime":"%s","hostKey":"%s","nodeDir":"%s"}\n' \
    "$n" "$ip" "$rt" "$(cut -d' ' -f1,2 "$LIVE_DIR/nodes/$n/ssh_host_ed25519_key.pub")" "$LIVE_DIR/nodes/$n"
done | python3 -c 'import json, sys; print(json.dumps([json.loads(l) for l in sys.stdin], indent=2))' > "$LIVE_DIR/bench-nodes.json"
echo "extra-nodes.sh: nodes f g h i up"
