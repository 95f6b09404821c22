#!/usr/bin/env bash
# Provides the real Pulumi engine for the live suite: the CLI, the Node.js language host and every
# provider plugin at the version its npm package asks for (the engine only loads a plugin whose
# version equals that one). Uses what is installed (pulumi on PATH, plugins in $PULUMI_HOME or
# ~/.pulumi), builds the rest from Go modules or ../shared/engine-src into a cache keyed by name and
# version (recipes/), one heavy build at a time.
#
#   build.sh           last line: D, with D/bin/pulumi, D/bin/pulumi-language-nodejs and D/home (a
#                      PULUMI_HOME holding every plugin; plugins are never put on PATH)
#   build.sh cluster   last line: a dir whose bin/ has kube-apiserver, kube-controller-manager,
#                      kube-scheduler, kube-proxy, kubelet, containerd, ctr and containerd-shim-runc-v2
#   build.sh registry  last line: a dir with bin/registry (distribution v3, static) and the module's
#                      cmd/registry/config-dev.yml, for the live suite's registry:3 image
#   build.sh s3        last line: a dir with bin/versitygw (static), the live suite's S3 store
#   build.sh conformance  last line: a dir with bin/conformance, the OCI distribution-spec conformance suite
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

KUBE_VERSION=1.37.2
# bump when recipes/kube.sh changes what it builds
KUBE_RECIPE=2
CONTAINERD_VERSION=2.4.2
LANGUAGE_HOST_COMMIT=1b5949891b3c
# the registry:3 line the program's default image pins (components/config/configSchema.ts)
DISTRIBUTION_VERSION=3.1.2
VERSITYGW_VERSION=1.8.0
# the conformance module is pinned by its pseudo-version (a distribution-spec commit)
CONFORMANCE_VERSION=v0.0.0-20260831232431-97274622c111

# shellcheck disable=SC2016 # the JavaScript is in single quotes on purpose
pin() { # the exact version package.json pins for an npm package
  node -e 'const v = require(process.argv[1]).dependencies[process.argv[2]];
    if (!/^\d+\.\d+\.\d+$/.test(v || "")) { console.error(`package.json must pin ${process.argv[2]} exactly (got ${v})`); process.exit(1); }
    console.log(v)' "$PROJECT_DIR/package.json" "$1"
}

if [ "${1:-}" = cluster ]; then
  # the name carries recipes/kube.sh's revision: a cache built before it listed more binaries is rebuilt
  kube=$(cached "kube-r$KUBE_RECIPE" "$KUBE_VERSION" kube)
  ctrd=$(cached containerd "$CONTAINERD_VERSION" containerd)
  dir=$TOOLS_CACHE/cluster-$KUBE_VERSION-$CONTAINERD_VERSION
  mkdir -p "$dir/bin"
  ln -sfn "$kube"/bin/* "$ctrd"/bin/* "$dir/bin/"
  printf '%s\n' "$dir"
  exit 0
fi

if [ "${1:-}" = registry ]; then
  cached distribution "$DISTRIBUTION_VERSION" distribution
  exit 0
fi

if [ "${1:-}" = s3 ]; then
  cached versitygw "$VERSITYGW_VERSION" versitygw
  exit 0
fi

if [ "${1:-}" = conformance ]; then
  cached conformance "$CONFORMANCE_VERSION" conformance
  exit 0
fi

# the engine folder's plugin installs: one process at a time
tools_lock
cli_version=$(pin @pulumi/pulumi)
installed_home=${PULUMI_HOME:-$HOME/.pulumi}
engine=$TOOLS_CACHE/engine-$cli_version
mkdir -p "$engine/bin" "$engine/home/plugins"

# The CLI and the language host: an installed pair of the right version, or built.
if command -v pulumi >/dev/null && [ "$(pulumi version 2>/dev/null)" = "v$cli_version" ] &&
   [ -x "$(dirname "$(command -v pulumi)")/pulumi-language-nodejs" ]; then
  bindir=$(dirname "$(command -v pulumi)")
  log "using the installed pulumi v$cli_version in $bindir"
  ln -sfn "$bindir/pulumi" "$bindir/pulumi-language-nodejs" "$engine/bin/"
else
  # hard links: the CLI looks for its language host in the folder it runs from (elsewhere it warns)
  ln -f "$(cached pulumi "$cli_version" pulumi)/bin/pulumi" "$engine/bin/"
  ln -f "$(cached language-nodejs "$LANGUAGE_HOST_COMMIT" language-nodejs "$LANGUAGE_HOST_COMMIT")/bin/pulumi-language-nodejs" "$engine/bin/"
fi

# name, then the recipe that builds the one version of it that can be built here
plugins=(
  "command 1.2.1 bridged command pulumi-command-v1.2.1.tar.gz"
  "random 4.21.1 bridged random pulumi-random-f64d8726a4f5.tar.gz"
  "tls 5.5.1 bridged tls pulumi-tls-f7db93b2.tar.gz"
  "docker 5.2.0 bridged docker pulumi-docker-237b7899.tar.gz"
  "kubernetes 4.25.0 kubernetes"
)
for entry in "${plugins[@]}"; do
  read -r name buildable recipe args <<< "$entry"
  version=$(pin "@pulumi/$name")
  target=$engine/home/plugins/resource-$name-v$version
  [ -x "$target/pulumi-resource-$name" ] && continue
  if [ -x "$installed_home/plugins/resource-$name-v$version/pulumi-resource-$name" ]; then
    log "using the installed $name plugin v$version"
    bin=$installed_home/plugins/resource-$name-v$version/pulumi-resource-$name
  else
    [ "$version" = "$buildable" ] ||
      die "package.json pins @pulumi/$name $version, but only $buildable can be built here (README.md: tested versions)"
    # shellcheck disable=SC2086 # args is a word list
    bin=$(cached "plugin-$name" "$version" "$recipe" $args)/bin/pulumi-resource-$name
  fi
  PULUMI_HOME=$engine/home PULUMI_SKIP_UPDATE_CHECK=1 "$engine/bin/pulumi" plugin install resource "$name" "$version" \
    --file "$bin" --non-interactive >&2
done
printf '%s\n' "$engine"
