#!/usr/bin/env bash
# Cluster mode's store, checked where pulumi runs before anything is rolled out: one signed ListObjectsV2
# of the bucket (curl --aws-sigv4). Prints "ok", "fail <message naming the key at fault>", or "note <why
# it could not be checked from here>" (the pods may reach a store this machine does not; their readiness
# checks it then). Exits 0 either way.
# Environment: ENDPOINT (https://host[:port]), REGION, BUCKET, PREFIX (rootDirectory), CA_PEM (optional);
# on stdin the access key and the secret key, one per line (nothing secret on a command line).
set -uo pipefail
K=private-registry:cluster.s3
IFS= read -r ak || ak=''
IFS= read -r sk || sk=''
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v curl >/dev/null || ! curl --help all 2>/dev/null | grep -q -- --aws-sigv4; then
  echo "note the store was not checked: curl with --aws-sigv4 (7.75 or later) is not on PATH"; exit 0
fi
args=(-sS -o "$tmp/body" -w '%{http_code}' --max-time 20)
if [[ -n ${CA_PEM:-} ]]; then printf '%s\n' "$CA_PEM" > "$tmp/ca.crt"; args+=(--cacert "$tmp/ca.crt"); fi
if [[ -z $ak ]]; then echo "note the store was not checked: no keys given (the pods use their own credentials)"; exit 0; fi
printf 'user = "%s:%s"\n' "$ak" "$sk" > "$tmp/auth"
# SigV4 signs the payload's hash; S3 wants it as a header too (here: the empty body's)
args+=(--config "$tmp/auth" --aws-sigv4 "aws:amz:$REGION:s3" -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)")
root=${PREFIX#/}
code=$(curl "${args[@]}" "${ENDPOINT%/}/$BUCKET?list-type=2&max-keys=1&prefix=${root}" 2>"$tmp/err")
rc=$?
case $rc in
  0) ;;
  60 | 35 | 51 | 58 | 77 | 83 | 90 | 91)
    echo "fail $K.caPem: the store's certificate at $ENDPOINT is not trusted ($(tr '\n' ' ' < "$tmp/err")): give its CA in $K.caPem"; exit 0 ;;
  6) echo "fail $K.endpoint: cannot resolve the host of $ENDPOINT"; exit 0 ;;
  *) echo "note the store was not checked: $ENDPOINT does not answer from here ($(tr '\n' ' ' < "$tmp/err"))"; exit 0 ;;
esac
err=$(sed -n 's:.*<Code>\([^<]*\)</Code>.*:\1:p' "$tmp/body" | head -n 1)
case $code:$err in
  200:*) echo ok ;;
  *:InvalidAccessKeyId | *:XAdminUserNotFound) echo "fail $K.accessKey: the store does not know this access key" ;;
  *:NoSuchBucket | 404:*) echo "fail $K.bucket: there is no bucket \"$BUCKET\" at $ENDPOINT (the registry never creates it)" ;;
  *:SignatureDoesNotMatch) echo "fail $K.secretKey: the store refused the signature (a wrong secret key for this access key)" ;;
  *:AuthorizationHeaderMalformed | *:IncorrectRegion | *:InvalidRegion) echo "fail $K.region: the store expects another region than \"$REGION\"" ;;
  403:*) echo "fail $K.accessKey: the store refused to list bucket \"$BUCKET\" with these keys (${err:-403}): they must read, write and list under ${PREFIX:-/}" ;;
  *) echo "fail $K.endpoint: $ENDPOINT answered HTTP $code${err:+ ($err)} to a bucket listing: is it an S3 API endpoint?" ;;
esac
