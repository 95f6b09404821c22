#!/usr/bin/env bash
# Node trust for a private registry, part 5 of 6: the cleanRecipe opt-in, which takes away what the manual
# recipe left on the node for this registry: its insecure-registries entry in daemon.json (docker) and its
# self-signed certificate in the system CA store. Its /etc/hosts line is commented out by hosts_line (with
# hostsAddress). What it removes is the user's, not this stack's: it is not recorded in the manifest and
# delete does not give it back. Follows node-trust-hosts.sh in the script components/nodes/nodeScripts.ts sends.

# One value out of a list key of a JSON object file, written to <out>; exit 3 when it is not there. A key
# left empty goes away, and is also written to <out>.clear as an empty list: dockerd's reload changes only
# the keys the file has (as in DAEMON_JSON_PY, node-trust-docker.sh).
RECIPE_JSON_PY='
import json, sys
path, key, value, out = sys.argv[1:]
try:
    with open(path) as f:
        text = f.read()
except FileNotFoundError:
    sys.exit(3)
cfg = json.loads(text) if text.strip() else {}
if not isinstance(cfg, dict):
    sys.exit(path + ": not a JSON object")
cur = cfg.get(key)
if not isinstance(cur, list) or value not in cur:
    sys.exit(3)
cfg[key] = [x for x in cur if x != value]
if not cfg[key]:
    del cfg[key]
    with open(out + ".clear", "w") as f:
        f.write(json.dumps({**cfg, key: []}, indent=2) + "\n")
with open(out, "w") as f:
    f.write(json.dumps(cfg, indent=2) + "\n")
'

clean_recipe() { # clean_recipe <runtime>: create only; reports each thing it removes
  if [[ $1 == docker ]]; then recipe_insecure; fi
  recipe_certificate
}

recipe_need_reload() { # recipe_need_reload <reason>: a pending reload, keeping the reason of one already pending
  local f="$RUNDIR/$REGISTRY.reload"
  if [[ -s $f ]]; then need reload "$(cat -- "$f"); $1"; else need reload "$1"; fi
}

recipe_json() { # recipe_json <file> <out>: this registry out of insecure-registries into <out>; 1 when not listed
  local rc=0
  rm -f -- "$2" "$2.clear"
  STEP="edit $1"
  python3 -c "$RECIPE_JSON_PY" "$1" insecure-registries "$REGISTRY" "$2" || rc=$?
  case $rc in
    0) return 0 ;;
    3) return 1 ;;
    *) fail "$STEP" "python3 could not edit it (is it valid JSON?)" ;;
  esac
}

# The recipe's `"insecure-registries":["<host:port>"]`, out of daemon.json unless a stack relies on it (its
# insecureRegistry), applied by the reload, never a restart. Also out of the original the stacks keep of
# daemon.json (node-trust-shared.sh), so that giving that back does not bring it back.
recipe_insecure() {
  local f=$DAEMON_JSON o out="$RUNDIR/$REGISTRY.recipe.json" who why
  o=$(orig_of "$f")
  grep -qsF -- "$REGISTRY" "$f" "$o" || return 0
  who=$(others daemon-json insecure-registries | awk -F'\t' -v r="$REGISTRY" '$4 == r && !n++ { print $1 }')
  if [[ -n $who ]]; then
    say note "insecure-registries entry $REGISTRY kept in $f: the stack of $who relies on it (insecureRegistry)"
    return 0
  fi
  if ! command -v python3 >/dev/null; then
    say note "python3 not found: the recipe's insecure-registries entry $REGISTRY stays in $f"
    return 0
  fi
  mkdir -p -- "$RUNDIR"
  # the original first: a run cut short in between still finds the entry in the file
  if [[ -f $o ]] && recipe_json "$o" "$out"; then
    STEP="edit $o"
    emit "$(cat -- "$out")" > "$o"
    say removed "insecure-registries entry $REGISTRY from $o, the saved original of $f (recipe)"
  fi
  if recipe_json "$f" "$out"; then
    say removed "insecure-registries entry $REGISTRY from $f (recipe)"
    why="removed the recipe's insecure-registries entry $REGISTRY from $f"
    # the key goes: the runtime reads it empty once, then the file is written without it
    if [[ -f $out.clear ]]; then
      STEP="edit $f"
      emit "$(cat -- "$out.clear")" > "$f"
      recipe_need_reload "$why"
      reload_read "$f"
    fi
    STEP="edit $f"
    emit "$(cat -- "$out")" > "$f"
    if [[ ! -f $out.clear ]]; then recipe_need_reload "$why"; fi
    # a stack that added the same entry earlier (its insecureRegistry since switched off) no longer has it
    if [[ -f $ADDED ]]; then
      set_file "$ADDED" "$(awk -F'\t' -v r="$REGISTRY" '!($1 == "insecure-registries" && $2 == r)' "$ADDED")"
    fi
  fi
  rm -f -- "$out" "$out.clear"
  rmdir -- "$RUNDIR" 2>/dev/null || true
}

