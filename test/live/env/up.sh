#!/usr/bin/env bash
# Builds the live test environment from scratch under $LIVE_DIR (default /tmp/pr-live), then writes
# $LIVE_DIR/env.json: the suite's own dockerd with locally built images (no registry is reachable), and
# SSH "nodes", each a network + mount namespace with private /etc, /usr/local/share/ca-certificates and /run.
# Needs root and the packages from install.sh. down.sh undoes all of it.
set -Eeuo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LIVE_DIR=${LIVE_DIR:-/tmp/pr-live}
LIVE_DIR=${LIVE_DIR%/}
export LIVE_DIR

# Every name and address here is ours alone; down.sh relies on the same ones.
PREFIX=prl                        # netns prl-<node>, host-side veth prl-<node>-h
HOST_IP=10.213.0.1                # host end of every node veth
BRIDGE=prl-br0                    # own bridge, so a system dockerd's docker0 is never touched
BRIDGE_CIDR=10.213.0.129/26       # containers on the default bridge: 10.213.0.130-190
ADDR_POOL=10.213.0.192/26         # user-defined docker networks, /29 each
CGROUP=pr-live                    # containers' cgroup parent, instead of the /docker another dockerd uses
REGISTRY_IMAGE=localhost/registry:2.8.2-local   # Debian's docker-registry
REGISTRY3_IMAGE=localhost/registry:3.1.2-local  # distribution v3, test/engine/build.sh registry
FRONT_IMAGE=localhost/nginx:1.22.1-local        # Debian's nginx
NODE_IMAGE=localhost/node:20-local              # this machine's node
TEST_IMAGE=localhost/lt-busybox:1
LAYERS_IMAGE=localhost/lt-layers:1
LAYER_COUNT=22
# name ip runtime user
NODES=("a 10.213.0.2 docker root" "b 10.213.0.3 containerd root" "c 10.213.0.4 crio prnode"
       "d 10.213.0.5 containerd root" "ctd2 10.213.0.40 containerd root")   # ctd2: containerd 2.x
UNREACHABLE=(e 10.213.0.6)        # namespace up, nothing listening: connection refused
# More plain root nodes (f, g, ... at 10.213.0.7 and up; docker and crio in turn), for the fan-out benchmark.
EXTRA_NODES=${LIVE_EXTRA_NODES:-0}
[[ $EXTRA_NODES =~ ^[0-9]+$ ]] && ((EXTRA_NODES <= 20)) || { echo "up.sh: LIVE_EXTRA_NODES must be 0-20" >&2; exit 1; }
for ((i = 0; i < EXTRA_NODES; i++)); do
  NODES+=("$(printf "\\x$(printf %x $((102 + i)))") 10.213.0.$((7 + i)) $( ((i % 2)) && echo crio || echo docker) root")
done
PRNODE_UID=2213                   # node c's non-root user; exists only in node c's /etc

D=$LIVE_DIR/docker
DOCKER_SOCK=$LIVE_DIR/docker.sock
export DOCKER_HOST=unix://$DOCKER_SOCK DOCKER_CONFIG=$LIVE_DIR/docker-cli DOCKER_BUILDKIT=0

T0=$(date +%s%N)
step() { printf 'up.sh: [%6.2fs] %s\n' "$(( $(date +%s%N) - T0 ))e-9" "$*"; }
die() { echo "up.sh: ERROR: $*" >&2; exit 1; }
trap 'echo "up.sh: FAILED at line $LINENO: $BASH_COMMAND (logs under $LIVE_DIR; down.sh cleans up)" >&2' ERR

# wait_for T CMD...: polls CMD every 0.1 s for up to T seconds; returns 1 on timeout.
wait_for() { local end=$((SECONDS + $1)); shift; until "$@"; do ((SECONDS < end)) || return 1; sleep 0.1; done; }
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "must run as root"
case "$LIVE_DIR" in /?*/?*) ;; *) die "LIVE_DIR must be an absolute path at least two levels deep: '$LIVE_DIR'" ;; esac
for c in dockerd docker docker-registry busybox containerd ctr sshd ssh-keygen nsenter unshare setsid ip python3; do
  command -v "$c" >/dev/null || die "'$c' not found; run $HERE/install.sh"
