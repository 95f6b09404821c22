#!/usr/bin/env bash
# The distribution v3 registry binary from the Go module github.com/distribution/distribution/v3
# (wrapper: ../distribution), static, for the live suite's FROM-scratch registry:3 image.
# Usage: distribution.sh OUT VERSION
set -euo pipefail
out=$1 version=$2
cd "$(dirname "$0")/../distribution"
grep -qE "github.com/distribution/distribution/v3 v$version( // indirect)?$" go.mod || { echo "distribution.sh: ../distribution/go.mod does not pin v$version" >&2; exit 1; }
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=v$version" \
  -o "$out/bin/registry" github.com/distribution/distribution/v3/cmd/registry
# the image's config file: upstream's cmd/registry/config-dev.yml, from the same module
cp "$(go list -m -f '{{.Dir}}' github.com/distribution/distribution/v3)/cmd/registry/config-dev.yml" "$out/config-dev.yml"