# recipe_cert <file> <host>: is the file one self-signed certificate (issuer = subject, and its signature
# verifies with its own key, whatever its dates) that names <host> as its CN or a DNS or IP SAN? Without
# -check_ss_sig openssl takes a certificate it is given as trusted without checking its own signature.
recipe_cert() {
  local f=$1 h=${2,,} n subject='' issuer='' names
  n=$(grep -c -- '-----BEGIN CERTIFICATE-----' "$f" 2>/dev/null) || return 1
  ((n == 1)) || return 1
  { read -r subject && read -r issuer; } < <(openssl x509 -noout -subject -issuer -nameopt RFC2253 -in "$f" 2>/dev/null) || return 1
  [[ -n ${subject#subject=} && ${subject#subject=} == "${issuer#issuer=}" ]] || return 1
  openssl verify -no_check_time -check_ss_sig -CAfile "$f" "$f" >/dev/null 2>&1 || return 1
  names=$({ openssl x509 -noout -subject -nameopt multiline -in "$f" && openssl x509 -noout -text -in "$f"; } 2>/dev/null | awk '
    /^ +commonName += / { sub(/^ +commonName += /, ""); print tolower($0) }
    san { n = split($0, a, /, /); for (i = 1; i <= n; i++) { s = a[i]; sub(/^ +/, "", s); if (s ~ /^(DNS|IP Address):/) { sub(/^[^:]*:/, "", s); print tolower(s) } } san = 0 }
    /X509v3 Subject Alternative Name:/ { san = 1 }') || return 1
  grep -qxF -- "$h" <<<"$names"
}

recipe_own_fingerprints() { # the SHA-256 fingerprint of each certificate of this stack's CA (ca_pem)
  local block='' line
  while IFS= read -r line; do
    block+="$line"$'\n'
    if [[ $line == "-----END CERTIFICATE-----" ]]; then
      printf '%s' "$block" | openssl x509 -noout -fingerprint -sha256
      block=''
    fi
  done < <(ca_pem)
}

# The recipe's certificate for the hostname, out of the system CA store (in the layout trust_layout finds),
# which is then rebuilt. Never a file a stack wrote (any stack's manifest), nor this stack's own CA.
recipe_certificate() {
  local host=${REGISTRY%%:*} f m p fp ours=() own=() skip
  if ! (trust_layout) >/dev/null 2>&1; then
    say note "no system CA store this script knows on this node: not searched for the recipe's certificate for $host"
    return 0
  fi
  trust_layout
  [[ -d $TRUST_DIR ]] || return 0
  if ! command -v openssl >/dev/null; then
    say note "openssl not found: $TRUST_DIR not searched for the recipe's certificate for $host"
    return 0
  fi
  STEP="search $TRUST_DIR for the recipe's certificate for $host"
  for m in /etc/private-registry*/*.manifest; do
    if [[ -f $m ]]; then mapfile -t -O "${#ours[@]}" ours < <(awk -F'\t' '$1 == "put" { print $2 }' "$m"); fi
  done
  mapfile -t own < <(recipe_own_fingerprints)
  while IFS= read -r -d '' f; do
    skip=0
    for p in ${ours[@]+"${ours[@]}"}; do [[ $p != "$f" ]] || skip=1; done
    ((!skip)) || continue
    recipe_cert "$f" "$host" || continue
    fp=$(openssl x509 -noout -fingerprint -sha256 -in "$f")
    for p in ${own[@]+"${own[@]}"}; do [[ $p != "$fp" ]] || skip=1; done
    ((!skip)) || continue
    STEP="remove $f"
    rm -f -- "$f"
    say removed "$f (the recipe's self-signed certificate for $host)"
    trust_removed "$f"
  done < <(find "$TRUST_DIR" -type f -print0 | sort -z)
}
