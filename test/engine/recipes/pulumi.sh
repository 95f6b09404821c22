#!/usr/bin/env bash
# The pulumi CLI from the Go module github.com/pulumi/pulumi/pkg/v3 (wrapper module: ../pulumi).
# Usage: pulumi.sh OUT VERSION
set -euo pipefail
out=$1 version=$2
cd "$(dirname "$0")/../pulumi"
grep -q "github.com/pulumi/pulumi/pkg/v3 v$version\$" go.mod || { echo "pulumi.sh: ../pulumi/go.mod does not pin pkg/v3 v$version" >&2; exit 1; }
go build -trimpath -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
  -o "$out/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