done
BUSYBOX=$(command -v busybox)
PYTHON=$(command -v /usr/bin/python3 python3 | head -n1)   # Debian's, not a slower pyenv shim
! ldd "$BUSYBOX" >/dev/null 2>&1 || die "$BUSYBOX is dynamically linked; install busybox-static"

step "cleaning up any previous environment"
"$HERE/down.sh" >/dev/null || die "down.sh failed; see its output above"
# Names and addresses are fixed, so only one environment can be up per machine.
if owner=$(ip -o link show "$BRIDGE" 2>/dev/null); then
  die "another live environment owns $BRIDGE (${owner##* alias }); run LIVE_DIR=<that dir> $HERE/down.sh first"
fi
mkdir -p "$LIVE_DIR" "$D"/{data,exec} "$DOCKER_CONFIG" "$LIVE_DIR"/{ssh,nodes,build}
# Node c's non-root user reads authorized_keys under $LIVE_DIR.
chmod 755 "$LIVE_DIR" "$LIVE_DIR/ssh" "$LIVE_DIR/nodes"

# ---- a. the suite's own dockerd ---------------------------------------------------------------------------
step "starting dockerd on $DOCKER_SOCK"
ip link add "$BRIDGE" type bridge || die "cannot create bridge $BRIDGE"
ip link set "$BRIDGE" alias "$LIVE_DIR"   # marks whose prl-* names these are, for down.sh
ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
ip link set "$BRIDGE" up
[ -d /etc/docker ] || die "/etc/docker is missing (docker.io provides it); it is needed as a mount point"
mkdir -p "$D/etc/certs.d"
echo '{}' > "$D/etc/daemon.json"   # ignore any /etc/docker/daemon.json meant for a system dockerd
echo '{}' > "$DOCKER_CONFIG/config.json"
# A private /etc/hosts for this dockerd and for the suite's clients (run.sh binds the same file), so the
# registry's name can resolve to the host address without editing the host's /etc/hosts.
cp /etc/hosts "$LIVE_DIR/hosts"
# --iptables=false: published ports are served by docker-proxy (userland proxy) alone, which binds
# 127.0.0.1 and 10.213.0.1 and dials the container over the bridge, so the host's iptables/nftables,
# ip_forward and FORWARD policy are left untouched.
# Own mount namespace (slave: host mounts still propagate in) with a private /run and /etc/docker, so the
# overlay and netns mounts of dockerd and its containerd, the shims' /run/containerd/s sockets and dockerd's
# /etc/docker/key.json never land on the host, and certs.d (registry CAs this dockerd trusts) is ours.
# shellcheck disable=SC2016 # $1 and $@ expand in the inner sh
setsid unshare --mount --propagation slave -- sh -c '
  mount -t tmpfs -o mode=755 tmpfs /run && mount --bind "$1" /etc/docker && mount --bind "$2" /etc/hosts &&
  shift 2 && exec "$@"' dockerd "$D/etc" "$LIVE_DIR/hosts" \
  dockerd --config-file "$D/etc/daemon.json" --host "$DOCKER_HOST" \
  --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
  --bridge "$BRIDGE" --default-address-pool "base=$ADDR_POOL,size=29" \
  --iptables=false --ip-forward=false --ip-masq=false --userland-proxy=true \
  --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$CGROUP" --storage-driver overlay2 \
  </dev/null >"$D/dockerd.log" 2>&1 &
DOCKER_PID=$!
echo "$DOCKER_PID" > "$D/dockerd.started.pid"

# ---- d. client key; e. nodes (while dockerd starts) --------------------------------------------------------
step "creating SSH client key and nodes"
ssh-keygen -q -t ed25519 -N '' -C pr-live-client -f "$LIVE_DIR/ssh/id_ed25519"
cp "$LIVE_DIR/ssh/id_ed25519.pub" "$LIVE_DIR/ssh/authorized_keys"
chmod 644 "$LIVE_DIR/ssh/authorized_keys"
: > "$LIVE_DIR/ssh/known_hosts"

