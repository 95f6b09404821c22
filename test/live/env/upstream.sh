#!/usr/bin/env bash
# The live suite's stand-in for Docker Hub (nothing outside this machine is reachable): a registry with a
# login, over plain HTTP on the host address, holding library/lt-mirror:1, which the program's
# pull-through mirror is pointed at. That image is FROM scratch with one layer of random bytes made
# anew each time, so no node has any of its blobs beforehand: each pull of it goes through the mirror
# for every blob. A second one serves the same image without a login: registry 2.8's proxy can log in
# only where the upstream's challenge names a token realm (as Docker Hub's does), not to plain basic
# auth. up.sh runs it; it prints the upstreams' facts as JSON.
# Usage: upstream.sh start|stop|resume   (needs DOCKER_HOST, LIVE_DIR, HOST_IP, REGISTRY_IMAGE)
set -Eeuo pipefail
: "${LIVE_DIR:?}" "${HOST_IP:?}" "${REGISTRY_IMAGE:?}" "${DOCKER_HOST:?}"
NAME=live-upstream
PORT=5620
USER_=hub-reader
REPO=library/lt-mirror:1
die() { echo "upstream.sh: ERROR: $*" >&2; exit 1; }

case ${1:-} in
  stop) docker stop -t 2 "$NAME" "$NAME-anon" >/dev/null; exit 0 ;;
  resume)
    docker start "$NAME" "$NAME-anon" >/dev/null
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/$HOST_IP/$PORT") 2>/dev/null && (exec 3<>"/dev/tcp/$HOST_IP/$((PORT + 1))") 2>/dev/null && exit 0; sleep 0.1; done
    die "the upstreams did not come back on $HOST_IP:$PORT and $((PORT + 1))" ;;
  start) ;;
  *) die "usage: upstream.sh start|stop|resume" ;;
esac
u=$LIVE_DIR/upstream
mkdir -p "$u"
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s' "$password" > "$u/password"
# bcrypt, as the registry's htpasswd wants it (libxcrypt's $2b$)
python3 -W ignore -c 'import crypt, sys; print(sys.argv[1] + ":" + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' \
  "$USER_" "$password" > "$u/htpasswd"
docker run -d --name "$NAME" --restart no -p "$HOST_IP:$PORT:5000" -v "$u/htpasswd:/auth/htpasswd:ro" \
  -e REGISTRY_AUTH=htpasswd -e REGISTRY_AUTH_HTPASSWD_REALM=upstream -e REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd \
  "$REGISTRY_IMAGE" >/dev/null || die "cannot start $NAME"
docker run -d --name "$NAME-anon" --restart no -p "$HOST_IP:$((PORT + 1)):5000" "$REGISTRY_IMAGE" >/dev/null || die "cannot start $NAME-anon"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/$HOST_IP/$PORT") 2>/dev/null && (exec 3<>"/dev/tcp/$HOST_IP/$((PORT + 1))") 2>/dev/null && break; sleep 0.1; done
mkdir -p "$u/image"
head -c 65536 /dev/urandom > "$u/image/stamp"
printf 'FROM scratch\nCOPY stamp /stamp\n' > "$u/image/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t localhost/lt-mirror:1 "$u/image" >/dev/null 2>"$u/build.log" || die "building the image failed: $(cat "$u/build.log")"
docker save localhost/lt-mirror:1 > "$u/test-image.tar"
skopeo copy -q --dest-tls-verify=false --dest-creds "$USER_:$password" "docker-archive:$u/test-image.tar" "docker://$HOST_IP:$PORT/$REPO" >/dev/null 2>"$u/push.log" ||
  die "pushing $REPO to the upstream failed: $(cat "$u/push.log")"
skopeo copy -q --dest-tls-verify=false "docker-archive:$u/test-image.tar" "docker://$HOST_IP:$((PORT + 1))/$REPO" >/dev/null 2>"$u/push.log" ||
  die "pushing $REPO to the anonymous upstream failed: $(cat "$u/push.log")"
digest=$(skopeo inspect --tls-verify=false --creds "$USER_:$password" --format '{{.Digest}}' "docker://$HOST_IP:$PORT/$REPO")
rm -f "$u/test-image.tar"
printf '{"url": "http://%s:%s", "anonymousUrl": "http://%s:%s", "username": "%s", "passwordFile": "%s", "image": "docker.io/%s", "digest": "%s"}\n' \
  "$HOST_IP" "$PORT" "$HOST_IP" "$((PORT + 1))" "$USER_" "$u/password" "$REPO" "$digest"
