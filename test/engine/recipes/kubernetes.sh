#!/usr/bin/env bash
# pulumi-resource-kubernetes from the Go module pulumi-kubernetes/provider/v4 (wrapper: ../kubernetes).
# The module ships schema.json and terraform-mapping.json; they are embedded from a scratch copy.
# Usage: kubernetes.sh OUT VERSION
set -euo pipefail
out=$1 version=$2
wrapper=$(cd "$(dirname "$0")/../kubernetes" && pwd)
mkdir -p "$out/src" && cp "$wrapper"/{go.mod,go.sum,main.go} "$out/src/"
cd "$out/src"
# (downloaded first: on an empty module cache `go list -m` knows no folder yet)
go mod download github.com/pulumi/pulumi-kubernetes/provider/v4
mod=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)
[ -d "$mod" ] || { echo "kubernetes.sh: the provider module was not downloaded" >&2; exit 1; }
cp "$mod/cmd/pulumi-resource-kubernetes/schema.json" "$mod/cmd/pulumi-resource-kubernetes/terraform-mapping.json" .
go build -trimpath -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version" \
  -o "$out/bin/pulumi-resource-kubernetes" .
