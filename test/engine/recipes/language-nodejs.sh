#!/usr/bin/env bash
# pulumi-language-nodejs from ../shared/engine-src (its Go module is not served). At this commit it
# builds against pkg/sdk v3.260.0; later SDKs no longer compile with it.
# Usage: language-nodejs.sh OUT VERSION (VERSION names the archive's commit)
set -euo pipefail
out=$1 version=$2
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. "$(dirname "$0")/../lib.sh"
unpack "pulumi-language-nodejs-$version.tar.gz" "$out/src"
cd "$out/src/sdk/nodejs/cmd/pulumi-language-nodejs"
go mod edit -dropreplace github.com/pulumi/pulumi/pkg/v3 -dropreplace github.com/pulumi/pulumi/sdk/v3 \
  -require github.com/pulumi/pulumi/pkg/v3@v3.260.0 -require github.com/pulumi/pulumi/sdk/v3@v3.260.0
go mod tidy
go build -trimpath -o "$out/bin/pulumi-language-nodejs" .
