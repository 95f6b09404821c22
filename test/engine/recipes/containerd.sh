#!/usr/bin/env bash
# containerd 2.x, ctr and the runc shim from the Go module github.com/containerd/containerd/v2
# (wrapper: ../containerd).
# Usage: containerd.sh OUT VERSION
set -euo pipefail
out=$1 version=$2
cd "$(dirname "$0")/../containerd"
grep -q "github.com/containerd/containerd/v2 v$version\$" go.mod || { echo "containerd.sh: ../containerd/go.mod does not pin v$version" >&2; exit 1; }
ld="-X github.com/containerd/containerd/v2/version.Version=v$version"
for cmd in containerd ctr containerd-shim-runc-v2; do
  CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$out/bin/$cmd" "github.com/containerd/containerd/v2/cmd/$cmd"
done
