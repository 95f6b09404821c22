#!/usr/bin/env bash
# The OCI distribution-spec conformance suite (a main package) from the Go module
# github.com/opencontainers/distribution-spec/conformance (wrapper: ../conformance), for the live suite.
# Usage: conformance.sh OUT VERSION   (VERSION: the module's pseudo-version)
set -euo pipefail
out=$1 version=$2
cd "$(dirname "$0")/../conformance"
grep -qE "github.com/opencontainers/distribution-spec/conformance $version( // indirect)?$" go.mod || { echo "conformance.sh: ../conformance/go.mod does not pin $version" >&2; exit 1; }
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/bin/conformance" github.com/opencontainers/distribution-spec/conformance
