#!/usr/bin/env bash
# Starts a real Kubernetes for the live suite under $K8S_DIR (default /tmp/pr-k8s): etcd (Debian's
# etcd-server), kube-apiserver and kube-controller-manager 1.37.2 on 127.0.0.1, and one node: a kubelet
# with containerd 2.4.2 and Debian's runc (binaries from test/engine/build.sh cluster). The kubelet and
# its containerd run in a mount namespace of their own, with a private /run and with /etc/hosts bound
# to $K8S_HOSTS when set (the live suite's hosts file, where the registry's name resolves).
# Prints the path of an admin kubeconfig as its last line. k8s-down.sh stops it and removes its data.
set -Eeuo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_DIR=${K8S_DIR:-/tmp/pr-k8s}
K8S_DIR=${K8S_DIR%/}
ETCD_PORT=2479 API_PORT=6443 NODE=live-node
SANDBOX_IMAGE=registry.k8s.io/pause:3.10.2   # containerd 2.4's default sandbox image
die() { echo "k8s-up.sh: ERROR: $*" >&2; exit 1; }
T0=$(date +%s%N)
step() { printf 'k8s-up.sh: [%6.2fs] %s\n' "$(( $(date +%s%N) - T0 ))e-9" "$*" >&2; }
wait_for() { local end=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do ((SECONDS < end)) || return 1; sleep 0.2; done; }
# waits for a started process's readiness, giving up at once when it has exited
wait_up() {
  local name=$1 secs=$2
  shift 2
  if ! wait_for "$secs" up_or_gone "$name" "$@" || ! alive "$name"; then failed "$name"; fi
}
up_or_gone() { local name=$1; shift; ! alive "$name" || "$@"; }
[ "$(id -u)" = 0 ] || die "must run as root"
command -v etcd >/dev/null || die "etcd not found (Debian package etcd-server; test/live/env/install.sh installs it)"

bash "$HERE/k8s-down.sh" >/dev/null 2>&1 || true
tools=$(bash "$HERE/../../engine/build.sh" cluster | tail -n 1) || die "test/engine/build.sh cluster failed"
BIN=$tools/bin
P=$K8S_DIR/pki
mkdir -p "$P" "$K8S_DIR"/{etcd,kubelet,containerd/root,containerd/state,certs.d,logs,pods}
echo "$BIN" > "$K8S_DIR/bin.path"

step "certificates"
cert() { # name subject [san]: a key and a certificate signed by the cluster CA
  openssl req -newkey rsa:2048 -nodes -keyout "$P/$1.key" -subj "$2" -out "$P/$1.csr" 2>/dev/null
  local ext=("basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth")
  [ -z "${3:-}" ] || ext+=("subjectAltName=$3")
  openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 -sha256 \
    -extfile <(printf '%s\n' "${ext[@]}") -out "$P/$1.crt" 2>/dev/null
}
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 2 -subj "/CN=live-k8s-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:localhost"
cert admin "/O=system:masters/CN=live-admin"
cert kubelet "/O=system:nodes/CN=system:node:$NODE" "IP:127.0.0.1,DNS:$NODE"
openssl genrsa -out "$P/sa.key" 2048 2>/dev/null
openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null

kubeconfig() { # file user: credentials embedded, as a kubeconfig given to pulumi as content carries them
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: live
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority-data: "$(base64 -w0 "$P/ca.crt")"}
users:
- name: $2
  user: {client-certificate-data: "$(base64 -w0 "$P/$2.crt")", client-key-data: "$(base64 -w0 "$P/$2.key")"}
contexts:
- name: live
  context: {cluster: live, user: $2}
current-context: live
EOF
}
kubeconfig "$K8S_DIR/admin.kubeconfig" admin
kubeconfig "$K8S_DIR/kubelet.kubeconfig" kubelet

start() { # name cmd...: in the background, pid in $K8S_DIR/NAME.pid, log in logs/NAME.log
  local name=$1; shift
  setsid "$@" </dev/null >"$K8S_DIR/logs/$name.log" 2>&1 &
  echo $! > "$K8S_DIR/$name.pid"
}
alive() { kill -0 "$(cat "$K8S_DIR/$1.pid")" 2>/dev/null; }
failed() { die "$1 did not come up: $(tail -n 15 "$K8S_DIR/logs/$1.log")"; }

step "etcd"
start etcd etcd --name live --data-dir "$K8S_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
  --initial-cluster "live=http://127.0.0.1:$((ETCD_PORT + 1))"

step "kube-apiserver"
start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
  --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" --client-ca-file "$P/ca.crt" \
  --kubelet-client-certificate "$P/admin.crt" --kubelet-client-key "$P/admin.key" \
  --service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
  --service-account-issuer https://kubernetes.default.svc --authorization-mode Node,RBAC \
  --service-cluster-ip-range 10.96.0.0/24 --cert-dir "$K8S_DIR/apiserver-certs" \
  --endpoint-reconciler-type none
ready() { curl -sf --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" "https://127.0.0.1:$API_PORT/readyz"; }
wait_up kube-apiserver 90 ready

step "kube-controller-manager"
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$K8S_DIR/admin.kubeconfig" \
  --controllers serviceaccount,serviceaccount-token,namespace,garbagecollector,root-ca-cert-publisher \
  --service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt" --leader-elect=false --secure-port=0 \
  --use-service-account-credentials=false
has_default_sa() { kubectl --kubeconfig "$K8S_DIR/admin.kubeconfig" -n default get serviceaccount default; }
wait_up kube-controller-manager 60 has_default_sa

step "containerd 2.x and kubelet"
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
[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = "$K8S_DIR/certs.d"
EOF
cat > "$K8S_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
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
hosts=${K8S_HOSTS:-/etc/hosts}
# shellcheck disable=SC2016 # expanded by the inner sh
start node unshare --mount --propagation slave -- sh -c '
  set -e
  mount -t tmpfs -o mode=755 tmpfs /run
  mount --bind "$1" /etc/hosts
  export PATH="$2:$PATH"
  containerd -c "$3/containerd.toml" >"$3/logs/containerd.log" 2>&1 &
  for _ in $(seq 100); do [ -S "$3/containerd/containerd.sock" ] && break; sleep 0.1; done
  exec kubelet --config "$3/kubelet.yaml" --kubeconfig "$3/kubelet.kubeconfig" --hostname-override "$4" \
    --root-dir "$3/kubelet" --cert-dir "$3/kubelet/pki"' node "$hosts" "$BIN" "$K8S_DIR" "$NODE"
ctr_() { "$BIN/ctr" -a "$K8S_DIR/containerd/containerd.sock" "$@"; }
wait_up node 30 ctr_ version
# nothing can be pulled here: the sandbox ("pause") image is a FROM-scratch static busybox that sleeps
sb=$K8S_DIR/sandbox
mkdir -p "$sb/rootfs/bin"
cp /bin/busybox "$sb/rootfs/bin/busybox"
python3 "$HERE/image-archive.py" "$sb/rootfs" "$SANDBOX_IMAGE" '["/bin/busybox","sleep","2147483647"]' > "$sb/image.tar"
ctr_ -n k8s.io images import "$sb/image.tar" >/dev/null || die "importing the sandbox image failed"
node_ready() { kubectl --kubeconfig "$K8S_DIR/admin.kubeconfig" get node "$NODE"; }
wait_up node 60 node_ready
step "cluster up"
echo "$K8S_DIR/admin.kubeconfig"
