#!/usr/bin/env bash
# Node trust for a private registry, part 2 of 2: the steps create_items calls, one per kind of file,
# and main. Follows node-trust.sh in the script components/nodeScripts.ts sends (see there).
DAEMON_JSON=/etc/docker/daemon.json
DOCKER_ENTRIES="$STATE/$REGISTRY.daemon-json-entries"   # what this stack added to daemon.json
DOCKER_ENTRIES_NEW="$RUNDIR/$REGISTRY.daemon-json-entries"   # this run's, moved over it when they differ
DOCKER_WANT=()
CRIO_DROPIN="/etc/containers/registries.conf.d/50-$ID-mirror.conf"
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

daemon_json() { # daemon_json add|expect|remove <file or "">: prints the edited JSON; exit 3 = nothing to do
  # add: the file without the entries recorded as ours, plus this run's (DOCKER_WANT); the ones it had to
  # add go to $DOCKER_ENTRIES_NEW. expect: the file plus the recorded entries. remove: the file without them.
  python3 -c '
import json, sys
mode, path, entries, entries_new, *want = sys.argv[1:]
def load(p):
    try:
        with open(p) as f:
            return f.read()
    except FileNotFoundError:
        return ""
text = load(path)
cfg = json.loads(text) if text.strip() else {}
if not isinstance(cfg, dict):
    sys.exit(path + ": not a JSON object")
ours = [tuple(l.split("\t", 1)) for l in load(entries).splitlines() if "\t" in l]
before = json.dumps(cfg, sort_keys=True)
def drop(k, v):
    rest = [x for x in cfg.get(k) or [] if x != v]
    if rest:
        cfg[k] = rest
    else:
        cfg.pop(k, None)
def add(k, v):
    if v not in (cfg.get(k) or []):
        cfg[k] = (cfg.get(k) or []) + [v]
pairs = list(zip(want[0::2], want[1::2]))
for k, v in ours:
    if mode == "expect":
        add(k, v)
    elif mode == "remove" or (k, v) not in pairs:
        drop(k, v)
if mode == "add":
    # ours: what this run adds, and what it added before and still wants (left where it is)
    added = [(k, v) for k, v in pairs if v not in (cfg.get(k) or []) or (k, v) in ours]
    for k, v in pairs:
        add(k, v)
    with open(entries_new, "w") as f:
        f.write("".join(k + "\t" + v + "\n" for k, v in added))
if mode != "expect" and json.dumps(cfg, sort_keys=True) == before:
    sys.exit(3)
print(json.dumps(cfg, indent=2))
' "$1" "$2" "$DOCKER_ENTRIES" "$DOCKER_ENTRIES_NEW" ${DOCKER_WANT[@]+"${DOCKER_WANT[@]}"}
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

ctd_dir() { # the one directory config_path should name, after ctd_info: the first of a colon list, or the default
  local d=${CTD_CUR%%:*}
  d=${d%/}
  printf '%s' "${d:-$CTD_DEFAULT_DIR}"
}

ctd_edit() { # ctd_edit <file or "">: the file with config_path set to one directory (deterministic, so delete can recompute it)
  local f=$1 dir
  ctd_info "$f"
  dir=$(ctd_dir)
  if [[ ! -e $f ]]; then
    printf 'version = 2\n\n[%s]\n  config_path = "%s"\n' "$CTD_SEC" "$dir"
    return 0
  fi
  awk -v sec="$CTD_SEC" -v dir="$dir" "$TOML_FN"'
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
  dir=$(ctd_dir)
  # A colon list (containerd 2.2+ defaults to one) is ignored by the CRI plugin's pulls: one directory only.
  if [[ -n $CTD_CUR && $CTD_CUR != *:* ]]; then
    say unchanged "$cfg"
  else
    ((CTD_CONFLICT == 0)) || fail "enable config_path in $cfg" "registry.mirrors or registry.configs.*.tls is set, which containerd refuses together with config_path; move them to hosts.toml first"
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
  # the mirror first, for pull and resolve; the upstream itself (server) when the mirror fails
  if [[ -n $MIRROR ]]; then
    put "$dir/$UPSTREAM/hosts.toml" whole "$(mirror_hosts_toml "$dir")"
    say mirror "$UPSTREAM through $MIRROR: $dir/$UPSTREAM/hosts.toml"
  fi
}

mirror_hosts_toml() { # mirror_hosts_toml <config_path dir>: the mirror's certificate is the registry's
  cat <<EOT
server = "$UPSTREAM_URL"

[host."https://$MIRROR"]
  capabilities = ["pull", "resolve"]
  ca = "$1/$REGISTRY/ca.crt"
EOT
}

crio_mirror() { # a registries.conf.d drop-in (CRI-O, podman, skopeo, buildah): the mirror, then the upstream
  put "$CRIO_DROPIN" whole "$(cat <<EOT
# private-registry ($ID): pull $UPSTREAM images through the mirror $MIRROR first.
[[registry]]
prefix = "$UPSTREAM"
location = "$UPSTREAM"

[[registry.mirror]]
location = "$MIRROR"
EOT
)"
  if ((CHANGED)); then need reload "wrote $CRIO_DROPIN"; fi
  say mirror "$UPSTREAM through $MIRROR: $CRIO_DROPIN"
}

