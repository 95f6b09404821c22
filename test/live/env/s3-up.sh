#!/usr/bin/env bash
# The live suite's S3 store: versitygw (test/engine/build.sh s3) with its posix backend under $S3_DIR
# (default /tmp/pr-live-s3), serving S3 over TLS on the host address that nodes and pods reach
# (10.213.0.1, which up.sh puts on the host end of every node link; run it after up.sh), with a
# certificate from a CA of its own and one bucket created. The root keys are S3_ACCESS_KEY and
# S3_SECRET_KEY when set; otherwise the access key is digits only on purpose (unquoted in YAML it would
# become a number, so a client that types its configuration wrongly fails here) and the secret is random.
# Last line: the path of a JSON file with endpoint, region, bucket, accessKey, secretKey, caPem (the CA
# certificate's PEM text) and caFile. s3-down.sh undoes all of it.
set -Eeuo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3_DIR=${S3_DIR:-/tmp/pr-live-s3}
S3_DIR=${S3_DIR%/}
export S3_DIR
HOST_IP=${S3_HOST:-10.213.0.1}
PORT=${S3_PORT:-7070}          # the suite's other ports are 5000-5800
REGION=${S3_REGION:-us-east-1}
BUCKET=${S3_BUCKET:-registry}
ACCESS_KEY=${S3_ACCESS_KEY:-0123456789}
SECRET_KEY=${S3_SECRET_KEY:-$(openssl rand -hex 20)}

die() { echo "s3-up.sh: ERROR: $*" >&2; exit 1; }
trap 'echo "s3-up.sh: FAILED at line $LINENO: $BASH_COMMAND (log: $S3_DIR/versitygw.log; s3-down.sh cleans up)" >&2' ERR
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

case "$S3_DIR" in /?*/?*) ;; *) die "S3_DIR must be an absolute path at least two levels deep: '$S3_DIR'" ;; esac
for c in openssl curl python3 ip; do command -v "$c" >/dev/null || die "'$c' not found; run $HERE/install.sh"; done
# grep reads a here-string: `ip … | grep -q` would stop reading early, and pipefail would then fail on ip's SIGPIPE
grep -qF " $HOST_IP/" <<<"$(ip -o -4 addr show)" || die "no interface has $HOST_IP; start the live environment first (up.sh)"

engine_out=$(bash "$HERE/../../engine/build.sh" s3) || die "test/engine/build.sh s3 could not provide versitygw"
VGW=${engine_out##*$'\n'}/bin/versitygw
[ -x "$VGW" ] || die "no versitygw at $VGW"

bash "$HERE/s3-down.sh" >/dev/null
! tcp_open "$HOST_IP" "$PORT" || die "something else listens on $HOST_IP:$PORT"
mkdir -p "$S3_DIR/data" "$S3_DIR/pki"   # the bucket is made below through the S3 API, as a user would
chmod 700 "$S3_DIR"

# ---- a CA of its own and a server certificate for the host address -------------------------------------
pki=$S3_DIR/pki
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 7 -subj /CN=live-s3-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$pki/s3.key" -subj /CN=live-s3 -out "$pki/s3.csr" 2>/dev/null
openssl x509 -req -in "$pki/s3.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 7 \
  -extfile <(printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$HOST_IP") -out "$pki/s3.crt" 2>/dev/null

# ---- versitygw: root keys from its environment (never on a command line), no other VGW_* settings ------
(
  # shellcheck disable=SC2046 # one name per word
  unset $(compgen -v VGW_ || true) LOGFILE
  export ROOT_ACCESS_KEY_ID=$ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$SECRET_KEY
  # no inherited descriptors beyond stdio (run.sh's lock on fd 9 among them): the server outlives this script
  for fd in "/proc/$BASHPID/fd"/*; do fd=${fd##*/}; if ((fd > 2)); then eval "exec $fd>&-"; fi; done
  exec setsid "$VGW" --port "$HOST_IP:$PORT" --region "$REGION" --health /health \
    --cert "$pki/s3.crt" --key "$pki/s3.key" --quiet posix "$S3_DIR/data" \
    </dev/null >"$S3_DIR/versitygw.log" 2>&1
) &
echo $! > "$S3_DIR/versitygw.pid"

# curl with this CA, whatever SSL_CERT_FILE and the like in the environment point at
s3curl() { env -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR curl -sS --cacert "$pki/ca.crt" "$@"; }
end=$((SECONDS + 30))
until s3curl -f -o /dev/null "https://$HOST_IP:$PORT/health" 2>/dev/null; do
  kill -0 "$(<"$S3_DIR/versitygw.pid")" 2>/dev/null || die "versitygw exited: $(tail -n 20 "$S3_DIR/versitygw.log")"
  ((SECONDS < end)) || die "versitygw did not answer https://$HOST_IP:$PORT/health within 30 s"
  sleep 0.2
done

# the bucket, through a SigV4-signed PUT (the keys go to curl on stdin); versitygw insists on the payload
# hash header, which curl 7.88 does not add by itself (this one is of the empty body)
printf 'user = "%s:%s"\n' "$ACCESS_KEY" "$SECRET_KEY" |
  s3curl -f --config - --aws-sigv4 "aws:amz:$REGION:s3" -X PUT -o /dev/null \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    "https://$HOST_IP:$PORT/$BUCKET" ||
  die "creating the bucket $BUCKET failed"
[ -d "$S3_DIR/data/$BUCKET" ] || die "the bucket $BUCKET is not in $S3_DIR/data"

json=$S3_DIR/s3.json
# shellcheck disable=SC2016 # Python, not shell
S3_ENDPOINT="https://$HOST_IP:$PORT" S3_REGION_=$REGION S3_BUCKET_=$BUCKET S3_ACCESS=$ACCESS_KEY S3_SECRET=$SECRET_KEY \
S3_CA=$pki/ca.crt python3 -c '
import json, os, sys
e = os.environ
with open(e["S3_CA"]) as f: pem = f.read()
doc = {"endpoint": e["S3_ENDPOINT"], "region": e["S3_REGION_"], "bucket": e["S3_BUCKET_"], "accessKey": e["S3_ACCESS"],
       "secretKey": e["S3_SECRET"], "caPem": pem, "caFile": e["S3_CA"], "dataDir": os.path.join(e["S3_DIR"], "data"),
       "logFile": os.path.join(e["S3_DIR"], "versitygw.log")}
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f: json.dump(doc, f, indent=2); f.write("\n")
' "$json"
echo "s3-up.sh: versitygw serves https://$HOST_IP:$PORT (bucket $BUCKET, pid $(<"$S3_DIR/versitygw.pid"))" >&2
printf '%s\n' "$json"
