#!/usr/bin/env bash
# Node trust for a private registry, part 2 of 2: the steps create_items calls, one per kind of file,
# and main. Follows node-trust.sh in the script components/nodeScripts.ts sends (see there).
DAEMON_JSON=/etc/docker/daemon.json
CTD_DEFAULT_DIR=/etc/containerd/certs.d
HOSTS_WANT=''
TOML_FN='
function hdr(s) { sub(/^[[:space:]]*\[/, "", s); sub(/\][[:space:]]*(#.*)?$/, "", s); gsub(/[[:space:]]/, "", s); gsub(/\047/, "\"", s); return s }
function val(s) { sub(/^[^=]*=[[:space:]]*/, "", s); sub(/[[:space:]]*(#.*)?$/, "", s); gsub(/^["\047]|["\047]$/, "", s); return s }
'

system_trust() { # system_trust <file under CA_DIR>
  command -v update-ca-certificates >/dev/null || fail "system trust $1" "update-ca-certificates not found (install ca-certificates, or turn system trust off)"
  put "$1" whole "$(ca_pem)"
  # the store's link for it is missing too when a run was cut short after the write, before the rebuild
  local link
  link="/etc/ssl/certs/$(basename -- "${1%.crt}").pem"
  if ((CHANGED)) || [[ ! -e $link ]]; then need ca "installed $1"; fi
}

daemon_json() { # daemon_json add|remove <file or "">: prints the edited JSON; exit 3 = nothing to do
  python3 -c '
import json, sys
mode, path, reg = sys.argv[1:4]
try:
    with open(path) as f:
        text = f.read()
except FileNotFoundError:
    text = ""
cfg = json.loads(text) if text.strip() else {}
if not isinstance(cfg, dict):
    sys.exit(path + ": not a JSON object")
regs = cfg.get("insecure-registries") or []
if (reg in regs) == (mode == "add"):
    sys.exit(3)
rest = regs + [reg] if mode == "add" else [r for r in regs if r != reg]
if rest:
    cfg["insecure-registries"] = rest
else:
    del cfg["insecure-registries"]
print(json.dumps(cfg, indent=2))
' "$1" "$2" "$REGISTRY"
}

ctd_info() { # ctd_info <file>: sets CTD_SEC (registry section), CTD_PLUGIN, CTD_CUR (config_path), CTD_CONFLICT
  local f=$1 version=2
  CTD_CUR='' CTD_CONFLICT=0
  if [[ -e $f ]]; then
    version=$(awk "$TOML_FN"'/^[[:space:]]*\[/ { exit } /^[[:space:]]*version[[:space:]]*=/ { print val($0); exit }' "$f")
  fi
  case $version in
    2) CTD_PLUGIN=io.containerd.grpc.v1.cri ;;
    3) CTD_PLUGIN=io.containerd.cri.v1.images ;;
    *) fail "read $f" "unsupported containerd config version '${version:-1}' (expected 2 or 3); set config_path yourself" ;;
  esac
  CTD_SEC="plugins.\"$CTD_PLUGIN\".registry"
  [[ -e $f ]] || return 0
  # containerd refuses config_path next to registry.mirrors."x" or registry.configs."x".tls.
  IFS=$'\t' read -r CTD_CONFLICT CTD_CUR < <(awk -v sec="$CTD_SEC" "$TOML_FN"'
    /^[[:space:]]*\[/ { cur = hdr($0); if (index(cur, sec ".mirrors.") == 1 || (index(cur, sec ".configs.") == 1 && cur ~ /\.tls$/)) bad = 1; next }
    cur == sec && /^[[:space:]]*config_path[[:space:]]*=/ { path = val($0) }
    END { printf "%d\t%s\n", bad, path }' "$f")
}

ctd_edit() { # ctd_edit <file or "">: the file with config_path enabled (deterministic, so delete can recompute it)
  local f=$1
  ctd_info "$f"
  if [[ ! -e $f ]]; then
    printf 'version = 2\n\n[%s]\n  config_path = "%s"\n' "$CTD_SEC" "$CTD_DEFAULT_DIR"
    return 0
  fi
  awk -v sec="$CTD_SEC" -v dir="$CTD_DEFAULT_DIR" "$TOML_FN"'
    FNR == 1 { cur = "" }
    FNR == NR { if (/^[[:space:]]*\[/) cur = hdr($0); else if (cur == sec && /^[[:space:]]*config_path[[:space:]]*=/) has = 1; next }
    /^[[:space:]]*\[/ {
      cur = hdr($0); print
      if (cur == sec) { found = 1; if (!has) { ind = $0; sub(/\[.*/, "", ind); print ind "  config_path = \"" dir "\"" } }
      next
    }
    cur == sec && /^[[:space:]]*config_path[[:space:]]*=/ { ind = $0; sub(/config_path.*/, "", ind); print ind "config_path = \"" dir "\""; next }
    { print }
    END { if (!found) printf "\n[%s]\n  config_path = \"%s\"\n", sec, dir }' "$f" "$f"
}

containerd_trust() {
  local cfg=$CTD_CONFIG dir new
  DESIRED+=("$cfg")
  STEP="read $cfg"
  ctd_info "$cfg"
  dir=${CTD_CUR%%:*}
  dir=${dir%/}
  if [[ -n $dir ]]; then
    say unchanged "$cfg"
  else
    ((CTD_CONFLICT == 0)) || fail "enable config_path in $cfg" "registry.mirrors or registry.configs.*.tls is set, which containerd refuses together with config_path; move them to hosts.toml first"
    dir=$CTD_DEFAULT_DIR
    STEP="edit $cfg"
    new=$(ctd_edit "$cfg")
    # A second check with a real TOML parser, where there is one: an odd layout must not leave containerd unable to start.
    if command -v python3 >/dev/null && python3 -c 'import tomllib' 2>/dev/null; then
      emit "$new" | python3 -c '
import sys, tomllib
c = tomllib.load(sys.stdin.buffer)
sys.exit(str(c["plugins"][sys.argv[1]]["registry"]["config_path"]).split(":")[0] != sys.argv[2])
' "$CTD_PLUGIN" "$dir" 2>/dev/null || fail "enable config_path in $cfg" "the edit would not give valid TOML with config_path set (unusual layout); set config_path = \"$dir\" yourself"
    fi
    need containerd "enabled config_path = \"$dir\" in $cfg so containerd reads $dir/$REGISTRY/hosts.toml; needed once"
    put "$cfg" ctd "$new"
  fi
  put "$dir/$REGISTRY/ca.crt" whole "$(ca_pem)"
  put "$dir/$REGISTRY/hosts.toml" whole "$(hosts_toml "$dir/$REGISTRY")"
}

docker_insecure() {
  local new
  command -v python3 >/dev/null || fail "insecure-registries in $DAEMON_JSON" "python3 is required to edit the JSON (install it, or turn insecureRegistry off)"
  DESIRED+=("$DAEMON_JSON")
  STEP="add $REGISTRY to insecure-registries in $DAEMON_JSON"
  if new=$(daemon_json add "$DAEMON_JSON"); then
    need docker "added $REGISTRY to insecure-registries in $DAEMON_JSON"
    put "$DAEMON_JSON" docker "$new"
  elif (($? == 3)); then
    say unchanged "$DAEMON_JSON"
  else
    fail "$STEP" "python3 could not edit it (is it valid JSON?)"
  fi
}

hosts_line() { # hosts_line <line or "">: our marked line becomes exactly this (or goes away)
  local f=/etc/hosts want=$1 marked new
  HOSTS_WANT=$want
  local prog='function ours(l) { return length(l) >= length(m) && substr(l, length(l) - length(m) + 1) == m }'
  if [[ ! -f $f ]]; then [[ -z $want ]] && return 0; : > "$f"; fi
  STEP="read $f"
  marked=$(awk -v m=" # $ID" "$prog"' ours($0)' "$f")
  if [[ $marked == "$want" ]]; then
    if [[ -n $want ]]; then say unchanged "$f"; fi
    return 0
  fi
  STEP="edit $f"
  # Remember a missing final newline so delete can give the file back byte for byte.
  if [[ -n $want && -s $f && -n $(tail -c1 -- "$f") ]]; then record hostsnl; fi
  new=$(awk -v m=" # $ID" -v want="$want" "$prog"'
    ours($0) { if (want != "" && !done) print want; done = 1; next }
    { print }
    END { if (want != "" && !done) print want }' "$f")
  # In place: /etc/hosts is often a bind mount that cannot be replaced by rename.
  if [[ -z $want ]] && has_entry hostsnl; then printf '%s' "$new" > "$f"; else emit "$new" > "$f"; fi
  say changed "$f"
}

hosts_toml() { # hosts_toml <host dir>: containerd takes the registry from the directory's name, and so does this
  cat <<EOF
server = "https://${1##*/}"

[host."https://${1##*/}"]
  capabilities = ["pull", "resolve", "push"]
  ca = "$1/ca.crt"
EOF
}

wanted() { # wanted <kind> <path>: does this run keep that manifest entry?
  local d
  case $1 in
    hostsnl) [[ -n $HOSTS_WANT ]] ;;
    put) for d in ${DESIRED[@]+"${DESIRED[@]}"}; do [[ $d != "$2" ]] || return 0; done; return 1 ;;
    dir) for d in ${DESIRED[@]+"${DESIRED[@]}"}; do [[ $d != "$2"/* ]] || return 0; done; return 1 ;;
    *) return 1 ;;
  esac
}

# Everything runs inside main with stdin from /dev/null: the script itself arrives on stdin, and any
# command reading stdin (python3, a restart command) would otherwise swallow the rest of it.
main() {
  local mode=${1:-}
  case $mode in
    create | delete) ;;
    *) fail usage "expected create or delete as the first argument, got '$mode'" ;;
  esac
  ((EUID == 0)) || fail "$mode" "must run as root (a non-root user goes through sudo -n)"
  if [[ $mode == create ]]; then create_items; else hosts_line ''; fi
  prune
  settle ca-fresh "updated: system CA bundle" "update-ca-certificates --fresh"
  settle ca "updated: system CA bundle" update-ca-certificates
  settle containerd "restarted: containerd" "$CTD_RESTART"
  settle docker "restarted: docker" "$DOCKER_RESTART"
  if [[ $mode == delete ]]; then
    STEP="remove $MANIFEST"
    rm -f -- "$MANIFEST"
    rmdir -- "$BACKUPS" 2>/dev/null || true
    rmdir -- "$STATE" 2>/dev/null || true
  fi
}

main "$@" </dev/null
