# Shared by build.sh and the recipes: where built tools are cached and how a build is run.
# Sourced, not run.
# shellcheck shell=bash
export GOFLAGS=${GOFLAGS:--buildvcs=false}
ENGINE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$ENGINE_DIR/../.." && pwd)
# Third-party sources that the Go module proxy does not serve (unpacked into scratch dirs, never into the
# clone): beside the project folder, or where this workplace keeps them for a clone made elsewhere.
if [ -z "${ENGINE_SRC:-}" ]; then
  for d in "$PROJECT_DIR/../shared/engine-src" /work/shared/engine-src; do
    if [ -d "$d" ]; then ENGINE_SRC=$(cd "$d" && pwd); break; fi
  done
fi
ENGINE_SRC=${ENGINE_SRC:-$PROJECT_DIR/../shared/engine-src}
TOOLS_CACHE=${PRIVATE_REGISTRY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/private-registry/tools}
mkdir -p "$TOOLS_CACHE"

log() { printf 'engine: %s\n' "$*" >&2; }
die() { printf 'engine: ERROR: %s\n' "$*" >&2; exit 1; }

# tools_lock: holds $TOOLS_CACHE/.lock (fd 8) until this process exits; taken once.
tools_lock() {
  [ -z "${TOOLS_LOCKED:-}" ] || return 0
  exec 8>"$TOOLS_CACHE/.lock"
  flock 8
  TOOLS_LOCKED=1
}

# cached NAME VERSION RECIPE [ARGS...]: prints the cache dir $TOOLS_CACHE/NAME-VERSION, building it
# first with `bash recipes/RECIPE.sh OUT VERSION ARGS...` when it is not complete yet. A build goes
# to a scratch dir and is renamed into place only when it succeeded, so a killed build leaves nothing.
cached() {
  local name=$1 version=$2 recipe=$3; shift 3
  local dir=$TOOLS_CACHE/$name-$version
  # one heavy build at a time, machine-wide; a cached tool needs no lock
  if [ ! -e "$dir/.complete" ]; then tools_lock; fi
  if [ ! -e "$dir/.complete" ]; then
    local scratch t0=$SECONDS
    scratch=$(mktemp -d "$TOOLS_CACHE/.build-$name-XXXXXX")
    log "building $name $version (log: $scratch.log)"
    if ! bash "$ENGINE_DIR/recipes/$recipe.sh" "$scratch" "$version" "$@" > "$scratch.log" 2>&1; then
      tail -n 40 "$scratch.log" >&2
      die "building $name $version failed; whole log: $scratch.log"
    fi
    rm -rf "$scratch/src" "$dir"
    touch "$scratch/.complete"
    mv "$scratch" "$dir"
    rm -f "$scratch.log"
    log "built $name $version in $((SECONDS - t0)) s"
  fi
  printf '%s\n' "$dir"
}

# unpack ARCHIVE DEST: one tree from $ENGINE_SRC, with its top folder stripped.
unpack() {
  local archive=$ENGINE_SRC/$1
  [ -f "$archive" ] || die "missing source archive $archive (see ../shared/engine-src)"
  mkdir -p "$2" && tar -xzf "$archive" -C "$2" --strip-components=1
}
