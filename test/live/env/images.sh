#!/usr/bin/env bash
# The live suite's images, built FROM scratch on the suite's dockerd (up.sh runs this; no registry is
# reachable): the registry:2 line from Debian's docker-registry, the registry:3 line from the
# distribution v3 module (test/engine/build.sh registry), an nginx image from Debian's nginx package,
# a node image from this machine's node (the maintenance runner's base), a busybox test image and a
# many-layer image.
# Needs DOCKER_HOST and the names up.sh passes in the environment.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${LIVE_DIR:?}" "${BUSYBOX:?}" "${PYTHON:?}" "${REGISTRY_IMAGE:?}" "${REGISTRY3_IMAGE:?}" "${FRONT_IMAGE:?}" \
  "${TEST_IMAGE:?}" "${LAYERS_IMAGE:?}" "${LAYER_COUNT:?}" "${NODE_IMAGE:?}"
die() { echo "images.sh: ERROR: $*" >&2; exit 1; }
add_busybox() { # rootfs: static busybox at /bin/busybox plus one relative symlink per applet (one process,
  # not ~270 ln forks), i.e. what `busybox --install -s /bin` does inside the image
  mkdir -p "$1/bin" "$1/tmp"
  chmod 1777 "$1/tmp"
  cp "$BUSYBOX" "$1/bin/busybox"
  # shellcheck disable=SC2046 # one applet name per word
  "$PYTHON" -c 'import os, sys
for a in sys.argv[2:]:
    if not os.path.lexists(os.path.join(sys.argv[1], a)): os.symlink("busybox", os.path.join(sys.argv[1], a))
' "$1/bin" $("$BUSYBOX" --list)
}

build_registry_image() {
  local ctx=$LIVE_DIR/build/registry r=$LIVE_DIR/build/registry/rootfs lib
  mkdir -p "$r"/{etc/docker/registry,etc/ssl/certs,var/lib/registry,root}
  add_busybox "$r"
  cp /usr/bin/docker-registry "$r/bin/registry"
  for lib in $(ldd /usr/bin/docker-registry | grep -o '/[^ ]*'); do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
  done
  cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  echo 'hosts: files dns' > "$r/etc/nsswitch.conf"
  # Upstream (distribution-library-image) config-example.yml and docker-entrypoint.sh.
  cat > "$r/etc/docker/registry/config.yml" <<'EOF'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
  cat > "$r/entrypoint.sh" <<'EOF'
#!/bin/sh

set -e

case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac

exec "$@"
EOF
  chmod 755 "$r/entrypoint.sh"
  cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["/entrypoint.sh"]
CMD ["/etc/docker/registry/config.yml"]
EOF
  docker build -q -t "$REGISTRY_IMAGE" "$ctx" >/dev/null 2>"$ctx/build.log" ||
    die "building $REGISTRY_IMAGE failed: $(cat "$ctx/build.log")"
}

# Laid out like the official registry:3 image (distribution's Dockerfile): /bin/registry, the module's
# config-dev.yml at /etc/distribution/config.yml, OTEL_TRACES_EXPORTER=none; busybox stands in for
# alpine's shell and wget, which the program's health check uses.
build_registry3_image() {
  local ctx=$LIVE_DIR/build/registry3 r=$LIVE_DIR/build/registry3/rootfs dist
  dist=$(bash "$HERE/../../engine/build.sh" registry | tail -n 1) || die "test/engine/build.sh registry failed"
  mkdir -p "$r"/{etc/distribution,etc/ssl/certs,var/lib/registry,root}
  add_busybox "$r"
  cp "$dist/bin/registry" "$r/bin/registry"
  cp "$dist/config-dev.yml" "$r/etc/distribution/config.yml"
  cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
  echo 'hosts: files dns' > "$r/etc/nsswitch.conf"
  cat > "$ctx/Dockerfile" <<'EOF2'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
VOLUME ["/var/lib/registry"]
ENV OTEL_TRACES_EXPORTER=none
EXPOSE 5000
ENTRYPOINT ["registry"]
CMD ["serve", "/etc/distribution/config.yml"]
EOF2
  docker build -q -t "$REGISTRY3_IMAGE" "$ctx" >/dev/null 2>"$ctx/build.log" ||
    die "building $REGISTRY3_IMAGE failed: $(cat "$ctx/build.log")"
}

