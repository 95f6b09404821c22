#!/usr/bin/env bash
# The live suite: builds the test environment (own dockerd, SSH nodes in namespaces, containerd), runs
# the program against it, and tears it all down again, also when a test fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/../.."

if [ "$(id -u)" != 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "live suite: FAILED: it needs root (network and mount namespaces, its own dockerd); CI must run as root" >&2
    exit 1
  fi
  printf '\n!!!!!!!!!!\n!! SKIPPING the live suite: it needs root (network and mount namespaces, its own dockerd).\n!! Run `sudo npm run test:live` to include it.\n!!!!!!!!!!\n\n' >&2
  exit 0
fi

export LIVE_DIR=${LIVE_DIR:-/tmp/pr-live}
# one live environment per machine (fixed addresses and names): the suite and the benchmarks take turns
exec 9>/tmp/private-registry-live.lock
flock 9
# LIVE_STACK_FILE names one stack file; by default the suite runs against both of its own, which differ
# in every setting it must not depend on.
if [ -n "${LIVE_STACK_FILE:-}" ]; then stacks=("$LIVE_STACK_FILE"); else stacks=("$HERE/Pulumi.live.yaml" "$HERE/Pulumi.live-alt.yaml"); fi
started=$(date +%s)
bash "$HERE/env/install.sh"
# The real engine: the pulumi CLI, its Node.js language host and the provider plugins (built once, cached)
engine_out=$(bash "$HERE/../engine/build.sh") || { echo "live suite: FAILED: test/engine/build.sh could not provide the Pulumi engine" >&2; exit 1; }
export PULUMI_ENGINE_DIR=${engine_out##*$'\n'}
# one spare node (f) for the suite's host-change check
export LIVE_EXTRA_NODES=1
export K8S_DIR=${K8S_DIR:-$LIVE_DIR-k8s}
export S3_DIR=${S3_DIR:-$LIVE_DIR-s3}
finish() {
  bash "$HERE/env/s3-down.sh" || true
  bash "$HERE/env/k8s-down.sh" || true
  bash "$HERE/env/down.sh" || true
  echo "live suite: wall time $(( $(date +%s) - started )) s"
}
trap finish EXIT

# the registry suite first (per stack file); the checks that do not depend on the stack file once, after it
files=(test/live/registry.live.test.ts test/live/nodeScripts.live.test.ts test/live/nodeScripts-mirror.live.test.ts
       test/live/nodeScripts-day2.live.test.ts test/live/nodeScripts-recipe.live.test.ts test/live/bindings.live.test.ts
       test/live/config-errors.live.test.ts test/live/renames.live.test.ts test/live/twoStacks.live.test.ts
       test/live/kubernetes-errors.live.test.ts test/live/migrate.live.test.ts test/live/migrateNodes.live.test.ts test/live/readme.live.test.ts
       test/live/s3-env.live.test.ts test/live/cluster-env.live.test.ts test/live/cluster.live.test.ts
       test/live/clusterConformance.live.test.ts test/live/clusterFailures.live.test.ts test/live/clusterMove.live.test.ts
       test/live/clusterAccess.live.test.ts test/live/accessUpgrade.live.test.ts test/live/maintenance.live.test.ts test/live/clusterMaintenance.live.test.ts)
for stack in "${stacks[@]}"; do
  echo "== live suite against $stack"
  bash "$HERE/env/up.sh"
  # the S3 store on the host address up.sh made (versitygw over TLS, test/engine/build.sh s3)
  S3_ENV=$(bash "$HERE/env/s3-up.sh" | tail -n 1) ||
    { echo "live suite: FAILED: test/live/env/s3-up.sh could not start the S3 store" >&2; exit 1; }
  export S3_ENV
  # a fresh cluster for each stack file; its node resolves names through the suite's hosts file
  t=$(date +%s)
  LIVE_KUBECONFIG=$(K8S_HOSTS=$LIVE_DIR/hosts bash "$HERE/env/k8s-up.sh" | tail -n 1) ||
    { echo "live suite: FAILED: test/live/env/k8s-up.sh could not start the cluster" >&2; exit 1; }
  export LIVE_KUBECONFIG
  echo "live suite: cluster up in $(( $(date +%s) - t )) s"
  # The suite resolves the registry's name through a private /etc/hosts (the same file the suite's
  # dockerd sees), so the host's own /etc/hosts is never edited.
  LIVE_STACK_FILE=$stack unshare --mount --propagation private -- sh -c 'mount --bind "$LIVE_DIR/hosts" /etc/hosts && exec "$@"' live \
    node --import tsx --test --test-concurrency=1 "${files[@]}"
  # the checks that do not depend on the stack file run once
  files=(test/live/registry.live.test.ts test/live/maintenance.live.test.ts)
done
