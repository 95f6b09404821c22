#!/usr/bin/env bash
# Copies a single-host registry's data into an S3 bucket, for moving a stack to cluster mode (docs/CLUSTER.md):
# the filesystem and S3 drivers lay the data out the same way, so the volume's tree goes to
# s3://<bucket><rootDirectory>/ as it is. Run it with pushes stopped, where the docker CLI reaches the
# registry's docker host; curl 7.75 or later (--aws-sigv4).
#   copy-volume-to-s3.sh VOLUME ENDPOINT BUCKET ROOT_DIRECTORY
# Environment: S3_ACCESS_KEY, S3_SECRET_KEY (never on the command line), S3_REGION (us-east-1), S3_CA_FILE (a
# private store's CA), IMAGE (an image with tar to read the volume; default the registry image registry:3.1.2),
# DOCKER_HOST as for the docker CLI. Objects of up to 5 GiB (one PUT each).
set -Eeuo pipefail
usage() { echo "usage: copy-volume-to-s3.sh VOLUME ENDPOINT BUCKET ROOT_DIRECTORY (keys in S3_ACCESS_KEY, S3_SECRET_KEY)" >&2; exit 2; }
(($# == 4)) || usage
volume=$1 endpoint=${2%/} bucket=$3 root=${4#/}
root=${root%/}
: "${S3_ACCESS_KEY:?set S3_ACCESS_KEY}" "${S3_SECRET_KEY:?set S3_SECRET_KEY}"
region=${S3_REGION:-us-east-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"
printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" > "$tmp/auth"
args=(-sS --fail-with-body --config "$tmp/auth" --aws-sigv4 "aws:amz:$region:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
if [[ -n ${S3_CA_FILE:-} ]]; then args+=(--cacert "$S3_CA_FILE"); fi

docker volume inspect "$volume" >/dev/null || { echo "copy-volume-to-s3.sh: no volume $volume on ${DOCKER_HOST:-the local docker engine}" >&2; exit 1; }
mkdir "$tmp/data"
docker run --rm --network none -v "$volume:/data:ro" --entrypoint tar "${IMAGE:-registry:3.1.2}" -C /data -cf - docker | tar -xf - -C "$tmp/data"
count=0 bytes=0
cd "$tmp/data"
while IFS= read -r -d '' f; do
  key=${f#./}
  # each path segment percent-encoded where S3 keys need it (registry paths are [A-Za-z0-9._:/-] and '+')
  enc=$(printf '%s' "$key" | sed 's/%/%25/g; s/+/%2B/g; s/:/%3A/g')
  curl "${args[@]}" -o /dev/null -T "$f" "$endpoint/$bucket/${root:+$root/}$enc"
  count=$((count + 1)) bytes=$((bytes + $(stat -c %s "$f")))
done < <(find . -type f -print0)
echo "copied $count files ($bytes bytes) from volume $volume to $endpoint/$bucket/${root:+$root/}"
