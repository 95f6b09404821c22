#!/usr/bin/env bash
# The benchmarks (docs/BENCHMARKS.md): builds the live environment, runs each bench against the program,
# writes bench/results/*.json and regenerates the tables in docs/BENCHMARKS.md from them.
#   npm run bench              full run (~14 min on 2 cores), results in bench/results/, docs regenerated
#   npm run bench -- --quick   fewer repetitions and costs (~4.5 min), results in bench/results/quick/, docs untouched
#   npm run bench -- --quick auth engine   only the named benches (auth, throughput, access, engine, program, cluster, maintenance)
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=()
BENCHES=()
for a in "$@"; do
  case "$a" in
    --quick) QUICK=(--quick) ;;
    auth | throughput | access | engine | program | cluster | maintenance) BENCHES+=("$a") ;;
    *) echo "usage: bench/run.sh [--quick] [auth|throughput|access|engine|program|cluster|maintenance ...]" >&2; exit 2 ;;
  esac
done
[ ${#BENCHES[@]} -gt 0 ] || BENCHES=(program engine auth throughput access cluster maintenance)
[ "$(id -u)" = 0 ] || { echo "bench: needs root (the live environment: namespaces, its own dockerd)" >&2; exit 1; }

export LIVE_DIR=${LIVE_DIR:-/tmp/pr-live}
# One live environment per machine: the benches and the live suite take turns (and a bench run gets a quiet machine).
exec 9>/tmp/private-registry-live.lock
if ! flock -n 9; then
  echo "bench: waiting for the live environment lock (a live suite or bench run holds it)"
  flock 9
fi
started=$(date +%s)
export K8S_DIR=${K8S_DIR:-$LIVE_DIR-k8s} S3_DIR=${S3_DIR:-$LIVE_DIR-s3}
finish() {
  bash test/live/env/k8s-down.sh >/dev/null 2>&1 || true
  bash test/live/env/s3-down.sh >/dev/null 2>&1 || true
  bash test/live/env/down.sh >/dev/null || true
  echo "bench: wall time $(($(date +%s) - started)) s"
}
bash test/live/env/install.sh
engine_out=$(bash test/engine/build.sh)
export PULUMI_ENGINE_DIR=${engine_out##*$'\n'}
trap finish EXIT
# the live environment (its spare nodes are not needed here)
bash test/live/env/up.sh
# cluster mode's bench: the store and the cluster too
if [[ " ${BENCHES[*]} " == *" cluster "* ]]; then
  S3_ENV=$(bash test/live/env/s3-up.sh | tail -n 1)
  LIVE_KUBECONFIG=$(K8S_HOSTS=$LIVE_DIR/hosts bash test/live/env/k8s-up.sh | tail -n 1)
  export S3_ENV LIVE_KUBECONFIG
fi

for b in "${BENCHES[@]}"; do
  echo "== bench $b"
  node --import tsx "bench/$b.ts" "${QUICK[@]}"
done
node --import tsx bench/report.ts "${QUICK[@]}"
