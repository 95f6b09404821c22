#!/usr/bin/env bash
# versitygw, an S3 gateway (posix backend: a bucket is a folder), from the Go module
# github.com/versity/versitygw (wrapper: ../versitygw), static, as its own Dockerfile builds it: the live
# suite's S3 store (test/live/env/s3-up.sh).
# Usage: versitygw.sh OUT VERSION
set -euo pipefail
out=$1 version=$2
cd "$(dirname "$0")/../versitygw"
grep -qE "github.com/versity/versitygw v$version( // indirect)?$" go.mod || { echo "versitygw.sh: ../versitygw/go.mod does not pin v$version" >&2; exit 1; }
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.Version=v$version" \
  -o "$out/bin/versitygw" github.com/versity/versitygw/cmd/versitygw