# A node: netns + veth, and a long-lived holder process ("sleep infinity") that owns the node's private mount
# namespace; sshd and containerd are nsenter'ed into it, so either can be restarted and node-exec.sh works
# without sshd.
node_net() { # name ip
  local n=$1 ip=$2 ns=$PREFIX-$1 vh=$PREFIX-$1-h b=$LIVE_DIR/nodes/$1
  mkdir -p "$b"
  ip netns add "$ns" || die "cannot create netns $ns"
  ip link add "$vh" type veth peer name eth0 netns "$ns" || die "cannot create veth $vh"
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  ip addr add "$HOST_IP/32" dev "$vh"
  ip link set "$vh" up
  ip route add "$ip/32" dev "$vh" src "$HOST_IP"
  cp -a /etc "$b/etc"
  # a node without Java: its keystore hook would rewrite a JKS file and queue dpkg triggers on the shared /var
  rm -f "$b/etc/ca-certificates/update.d/jks-keystore"
  cp -a /usr/local/share/ca-certificates "$b/local-ca"
  # root's home would be the host's /root; a private one keeps ~/.docker, ~/.ssh and shell rc files per node.
  mkdir -m 700 "$b/root"
  sed -i "s|^root:\([^:]*:[^:]*:[^:]*:[^:]*\):/root:|root:\1:$b/root:|" "$b/etc/passwd"
  # shellcheck disable=SC2016 # $1 expands in the inner sh
  setsid ip netns exec "$ns" unshare --mount --propagation private -- sh -c '
    mount --bind "$1/etc" /etc && mount --bind "$1/local-ca" /usr/local/share/ca-certificates &&
    mount -t tmpfs -o mode=755 tmpfs /run && mkdir /run/sshd && touch /run/node-ready &&
    exec sleep infinity' "node-$n" "$b" </dev/null >"$b/ns.log" 2>&1 &
  echo $! > "$b/ns.pid"
}

node_sshd() { # name ip
  local n=$1 ip=$2 b=$LIVE_DIR/nodes/$1
  ssh-keygen -q -t ed25519 -N '' -C "node-$n" -f "$b/ssh_host_ed25519_key"
  # StrictModes no: keys live under a shared /tmp path. UsePAM no: key-only, no PAM stack needed.
  # MaxStartups/MaxSessions: tests may open many connections or multiplex one.
  cat > "$b/sshd_config" <<EOF
ListenAddress $ip:22
HostKey $b/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile $LIVE_DIR/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
X11Forwarding no
MaxStartups 100
MaxSessions 100
Subsystem sftp internal-sftp
EOF
  local ns_pid
  ns_pid=$(<"$b/ns.pid")
  wait_for 5 test -e "/proc/$ns_pid/root/run/node-ready" || die "node $n: namespace setup failed: $(cat "$b/ns.log")"
  setsid nsenter -t "$ns_pid" -n -m -- /usr/sbin/sshd -D -e -f "$b/sshd_config" </dev/null >"$b/sshd.log" 2>&1 &
  echo $! > "$b/sshd.pid"
  echo "$ip $(cut -d' ' -f1,2 "$b/ssh_host_ed25519_key.pub")" >> "$LIVE_DIR/ssh/known_hosts"
}

add_prnode() { # node dir: a non-root user with passwordless sudo, only in this node's /etc
  local b=$1 e=$1/etc u=prnode
  echo "$u:x:$PRNODE_UID:$PRNODE_UID:live-test node user:$b/home:/bin/bash" >> "$e/passwd"
  echo "$u:*:19700:0:99999:7:::" >> "$e/shadow"
  echo "$u:x:$PRNODE_UID:" >> "$e/group"
  echo "$u:!::" >> "$e/gshadow"
  echo "$u ALL=(ALL:ALL) NOPASSWD: ALL" > "$e/sudoers.d/$u"
  chmod 440 "$e/sudoers.d/$u"
  mkdir -p "$b/home"
  chown "$PRNODE_UID:$PRNODE_UID" "$b/home"
}

# ip netns creates /run/netns as a mount; down.sh removes it only if it was ours.
[ -e /run/netns ] || touch "$LIVE_DIR/run-netns.created"
jobs_=()
for spec in "${NODES[@]}" "${UNREACHABLE[*]}"; do
  read -r n ip _ <<<"$spec"
  node_net "$n" "$ip" &
  jobs_+=("$!:$n")
