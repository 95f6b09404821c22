#!/usr/bin/env bash
# The seed recipe's registry steps, scripted by hand as a user would type them: a CA and a server
# certificate with openssl, an htpasswd line, `docker run` of the registry with TLS and auth, then wait
# until it answers. The yardstick for a cold `pulumi up` of the dev stack.
# Usage: recipe.sh WORKDIR IMAGE   (DOCKER_HOST names the engine; container bench-recipe on 127.0.0.1:5002)
set -euo pipefail
cd "$1"
image=$2
mkdir -p certs auth
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout certs/ca.key -out certs/ca.crt -subj "/CN=Registry CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -keyout certs/domain.key -out certs/domain.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > certs/ext.cnf
openssl x509 -req -sha256 -days 365 -in certs/domain.csr -CA certs/ca.crt -CAkey certs/ca.key -CAcreateserial \
  -extfile certs/ext.cnf -out certs/domain.crt 2>/dev/null
pass=$(openssl rand -hex 16)
# the recipe's `htpasswd -Bbn` (apache2-utils is not installed here): the same bcrypt line from bcryptjs
node -e 'const b = require(process.argv[1]); console.log("admin:" + b.hashSync(process.argv[2], b.genSaltSync(5)))' \
  "$(dirname "$0")/../node_modules/bcryptjs" "$pass" > auth/htpasswd
docker volume create bench-recipe-data >/dev/null
docker run -d --name bench-recipe --restart=always -p 127.0.0.1:5002:5000 -v "$PWD/certs:/certs:ro" -v "$PWD/auth:/auth:ro" \
  -v bench-recipe-data:/var/lib/registry -e REGISTRY_AUTH=htpasswd -e "REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm" \
  -e REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd -e REGISTRY_HTTP_TLS_CERTIFICATE=/certs/domain.crt \
  -e REGISTRY_HTTP_TLS_KEY=/certs/domain.key "$image" >/dev/null
for _ in $(seq 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert certs/ca.crt https://127.0.0.1:5002/v2/)" = 401 ] && exit 0
  sleep 0.05
done
echo "recipe.sh: the registry did not answer" >&2
exit 1
