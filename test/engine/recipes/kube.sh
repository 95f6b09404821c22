#!/usr/bin/env bash
# kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy and kubelet from the Go module k8s.io/kubernetes
# (wrapper: ../kube, whose replaces stand in for the module's ./staging ones).
# Usage: kube.sh OUT VERSION
set -euo pipefail
out=$1 version=$2
cd "$(dirname "$0")/../kube"
grep -q "k8s.io/kubernetes v$version\$" go.mod || { echo "kube.sh: ../kube/go.mod does not pin k8s.io/kubernetes v$version" >&2; exit 1; }
# an unversioned build reports v0.0, which the kubernetes provider refuses as too old
ld="-X k8s.io/component-base/version.gitVersion=v$version -X k8s.io/component-base/version.gitTreeState=clean"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet; do
  CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$out/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