done
for j in "${jobs_[@]}"; do wait "${j%%:*}" || die "creating node ${j#*:} failed"; done
add_prnode "$LIVE_DIR/nodes/c"
CLUSTER_DIR=$(bash "$HERE/../../engine/build.sh" cluster | tail -n 1) || die "test/engine/build.sh cluster failed"
bash "$HERE/node-containerd.sh" "$LIVE_DIR/nodes/b" preset
bash "$HERE/node-containerd.sh" "$LIVE_DIR/nodes/d" absent
bash "$HERE/node-containerd.sh" "$LIVE_DIR/nodes/ctd2" absent "$CLUSTER_DIR/bin"
for spec in "${NODES[@]}"; do
  read -r n ip _ _ <<<"$spec"
  node_sshd "$n" "$ip"
done
b=$LIVE_DIR/nodes/${UNREACHABLE[0]}
wait_for 5 test -e "/proc/$(<"$b/ns.pid")/root/run/node-ready" || die "node ${UNREACHABLE[0]}: namespace setup failed"
step "starting containerd on nodes b, d and ctd2, dockerd on node a"
"$LIVE_DIR/nodes/b/restart-containerd.sh" &
cb=$!
"$LIVE_DIR/nodes/ctd2/restart-containerd.sh" &
c2=$!
bash "$HERE/node-dockerd.sh" "$LIVE_DIR/nodes/a" "$CGROUP-a" &
da=$!
"$LIVE_DIR/nodes/d/restart-containerd.sh" || die "containerd on node d failed to start"
wait "$cb" || die "containerd on node b failed to start"
wait "$c2" || die "containerd 2.x on node ctd2 failed to start"
wait "$da" || die "dockerd on node a failed to start"

for spec in "${NODES[@]}"; do
  read -r n ip _ _ <<<"$spec"
  wait_for 10 tcp_open "$ip" 22 ||
    die "sshd on node $n ($ip:22) is not listening: $(tail -n 5 "$LIVE_DIR/nodes/$n/sshd.log")"
done

step "waiting for dockerd"
docker_up() {
  kill -0 "$DOCKER_PID" 2>/dev/null || die "dockerd exited: $(tail -n 20 "$D/dockerd.log")"
  docker info >/dev/null 2>&1
}
wait_for 30 docker_up || die "dockerd did not answer on $DOCKER_SOCK within 30 s: $(tail -n 20 "$D/dockerd.log")"

# ---- b, c. images ----------------------------------------------------------------------------------------
step "building images"
LIVE_DIR=$LIVE_DIR BUSYBOX=$BUSYBOX PYTHON=$PYTHON REGISTRY_IMAGE=$REGISTRY_IMAGE REGISTRY3_IMAGE=$REGISTRY3_IMAGE \
  FRONT_IMAGE=$FRONT_IMAGE TEST_IMAGE=$TEST_IMAGE LAYERS_IMAGE=$LAYERS_IMAGE LAYER_COUNT=$LAYER_COUNT NODE_IMAGE=$NODE_IMAGE \
  bash "$HERE/images.sh" || die "building the images failed"
# a stack that leaves access.frontImage unset names the program's default, which cannot be pulled here:
# the local build answers to that name too
FRONT_DEFAULT=$(sed -n 's/.*frontImage: { kind: "string", default: "\([^"]*\)".*/\1/p' "$HERE/../../../components/config/configSchema.ts")
[ -n "$FRONT_DEFAULT" ] || die "no access.frontImage default in components/config/configSchema.ts"
docker tag "$FRONT_IMAGE" "$FRONT_DEFAULT" || die "tagging $FRONT_IMAGE as $FRONT_DEFAULT failed"
NODE_DEFAULT=$(sed -n 's/.*nodeImage: { kind: "string", default: "\([^"]*\)".*/\1/p' "$HERE/../../../components/config/configSchema.ts")
[ -n "$NODE_DEFAULT" ] || die "no maintenance.nodeImage default in components/config/configSchema.ts"
docker tag "$NODE_IMAGE" "$NODE_DEFAULT" || die "tagging $NODE_IMAGE as $NODE_DEFAULT failed"

