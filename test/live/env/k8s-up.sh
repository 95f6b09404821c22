#!/usr/bin/env bash
# Starts a real Kubernetes for the live suite under $K8S_DIR (default /tmp/pr-k8s), binaries from
# test/engine/build.sh cluster. On the host: etcd (Debian's etcd-server) on 127.0.0.1; kube-apiserver
# 1.37.2 on port 6443 of every address (the admin kubeconfig names 127.0.0.1, the node 10.213.0.1);
# kube-controller-manager (with the deployment, replicaset, endpoint, endpointslice, disruption, job and
# podgc controllers) and kube-scheduler. One node, live-node at 10.213.0.60 in the network namespace
# prk8s (k8s-node.sh): containerd 2.4.2 with Debian's runc and CNI bridge, the kubelet, and kube-proxy
# (iptables mode, inside that namespace). Host routes send the pod CIDR and the service CIDR to the node, so the host reaches
# each pod by its IP, ClusterIPs, and NodePorts on the node IP. The node's containerd resolves names
# through $K8S_HOSTS when set (the live suite's hosts file, where the registry's name resolves).
# Images: when the live suite's environment is up under $LIVE_DIR (test/live/run.sh runs up.sh first),
# the registry images and the test image of its env.json are imported from its dockerd into the node's
# containerd (namespace k8s.io), so pods run them with imagePullPolicy IfNotPresent.
# Writes $K8S_DIR/cluster.json (nodeName, nodeIp, hostIp, podCidr, serviceCidr, apiServer, netns,
# containerdSocket, ctr, images) and prints the path of an admin kubeconfig as its last line.
# k8s-down.sh stops it and removes everything it made.
set -Eeuo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_DIR=${K8S_DIR:-/tmp/pr-k8s}
K8S_DIR=${K8S_DIR%/}
ETCD_PORT=2479 API_PORT=6443 NODE=live-node
# fixed names and addresses (one cluster per machine); k8s-down.sh uses the same. Not prl-*: those are
# up.sh's, and its down.sh removes every prl-* namespace and link.
# shellcheck disable=SC2034 # also used by k8s-node.sh
NETNS=prk8s VETH=prk8s-h HOST_IP=10.213.0.1 NODE_IP=10.213.0.60
# shellcheck disable=SC2034
POD_CIDR=10.88.0.0/24 POD_GATEWAY=10.88.0.1 SERVICE_CIDR=10.96.0.0/24
# kube-proxy's iptables mode runs Debian's iptables (nf_tables backend, a dependency of docker.io). Its
# nftables mode also works (K8S_PROXY_MODE=nftables) but runs the nft binary for every change (netlink
# only lists), from Debian's nftables package, which the suite does not install.
PROXY_MODE=${K8S_PROXY_MODE:-iptables}
# shellcheck disable=SC2034
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

command -v nsenter >/dev/null && [ -d /usr/lib/cni ] || die "nsenter or /usr/lib/cni missing (test/live/env/install.sh)"
# shellcheck source=k8s-node.sh
. "$HERE/k8s-node.sh"

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
cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:$HOST_IP,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:localhost"
cert admin "/O=system:masters/CN=live-admin"
cert kubelet "/O=system:nodes/CN=system:node:$NODE" "IP:$NODE_IP,DNS:$NODE"
cert kube-proxy "/CN=system:kube-proxy"
openssl genrsa -out "$P/sa.key" 2048 2>/dev/null
openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null

