# The node of k8s-up.sh (sourced by it, not run): live-node in a network namespace of its own, so the
# CNI bridge, kube-proxy's rules and ip_forward exist only there and the host's firewall and
# sysctls are never touched. Inside it run containerd 2.4.2 with the kubelet (one process tree, in a
# mount namespace with a private /run, /etc/hosts bound to $K8S_HOSTS, and copy-on-write /var/lib and
# /var/log whose writes land under $K8S_DIR/node) and kube-proxy. Pods get 10.88.0.0/24 from Debian's
# CNI bridge plugin (/usr/lib/cni).
# shellcheck shell=bash

in_netns() { nsenter --net="/run/netns/$NETNS" -- "$@"; }

# node_net: namespace, veth (its host end marked with $K8S_DIR, as k8s-down.sh checks), the node address,
# host routes to the node, its pods and its ClusterIPs; forwarding switched on inside the namespace only.
node_net() {
  if owner=$(ip -o link show "$VETH" 2>/dev/null); then die "$VETH exists (${owner##* alias }); run K8S_DIR=<its dir> k8s-down.sh"; fi
  ! ip netns list | grep -qx "$NETNS\( .*\)\?" || die "network namespace $NETNS exists; run k8s-down.sh with the K8S_DIR that made it"
  [ -e /run/netns ] || touch "$K8S_DIR/run-netns.created"   # ip netns makes it; k8s-down.sh removes it then
  ip netns add "$NETNS"
  ip link add "$VETH" type veth peer name eth0 netns "$NETNS"
  ip link set "$VETH" alias "$K8S_DIR"
  ip -n "$NETNS" addr add "$NODE_IP/24" dev eth0
  ip -n "$NETNS" link set lo up
  ip -n "$NETNS" link set eth0 up
  ip addr add "$HOST_IP/32" dev "$VETH"
  ip link set "$VETH" up
  ip route add "$NODE_IP/32" dev "$VETH" src "$HOST_IP"
  ip route add "$POD_CIDR" via "$NODE_IP" dev "$VETH" src "$HOST_IP"
  ip route add "$SERVICE_CIDR" via "$NODE_IP" dev "$VETH" src "$HOST_IP"
  in_netns sysctl -qw net.ipv4.ip_forward=1
}

node_config() {
  mkdir -p "$K8S_DIR"/cni/{net.d,ipam} "$K8S_DIR"/node/{var-lib,var-log,work-lib,work-log}
  cat > "$K8S_DIR/cni/net.d/10-prk8s.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "prk8s", "plugins": [{"type": "bridge", "bridge": "prk8s0", "isGateway": true,
  "ipMasq": false, "hairpinMode": true, "ipam": {"type": "host-local", "dataDir": "$K8S_DIR/cni/ipam",
  "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOF
  cat > "$K8S_DIR/containerd.toml" <<EOF
version = 3
root = "$K8S_DIR/containerd/root"
state = "$K8S_DIR/containerd/state"
[grpc]
  address = "$K8S_DIR/containerd/containerd.sock"
[plugins.'io.containerd.internal.v1.opt']
  path = "$K8S_DIR/containerd/opt"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = "$K8S_DIR/cni/net.d"
[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = "$K8S_DIR/certs.d"
EOF
  cat > "$K8S_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://$K8S_DIR/containerd/containerd.sock
podLogsDir: $K8S_DIR/pods
# the host's disk is shared with everything else on this machine: evict nothing for its sake
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%", imagefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
EOF
  cat > "$K8S_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: $PROXY_MODE
clientConnection: {kubeconfig: "$K8S_DIR/kube-proxy.kubeconfig"}
hostnameOverride: $NODE
clusterCIDR: $POD_CIDR
oomScoreAdj: 0
# conntrack limits are host-wide sysctls: leave them as they are
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
EOF
}

# node_start: containerd, then the kubelet, in the node's network and a private mount namespace
# (nsenter, not `ip netns exec`, which would remount /sys without the host's cgroup mounts).
node_start() {
  # shellcheck disable=SC2016 # expanded by the inner sh
  start node nsenter --net="/run/netns/$NETNS" -- unshare --mount --propagation slave -- sh -c '
    set -e
    mount -t tmpfs -o mode=755 tmpfs /run
    mount --bind "$1" /etc/hosts
    for d in lib log; do
      mount -t overlay overlay -o "lowerdir=/var/$d,upperdir=$3/node/var-$d,workdir=$3/node/work-$d" "/var/$d"
    done
    export PATH="$2:$PATH"
    containerd -c "$3/containerd.toml" >"$3/logs/containerd.log" 2>&1 &
    for _ in $(seq 100); do [ -S "$3/containerd/containerd.sock" ] && break; sleep 0.1; done
    exec kubelet --config "$3/kubelet.yaml" --kubeconfig "$3/kubelet.kubeconfig" --hostname-override "$4" \
      --node-ip "$5" --root-dir "$3/kubelet" --cert-dir "$3/kubelet/pki"' node "${K8S_HOSTS:-/etc/hosts}" "$BIN" "$K8S_DIR" "$NODE" "$NODE_IP"
  wait_up node 30 ctr_ version
}

# sandbox_image: nothing can be pulled, so the sandbox ("pause") image is a FROM-scratch static busybox that sleeps
sandbox_image() {
  local sb=$K8S_DIR/sandbox
  mkdir -p "$sb/rootfs/bin"
  cp /bin/busybox "$sb/rootfs/bin/busybox"
  python3 "$HERE/image-archive.py" "$sb/rootfs" "$SANDBOX_IMAGE" '["/bin/busybox","sleep","2147483647"]' > "$sb/image.tar"
  ctr_ -n k8s.io images import "$sb/image.tar" >/dev/null || die "importing the sandbox image failed"
}

# live_images: the live suite's registry, nginx and test images (env.json), from its dockerd, so pods run
# them with imagePullPolicy IfNotPresent; nothing when no live environment is up under $LIVE_DIR.
IMAGES=()
live_images() {
  local env=${LIVE_DIR:-}/env.json sock=${LIVE_DIR:-}/docker.sock
  if [ -z "${LIVE_DIR:-}" ] || [ ! -S "$sock" ] || [ ! -s "$env" ]; then
    step "no live environment under LIVE_DIR='${LIVE_DIR:-}': no images imported"
    return 0
  fi
  mapfile -t IMAGES < <(python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))
print("\n".join([*e["registryImages"].values(), e["frontImage"], e["frontImageDefault"], e["nodeImage"], e["testImage"]]))' "$env")
  DOCKER_CONFIG=$LIVE_DIR/docker-cli docker -H "unix://$sock" save "${IMAGES[@]}" | ctr_ -n k8s.io images import - >/dev/null ||
    die "importing ${IMAGES[*]} from $sock failed"
}

# proxy_start: kube-proxy in the node's network namespace (and a private /run: no lock files on the host's)
proxy_start() {
  # shellcheck disable=SC2016 # expanded by the inner sh
  start kube-proxy nsenter --net="/run/netns/$NETNS" -- unshare --mount --propagation slave -- sh -c '
    mount -t tmpfs -o mode=755 tmpfs /run && exec "$@"' kube-proxy "$BIN/kube-proxy" --config "$K8S_DIR/kube-proxy.yaml"
  proxy_healthy() { in_netns curl -sf http://127.0.0.1:10256/healthz; }
  wait_up kube-proxy 30 proxy_healthy
}