step "starting the upstream registry the mirror caches"
upstream=$(LIVE_DIR=$LIVE_DIR HOST_IP=$HOST_IP REGISTRY_IMAGE=$REGISTRY_IMAGE bash "$HERE/upstream.sh" start) ||
  die "the upstream registry failed to start"

# ---- f. env.json ----------------------------------------------------------------------------------------
step "writing env.json"
node_specs=$(printf '%s\n' "${NODES[@]}")
NODE_SPECS=$node_specs DOCKER_PID=$DOCKER_PID HOST_IP=$HOST_IP REGISTRY_IMAGE=$REGISTRY_IMAGE REGISTRY3_IMAGE=$REGISTRY3_IMAGE \
FRONT_IMAGE=$FRONT_IMAGE FRONT_DEFAULT=$FRONT_DEFAULT NODE_IMAGE=$NODE_IMAGE TEST_IMAGE=$TEST_IMAGE LAYERS_IMAGE=$LAYERS_IMAGE UNREACHABLE_IP=${UNREACHABLE[1]} HERE=$HERE \
UPSTREAM=$upstream \
"$PYTHON" - > "$LIVE_DIR/env.json.tmp" <<'PY'
import json, os
E = os.environ
live = E["LIVE_DIR"]
def read(p): return open(p).read().strip()
nodes = []
for spec in E["NODE_SPECS"].split("\n"):
    name, host, runtime, user = spec.split()
    b = f"{live}/nodes/{name}"
    node = {"name": name, "host": host, "port": 22, "user": user, "runtime": runtime,
            "sshdPid": int(read(f"{b}/sshd.pid")), "nsPid": int(read(f"{b}/ns.pid")),
            "hostKey": " ".join(read(f"{b}/ssh_host_ed25519_key.pub").split()[:2]), "nodeDir": b,
            "containerdSocket": None, "containerdPidFile": None, "containerdRestartCommand": None,
            "containerdConfigPathPreset": None, "ctr": None, "dockerSocket": None, "reloadCommand": None}
    if runtime == "docker" and os.path.exists(f"{b}/reload-docker.sh"):
        node.update(dockerSocket=f"{b}/dockerd/docker.sock", reloadCommand=f"{b}/reload-docker.sh",
                    dockerPidFile=f"{b}/dockerd/dockerd.pid")
    if runtime == "crio":
        # no CRI-O daemon here: the reload is recorded, so the suite can check when it is asked for
        node.update(reloadCommand=f"echo reload >> {b}/reloads.log")
    if runtime == "containerd":
        node.update(ctr=read(f"{b}/ctr-path"), containerdConfigVersion=int(read(f"{b}/etc/containerd/config.toml").split()[2]),
                    containerdSocket=f"{b}/containerd/containerd.sock",
                    containerdPidFile=f"{b}/containerd/containerd.pid",
                    containerdRestartCommand=f"{b}/restart-containerd.sh",
                    containerdConfigPathPreset="config_path" in read(f"{b}/etc/containerd/config.toml"))
    nodes.append(node)
print(json.dumps({
    "liveDir": live, "dockerHost": E["DOCKER_HOST"], "dockerPid": int(E["DOCKER_PID"]),
    "dockerConfig": E["DOCKER_CONFIG"], "dockerCertsDir": f"{live}/docker/etc/certs.d",
    "registryImages": {"2": E["REGISTRY_IMAGE"], "3": E["REGISTRY3_IMAGE"]}, "frontImage": E["FRONT_IMAGE"], "frontImageDefault": E["FRONT_DEFAULT"], "nodeImage": E["NODE_IMAGE"],
    "testImage": E["TEST_IMAGE"], "layersImage": E["LAYERS_IMAGE"], "hostAddress": E["HOST_IP"],
    "sshKeyPath": f"{live}/ssh/id_ed25519",
    "knownHostsPath": f"{live}/ssh/known_hosts", "nodeExec": f"{E['HERE']}/node-exec.sh",
    "nodes": nodes, "upstream": json.loads(E["UPSTREAM"]), "unreachable": {"host": E["UNREACHABLE_IP"], "port": 22}}, indent=2))
PY
mv "$LIVE_DIR/env.json.tmp" "$LIVE_DIR/env.json"
step "environment ready: $LIVE_DIR/env.json"