kubeconfig() { # file user [server]: credentials embedded, as a kubeconfig given to pulumi as content carries them
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: live
  cluster: {server: "${3:-https://127.0.0.1:$API_PORT}", certificate-authority-data: "$(base64 -w0 "$P/ca.crt")"}
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
kubeconfig "$K8S_DIR/kubelet.kubeconfig" kubelet "https://$HOST_IP:$API_PORT"
kubeconfig "$K8S_DIR/kube-proxy.kubeconfig" kube-proxy "https://$HOST_IP:$API_PORT"

start() { # name cmd...: in the background, pid in $K8S_DIR/NAME.pid, log in logs/NAME.log
  local name=$1; shift
  setsid "$@" </dev/null >"$K8S_DIR/logs/$name.log" 2>&1 &
  echo $! > "$K8S_DIR/$name.pid"
}
alive() { kill -0 "$(cat "$K8S_DIR/$1.pid")" 2>/dev/null; }
failed() { die "$1 did not come up: $(tail -n 15 "$K8S_DIR/logs/$1.log")"; }
ctr_() { "$BIN/ctr" -a "$K8S_DIR/containerd/containerd.sock" "$@"; }
kubectl_() { kubectl --kubeconfig "$K8S_DIR/admin.kubeconfig" "$@"; }

step "node network: namespace $NETNS, $NODE_IP"
node_net

step "etcd"
start etcd etcd --name live --data-dir "$K8S_DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
  --initial-cluster "live=http://127.0.0.1:$((ETCD_PORT + 1))"

step "kube-apiserver"
# TaintNodesByCondition taints a new node not-ready until the node-lifecycle controller, which is not run
# here (it would also taint the node when its kubelet is slow on a busy machine), takes the taint away
start kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 0.0.0.0 --advertise-address "$HOST_IP" --secure-port "$API_PORT" --anonymous-auth=false \
  --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" --client-ca-file "$P/ca.crt" \
  --kubelet-client-certificate "$P/admin.crt" --kubelet-client-key "$P/admin.key" \
  --service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
  --service-account-issuer https://kubernetes.default.svc --authorization-mode Node,RBAC \
  --service-cluster-ip-range "$SERVICE_CIDR" --cert-dir "$K8S_DIR/apiserver-certs" \
  --disable-admission-plugins TaintNodesByCondition --kubelet-preferred-address-types InternalIP
ready() { curl -sf --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" "https://127.0.0.1:$API_PORT/readyz"; }
wait_up kube-apiserver 90 ready

step "kube-controller-manager"
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$K8S_DIR/admin.kubeconfig" \
  --controllers serviceaccount,serviceaccount-token,namespace,garbagecollector,root-ca-cert-publisher,deployment,replicaset,endpoint,endpointslice,disruption,job,podgc \
  --service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt" --leader-elect=false --secure-port=0 \
  --use-service-account-credentials=false
has_default_sa() { kubectl_ -n default get serviceaccount default; }
wait_up kube-controller-manager 60 has_default_sa

step "kube-scheduler"
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$K8S_DIR/admin.kubeconfig" --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port 10259
scheduler_ready() { curl -sfk https://127.0.0.1:10259/healthz; }
wait_up kube-scheduler 30 scheduler_ready

step "containerd 2.x and kubelet"
node_config
node_start
sandbox_image
step "kube-proxy ($PROXY_MODE)"
proxy_start
step "images"
live_images
node_ready() { [ "$(kubectl_ get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
wait_up node 60 node_ready

# what tests need to reach the cluster; nodeIp answers NodePorts, podCidr and serviceCidr are routed from the host
python3 - "$K8S_DIR" "$NODE" "$NODE_IP" "$HOST_IP" "$POD_CIDR" "$SERVICE_CIDR" "$API_PORT" "$NETNS" "$PROXY_MODE" "$BIN" \
  "${IMAGES[@]}" > "$K8S_DIR/cluster.json" <<'PY'
import json, sys
d, node, node_ip, host_ip, pods, services, port, netns, mode, bindir, *images = sys.argv[1:]
print(json.dumps({"nodeName": node, "nodeIp": node_ip, "hostIp": host_ip, "podCidr": pods, "serviceCidr": services,
                  "apiServer": f"https://127.0.0.1:{port}", "nodeApiServer": f"https://{host_ip}:{port}",
                  "kubeconfig": f"{d}/admin.kubeconfig", "netns": netns, "proxyMode": mode,
                  "containerdSocket": f"{d}/containerd/containerd.sock", "ctr": f"{bindir}/ctr", "images": images}, indent=2))
PY
step "cluster up"
echo "$K8S_DIR/admin.kubeconfig"