docker_json() { # daemon.json: registry-mirrors for the mirror, insecure-registries for the opt-in
  local new rc=0
  command -v python3 >/dev/null || fail "edit $DAEMON_JSON" "python3 is required to edit the JSON (install it, or turn the mirror and insecureRegistry off)"
  DESIRED+=("$DAEMON_JSON")
  if ((INSECURE)); then DOCKER_WANT+=(insecure-registries "$REGISTRY"); fi
  if [[ -n $MIRROR ]]; then DOCKER_WANT+=(registry-mirrors "https://$MIRROR"); fi
  STEP="edit $DAEMON_JSON"
  mkdir -p -- "$RUNDIR"
  new=$(daemon_json add "$DAEMON_JSON") || rc=$?
  if ((rc == 0)); then
    local i why=''
    for ((i = 0; i < ${#DOCKER_WANT[@]}; i += 2)); do why+="${why:+, }added ${DOCKER_WANT[i + 1]} to ${DOCKER_WANT[i]}"; done
    why="${why:-took out the entries of $ID} in $DAEMON_JSON"
    # insecure-registries was always applied by a restart; registry-mirrors needs only a reload (SIGHUP)
    if ((INSECURE)) || grep -q '^insecure-registries' "$DOCKER_ENTRIES" 2>/dev/null; then
      need docker "$why"
    else
      need reload "$why"
    fi
    # what is ours is known before the file changes: a run cut short in between still knows it
    mkdir -p -- "$STATE"
    { cat -- "$DOCKER_ENTRIES" 2>/dev/null || true; cat -- "$DOCKER_ENTRIES_NEW"; } | sort -u > "$RUNDIR/$REGISTRY.entries-union"
    if same_files "$RUNDIR/$REGISTRY.entries-union" "$DOCKER_ENTRIES"; then rm -f -- "$RUNDIR/$REGISTRY.entries-union"
    else mv -f -- "$RUNDIR/$REGISTRY.entries-union" "$DOCKER_ENTRIES"; fi
    put "$DAEMON_JSON" docker "$new"
  elif ((rc == 3)); then
    say unchanged "$DAEMON_JSON"
  else
    fail "$STEP" "python3 could not edit it (is it valid JSON?)"
  fi
  if [[ ! -s $DOCKER_ENTRIES_NEW ]]; then
    rm -f -- "$DOCKER_ENTRIES_NEW" "$DOCKER_ENTRIES"   # nothing of ours in it
  elif same_files "$DOCKER_ENTRIES_NEW" "$DOCKER_ENTRIES"; then
    rm -f -- "$DOCKER_ENTRIES_NEW"
  else
    mkdir -p -- "$STATE"
    mv -f -- "$DOCKER_ENTRIES_NEW" "$DOCKER_ENTRIES"
  fi
  rmdir -- "$RUNDIR" 2>/dev/null || true
  if [[ -n $MIRROR ]]; then say mirror "$UPSTREAM through https://$MIRROR: registry-mirrors in $DAEMON_JSON"; fi
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
  settle reload "reloaded: the runtime's mirror settings" "$RELOAD"
  if [[ $mode == delete ]]; then
    STEP="remove $MANIFEST"
    rm -f -- "$MANIFEST"
    rmdir -- "$BACKUPS" 2>/dev/null || true
    rmdir -- "$STATE" 2>/dev/null || true
  fi
}

main "$@" </dev/null
