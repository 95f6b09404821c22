#!/usr/bin/env bash
# A Pulumi provider plugin from a ../shared/engine-src tree (their Go modules are not served):
# command (native), random, tls and docker (bridged from Terraform providers: their schema is
# generated first, as upstream's Makefile does).
# Usage: bridged.sh OUT VERSION NAME ARCHIVE
set -euo pipefail
out=$1 version=$2 name=$3 archive=$4
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(dirname "$0")/../lib.sh"
unpack "$archive" "$out/src"
cd "$out/src/provider"
case $name in
  command)
    go build -trimpath -ldflags "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$version" \
      -o "$out/bin/pulumi-resource-command" ./cmd/pulumi-resource-command
    exit 0 ;;
  tls)
    # the upstream commit the tree pins is not served; this one is (the same provider code line)
    go mod edit -replace github.com/hashicorp/terraform-provider-tls=github.com/hashicorp/terraform-provider-tls@v1.2.1-0.20260819085117-d044ca7c6f52
    export GOFLAGS="$GOFLAGS -mod=mod" ;;
  docker)
    # pulumi-docker builds its upstream from a patched checkout beside provider/
    unpack terraform-provider-docker-5074970c71ce.tar.gz ../upstream
    for p in ../patches/*.patch; do patch -d ../upstream -p1 --quiet < "$p"; done ;;
esac
(cd "cmd/pulumi-resource-$name" && VERSION=$version go run generate.go)
go build -trimpath -ldflags "-X github.com/pulumi/pulumi-$name/provider/v${version%%.*}/pkg/version.Version=$version" \
  -o "$out/bin/pulumi-resource-$name" "./cmd/pulumi-resource-$name"