# Debian's nginx package, unpacked once per version into the tools cache test/engine/lib.sh uses
# (fetched with apt-get download, never installed: its postinst would start a server on :80); when apt
# cannot fetch it, the newest unpacked one. Prints the dir holding usr/sbin/nginx.
NGINX_UPSTREAM=1.22.1   # bookworm's line; FRONT_IMAGE's tag names it
nginx_deb() {
  local cache version dir scratch log
  # shellcheck source-path=SCRIPTDIR source=../../engine/lib.sh
  cache=$(. "$HERE/../../engine/lib.sh" && echo "$TOOLS_CACHE") || die "test/engine/lib.sh failed"
  candidate() { apt-cache policy nginx 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
  version=$(candidate)
  if [[ $version != "$NGINX_UPSTREAM"-* ]]; then apt-get update -qq >/dev/null 2>&1 || true; version=$(candidate); fi
  dir=$cache/nginx-deb-$version
  if [[ $version == "$NGINX_UPSTREAM"-* ]] && [ ! -e "$dir/.complete" ]; then
    scratch=$(mktemp -d "$cache/.build-nginx-deb-XXXXXX")
    if { (cd "$scratch" && apt-get download -o APT::Sandbox::User=root "nginx=$version") &&
      dpkg-deb -x "$scratch"/nginx_*.deb "$scratch/root" && [ -x "$scratch/root/usr/sbin/nginx" ]; } >"$scratch.log" 2>&1; then
      rm -f "$scratch"/nginx_*.deb
      touch "$scratch/.complete"
      [ -e "$dir/.complete" ] || rm -rf "$dir"
      mv -T "$scratch" "$dir" 2>/dev/null || true   # another up.sh may have won the race
    fi
    log=$(cat "$scratch.log")
    rm -rf "$scratch" "$scratch.log"
  fi
  if [ ! -e "$dir/.complete" ]; then
    dir=$(printf '%s\n' "$cache/nginx-deb-$NGINX_UPSTREAM"-*/.complete | sort -V | tail -n 1)
    [ -e "$dir" ] || die "no nginx $NGINX_UPSTREAM from apt (candidate '$version'; Debian 12 needed) nor cached: ${log:-}"
    dir=${dir%/.complete}
    echo "images.sh: apt cannot fetch nginx $NGINX_UPSTREAM; using ${dir##*/}: ${log:-}" >&2
  fi
  printf '%s\n' "$dir/root"
}

# The stand-in for nginx:1.22: Debian's binary and the libraries it links, and a harmless default config.
# Its log and temp dirs are world-writable, so it also runs as nobody (65534) with temp paths under /tmp.
build_front_image() {
  local ctx=$LIVE_DIR/build/front r=$LIVE_DIR/build/front/rootfs src libs lib
  src=$(nginx_deb)
  libs=$(ldd "$src/usr/sbin/nginx") || die "ldd $src/usr/sbin/nginx failed"
  [[ $libs != *"not found"* ]] || die "nginx needs a library the host lacks: $libs"
  mkdir -p "$r"/{etc/nginx,usr/sbin,var/log/nginx,var/lib/nginx,run,usr/share/nginx/html}
  chmod 1777 "$r"/{var/log/nginx,var/lib/nginx,run}
  add_busybox "$r"
  cp "$src/usr/sbin/nginx" "$r/usr/sbin/nginx"
  while read -r lib; do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
  done < <(grep -o '/[^ ]*' <<<"$libs")
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n' > "$r/etc/group"
  echo 'hosts: files dns' > "$r/etc/nsswitch.conf"
  echo '<!DOCTYPE html><title>nginx</title><p>nginx (live-suite image)</p>' > "$r/usr/share/nginx/html/index.html"
  cat > "$r/etc/nginx/nginx.conf" <<'EOF'
worker_processes 1;
error_log stderr;
pid /run/nginx.pid;
events { worker_connections 256; }
http {
  types { text/html html; text/plain txt; }
  default_type application/octet-stream;
  access_log /dev/stdout;
  server {
    listen 80;
    root /usr/share/nginx/html;
  }
}
EOF
  cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
  docker build -q -t "$FRONT_IMAGE" "$ctx" >/dev/null 2>"$ctx/build.log" ||
    die "building $FRONT_IMAGE failed: $(cat "$ctx/build.log")"
}

# This machine's node binary and the libraries it loads, on busybox: stands in for node:<major>-alpine.
build_node_image() {
  local ctx=$LIVE_DIR/build/node r=$LIVE_DIR/build/node/rootfs lib node
  node=$(command -v node) || die "no node on the PATH"
  mkdir -p "$r/usr/local/bin" "$r/etc"
  add_busybox "$r"
  cp -L "$node" "$r/usr/local/bin/node"
  for lib in $(ldd "$node" | grep -o '/[^ ]*'); do
    mkdir -p "$r$(dirname "$lib")"
    cp -L "$lib" "$r$lib"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
  printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\nCMD ["node"]\n' > "$ctx/Dockerfile"
  docker build -q -t "$NODE_IMAGE" "$ctx" >/dev/null 2>"$ctx/build.log" ||
    die "building $NODE_IMAGE failed: $(cat "$ctx/build.log")"
}

build_test_image() {
  local ctx=$LIVE_DIR/build/busybox
  add_busybox "$ctx/rootfs"
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n' > "$ctx/Dockerfile"
  docker build -q -t "$TEST_IMAGE" "$ctx" >/dev/null 2>"$ctx/build.log" ||
    die "building $TEST_IMAGE failed: $(cat "$ctx/build.log")"
}

# The layers image is the test image plus LAYER_COUNT layers, each adding one small distinct file
# /layers/layer-NN.txt. It is assembled as a docker-archive and loaded: 22 builder COPY steps take ~10 s.
build_layers_image() {
  local log=$LIVE_DIR/build/layers.log
  docker save "$TEST_IMAGE" | "$PYTHON" -c '
import hashlib, io, json, sys, tarfile
tag, count = sys.argv[1], int(sys.argv[2])
src = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()))
man = json.load(src.extractfile("manifest.json"))[0]
cfg = json.load(src.extractfile(man["Config"]))
out = tarfile.open(fileobj=sys.stdout.buffer, mode="w|")
def put(name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
layers = list(man["Layers"])
for name in layers:
    put(name, src.extractfile(name).read())
for i in range(1, count + 1):
    name = f"layers/layer-{i:02d}.txt"
    body = "".join(f"lt-layers layer {i:02d} line {j:04d}\n" for j in range(300)).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as layer:
        d = tarfile.TarInfo("layers")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        layer.addfile(d)
        f = tarfile.TarInfo(name)
        f.size, f.mode = len(body), 0o644
        layer.addfile(f, io.BytesIO(body))
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    put(f"{digest}/layer.tar", buf.getvalue())
    layers.append(f"{digest}/layer.tar")
    cfg["rootfs"]["diff_ids"].append(f"sha256:{digest}")
    cfg["history"].append({"created": cfg["created"], "created_by": f"COPY {name} /{name}"})
raw = json.dumps(cfg).encode()
config = hashlib.sha256(raw).hexdigest() + ".json"
put(config, raw)
put("manifest.json", json.dumps([{"Config": config, "RepoTags": [tag], "Layers": layers}]).encode())
out.close()
' "$LAYERS_IMAGE" "$LAYER_COUNT" 2>"$log" | docker load -q >/dev/null 2>>"$log" ||
    die "building $LAYERS_IMAGE failed: $(cat "$log")"
}


build_registry_image &
r2=$!
build_registry3_image &
r3=$!
build_front_image &
rf=$!
build_test_image
build_node_image
build_layers_image
wait "$r2" || die "building $REGISTRY_IMAGE failed"
wait "$r3" || die "building $REGISTRY3_IMAGE failed"
wait "$rf" || die "building $FRONT_IMAGE failed"
