// Pure helper (no Pulumi imports): the bash script each node runs to trust the registry's CA,
// and the command line that feeds it on stdin. See docs/DESIGN.md "Node trust".
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";

/** Container runtime on a node; decides where the scoped CA trust goes. */
export type NodeRuntime = "docker" | "containerd" | "crio" | "none";

/** Every accepted {@link NodeRuntime}, for config validation and messages. */
export const NODE_RUNTIMES: readonly NodeRuntime[] = Object.freeze(["docker", "containerd", "crio", "none"] as const);

/** Inputs of {@link nodeTrustScript}. Strings from user config are validated before they reach bash. */
export interface NodeScriptOptions {
    /** "host:port" (or "host") exactly as clients address the registry, e.g. "docker.registry.com:5000". */
    registry: string;
    /** Registry host name, the part of `registry` before the colon; used for /etc/hosts. */
    hostname: string;
    /** PEM of the CA certificate(s) the node must trust. */
    caPem: string;
    runtime: NodeRuntime;
    /** Opt-in: keep an /etc/hosts line "<addr> <hostname> # <id>". */
    hostsAddress?: string;
    /** Opt-in: also install the CA system-wide (update-ca-certificates). */
    systemTrust: boolean;
    /** Opt-in, docker runtime only: list the registry in /etc/docker/daemon.json "insecure-registries". */
    insecureRegistry: boolean;
    /** containerd's config file, normally "/etc/containerd/config.toml". */
    containerdConfigFile: string;
    /** Normally "systemctl restart containerd". Runs only when config_path had to be enabled (or restored). */
    containerdRestartCommand: string;
    /** Normally "systemctl restart docker". Runs only when daemon.json changed. */
    dockerRestartCommand: string;
    /** Marker such as "private-registry-dev" ([a-z0-9-]); names the state dir, trust file and /etc/hosts marker. */
    id: string;
}

const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME_RE = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);
const ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ABS_PATH_RE = /^(?:\/[A-Za-z0-9._+@-]+)+$/;
const PEM_BLOCK_RE = /-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+?\n-----END CERTIFICATE-----/g;

/** bash single-quoting: safe for any string without NUL. */
function q(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

function normalizePem(pem: string): string {
    const text = pem.replace(/\r\n?/g, "\n").trim();
    const blocks = text.match(PEM_BLOCK_RE) ?? [];
    // Anything besides certificate blocks (keys, junk) is refused rather than copied onto nodes.
    if (blocks.length === 0 || text.replace(PEM_BLOCK_RE, "").trim() !== "") {
        throw new Error("nodeTrustScript: caPem must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)");
    }
    for (const b of blocks) {
        try {
            new X509Certificate(b);
        } catch (e) {
            throw new Error(`nodeTrustScript: caPem holds a block that is not a valid X.509 certificate: ${(e as Error).message}`);
        }
    }
    return blocks.join("\n");
}

function validate(o: NodeScriptOptions): void {
    const bad = (key: string, value: unknown, what: string): never => {
        throw new Error(`nodeTrustScript: invalid ${key} ${JSON.stringify(value)}: ${what}`);
    };
    if (!ID_RE.test(o.id)) bad("id", o.id, "expected [a-z0-9-]+ starting with a letter or digit, at most 63 characters");
    if (!HOSTNAME_RE.test(o.hostname)) bad("hostname", o.hostname, "expected a DNS name or IPv4 address");
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(o.registry);
    if (!m || (m[2] !== undefined && (+m[2] < 1 || +m[2] > 65535))) bad("registry", o.registry, "expected host or host:port with port 1-65535");
    if (m![1] !== o.hostname) bad("registry", o.registry, `its host must equal hostname ${JSON.stringify(o.hostname)}`);
    if (!NODE_RUNTIMES.includes(o.runtime)) bad("runtime", o.runtime, `expected one of ${NODE_RUNTIMES.join(", ")}`);
    if (o.hostsAddress !== undefined && isIP(o.hostsAddress) === 0) bad("hostsAddress", o.hostsAddress, "expected an IPv4 or IPv6 address");
    if (o.insecureRegistry && o.runtime !== "docker") bad("insecureRegistry", o.insecureRegistry, "only supported with runtime docker");
    if (!ABS_PATH_RE.test(o.containerdConfigFile) || o.containerdConfigFile.split("/").includes("..")) {
        bad("containerdConfigFile", o.containerdConfigFile, "expected an absolute path");
    }
    for (const key of ["containerdRestartCommand", "dockerRestartCommand"] as const) {
        if (o[key].trim() === "" || o[key].includes("\0")) bad(key, o[key], "expected a non-empty command");
    }
}

/**
 * The bash script that makes one node trust the registry (mode `create`) or undoes exactly that (mode `delete`),
 * chosen by `$1`. It is idempotent, records what it adds in /etc/<id>/<registry>.manifest, and holds no secret.
 * Throws on invalid options, before any of them reach bash.
 */
export function nodeTrustScript(o: NodeScriptOptions): string {
    validate(o);
    const pem = normalizePem(o.caPem);
    const runtimeItem: Record<NodeRuntime, string | undefined> = {
        docker: `put ${q(`/etc/docker/certs.d/${o.registry}/ca.crt`)} whole "$(ca_pem)"`,
        crio: `put ${q(`/etc/containers/certs.d/${o.registry}/ca.crt`)} whole "$(ca_pem)"`,
        containerd: "containerd_trust",
        none: undefined,
    };
    const items = [
        runtimeItem[o.runtime],
        o.systemTrust ? `system_trust ${q(`/usr/local/share/ca-certificates/${o.id}-${o.registry.replace(":", "_")}.crt`)}` : undefined,
        o.insecureRegistry ? "docker_insecure" : undefined,
        // Always called: with '' it drops a line an earlier run added.
        `hosts_line ${q(o.hostsAddress === undefined ? "" : `${o.hostsAddress} ${o.hostname} # ${o.id}`)}`,
    ].filter((l): l is string => l !== undefined);
    return `#!/usr/bin/env bash
# private-registry node trust for ${o.registry} (generated; usage: bash -s -- create|delete).
# Carries both modes: the provider replays the stored script for delete.
set -Eeuo pipefail
shopt -s inherit_errexit
umask 022
ID=${q(o.id)}
REGISTRY=${q(o.registry)}
CTD_CONFIG=${q(o.containerdConfigFile)}
# Restart commands run later through bash -c, so a $ left unexpanded here is intended.
# shellcheck disable=SC2016
CTD_RESTART=${q(o.containerdRestartCommand)}
# shellcheck disable=SC2016
DOCKER_RESTART=${q(o.dockerRestartCommand)}

ca_pem() {
  cat <<'PRIVATE_REGISTRY_CA_PEM'
${pem}
PRIVATE_REGISTRY_CA_PEM
}

hosts_toml() { # hosts_toml <host dir>
  cat <<EOF
server = "https://${o.registry}"

[host."https://${o.registry}"]
  capabilities = ["pull", "resolve", "push"]
  ca = "$1/ca.crt"
EOF
}

# What create ensures (runtime ${o.runtime}); manifest entries that none of these claims are undone.
create_items() {
  ${items.join("\n  ")}
}
${SCRIPT_BODY}`;
}

/** The remote command that runs the script given on stdin: `bash -s -- <mode>`, through `sudo -n` unless root. */
export function nodeCommand(mode: "create" | "delete", user: string): string {
    if (mode !== "create" && mode !== "delete") throw new Error(`nodeCommand: mode must be create or delete, got ${JSON.stringify(mode)}`);
    return `${user === "root" ? "" : "sudo -n "}bash -s -- ${mode}`;
}

// The static part. Everything runs inside main with stdin from /dev/null: the script itself arrives on
// stdin, and any command reading stdin (python3, a restart command) would otherwise swallow the rest of it.
const SCRIPT_BODY = String.raw`
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\${PATH:+:$PATH}"
STATE="/etc/$ID"          # node-private; /var and /tmp may be shared
MANIFEST="$STATE/$REGISTRY.manifest"
BACKUPS="$STATE/$REGISTRY.orig"
RUNDIR="/run/$ID"         # pending restarts: a reboot clears them and restarts everything anyway
CA_DIR=/usr/local/share/ca-certificates
DAEMON_JSON=/etc/docker/daemon.json
CTD_DEFAULT_DIR=/etc/containerd/certs.d
STEP=start
DESIRED=()
HOSTS_WANT=''
CHANGED=0
TOML_FN='
function hdr(s) { sub(/^[[:space:]]*\[/, "", s); sub(/\][[:space:]]*(#.*)?$/, "", s); gsub(/[[:space:]]/, "", s); gsub(/\047/, "\"", s); return s }
function val(s) { sub(/^[^=]*=[[:space:]]*/, "", s); sub(/[[:space:]]*(#.*)?$/, "", s); gsub(/^["\047]|["\047]$/, "", s); return s }
'

say() { printf '%s: %s\n' "$1" "$2"; }
fail() { printf 'private-registry[%s]: %s: %s\n' "$ID" "$1" "$2" >&2; exit 1; }
# Subshells only pass the status up, so the step is reported once, by the main shell.
on_err() {
  local rc=$?
  ((BASH_SUBSHELL)) || printf 'private-registry[%s]: %s failed (exit %s)\n' "$ID" "$STEP" "$rc" >&2
  exit "$rc"
}
trap on_err ERR

emit() { [[ -z $1 ]] || printf '%s\n' "$1"; }
# Byte comparison in pure bash (cmp is not everywhere); the x keeps trailing newlines.
same() { [[ -f $1 ]] || return 1; local a b; a=$(cat -- "$1"; echo x); b=$(emit "$2"; echo x); [[ $a == "$b" ]]; }
same_files() { [[ -f $1 && -f $2 ]] || return 1; local a b; a=$(cat -- "$1"; echo x); b=$(cat -- "$2"; echo x); [[ $a == "$b" ]]; }
backup_of() { printf '%s/%s' "$BACKUPS" "\${1//\//%}"; }
has_entry() { [[ -f $MANIFEST ]] && awk -F'\t' -v k="$1" -v p="\${2:-}" '$1 == k && (p == "" || $2 == p) { f = 1 } END { exit !f }' "$MANIFEST"; }

record() {
  local line
  line=$(IFS=$'\t'; printf '%s' "$*")
  if [[ -f $MANIFEST ]] && grep -qxF -- "$line" "$MANIFEST"; then return 0; fi
  STEP="record in $MANIFEST"
  mkdir -p -- "$STATE"
  printf '%s\n' "$line" >> "$MANIFEST"
}

mkdirs() { # creates missing parents, recording each so delete removes only those
  local d=$1 missing=()
  while [[ ! -d $d ]]; do missing=("$d" \${missing[@]+"\${missing[@]}"}); d=$(dirname -- "$d"); done
  for d in \${missing[@]+"\${missing[@]}"}; do
    record dir "$d"
    STEP="create directory $d"
    mkdir -- "$d"
  done
}

put() { # put <path> <whole|ctd|docker> <content>: write only if different; sets CHANGED
  local path=$1 how=$2 content=$3 bk
  DESIRED+=("$path")
  CHANGED=0
  if same "$path" "$content"; then say unchanged "$path"; return 0; fi
  if ! has_entry put "$path"; then
    if [[ -e $path ]]; then
      bk=$(backup_of "$path")
      STEP="back up $path to $bk"
      (umask 077 && mkdir -p -- "$BACKUPS")  # originals may hold registry credentials
      cp -p -- "$path" "$bk"
      record put "$path" orig "$how"
    else
      mkdirs "$(dirname -- "$path")"
      record put "$path" new "$how"
    fi
  fi
  STEP="write $path"
  emit "$content" > "$path"
  CHANGED=1
  say changed "$path"
}

need() { # need <ca|ca-fresh|containerd|docker> <reason>: kept until the action succeeds, so a failed run is retried
  STEP="record pending $1 in $RUNDIR"
  mkdir -p -- "$RUNDIR"
  printf '%s\n' "$2" > "$RUNDIR/$REGISTRY.$1"
}

settle() { # settle <name> <summary when done> <command>
  local f="$RUNDIR/$REGISTRY.$1" reason out
  [[ -e $f ]] || return 0
  reason=$(cat -- "$f")
  STEP="run $3"
  out=$(bash -c "$3" 2>&1 </dev/null) || fail "$STEP" "exit $?: $out"
  rm -f -- "$f"
  rmdir -- "$RUNDIR" 2>/dev/null || true
  printf '%s (%s)\n' "$2" "$reason"
}

system_trust() { # system_trust <file under CA_DIR>
  command -v update-ca-certificates >/dev/null || fail "system trust $1" "update-ca-certificates not found (install ca-certificates, or turn system trust off)"
  put "$1" whole "$(ca_pem)"
  if ((CHANGED)); then need ca "installed $1"; fi
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
    *) fail "read $f" "unsupported containerd config version '\${version:-1}' (expected 2 or 3); set config_path yourself" ;;
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
  dir=\${CTD_CUR%%:*}
  dir=\${dir%/}
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

wanted() { # wanted <kind> <path>: does this run keep that manifest entry?
  local d
  case $1 in
    hostsnl) [[ -n $HOSTS_WANT ]] ;;
    put) for d in \${DESIRED[@]+"\${DESIRED[@]}"}; do [[ $d != "$2" ]] || return 0; done; return 1 ;;
    dir) for d in \${DESIRED[@]+"\${DESIRED[@]}"}; do [[ $d != "$2"/* ]] || return 0; done; return 1 ;;
    *) return 1 ;;
  esac
}

undo() { # undo <kind> <path> <new|orig> <how>: sets UNDONE=1 when the entry is fully reverted
  local kind=$1 path=$2 existed=$3 how=$4 bk out src expect=''
  UNDONE=1
  if [[ $kind == dir ]]; then
    STEP="remove directory $path"
    [[ -d $path ]] || return 0
    if ! rmdir -- "$path" 2>/dev/null; then UNDONE=0; return 0; fi  # others put files in it
    say removed "$path"
    return 0
  fi
  [[ $kind == put && -e $path ]] || return 0
  bk=$(backup_of "$path")
  if [[ $existed == orig ]]; then
    [[ -f $bk ]] || { say kept "$path (its original is missing from $bk)"; return 0; }
    if same_files "$bk" "$path"; then return 0; fi
  fi
  STEP="undo $path"
  if [[ $how != whole ]]; then
    if [[ $existed == orig ]]; then src=$bk; else src=''; fi
    case $how in
      ctd) expect=$(ctd_edit "$src") ;;
      docker) expect=$(daemon_json add "$src") || true ;;
    esac
  fi
  if [[ $how == whole ]] || same "$path" "$expect"; then
    if [[ $existed == orig ]]; then
      STEP="restore $path from $bk"; cp -p -- "$bk" "$path"; say restored "$path"
    else
      STEP="remove $path"; rm -f -- "$path"; say removed "$path"
    fi
  elif [[ $how == docker ]]; then
    # Edited since create: take out only our entry.
    STEP="remove $REGISTRY from insecure-registries in $path"
    if out=$(daemon_json remove "$path"); then emit "$out" > "$path"; say changed "$path"
    elif (($? != 3)); then fail "$STEP" "python3 could not edit it"; fi
  else
    UNDONE=0
    say kept "$path (changed since create, so not restored; the original is $bk)"
    return 0
  fi
  case $how in
    ctd) need containerd "restored $path" ;;
    docker) need docker "restored $path" ;;
  esac
  # Plain update-ca-certificates leaves the removed cert's links in /etc/ssl/certs; --fresh rebuilds them.
  if [[ $path == "$CA_DIR"/* ]]; then need ca-fresh "removed $path"; fi
}

prune() { # undo what this run no longer wants: everything on delete
  [[ -f $MANIFEST ]] || return 0
  local lines=() kept=() line kind path existed how dropped=0
  mapfile -t lines < <(tac -- "$MANIFEST")
  for line in \${lines[@]+"\${lines[@]}"}; do
    IFS=$'\t' read -r kind path existed how <<<"$line"
    if wanted "$kind" "$path"; then kept=("$line" \${kept[@]+"\${kept[@]}"}); continue; fi
    undo "$kind" "$path" "\${existed:-}" "\${how:-}"
    if ((!UNDONE)); then kept=("$line" \${kept[@]+"\${kept[@]}"}); continue; fi
    if [[ $kind == put ]]; then rm -f -- "$(backup_of "$path")"; fi
    dropped=1
  done
  ((dropped)) || return 0
  STEP="update $MANIFEST"
  if ((\${#kept[@]})); then printf '%s\n' "\${kept[@]}" > "$MANIFEST"; else rm -f -- "$MANIFEST"; fi
  rmdir -- "$BACKUPS" 2>/dev/null || true
}

main() {
  local mode=\${1:-}
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
`.replace(/\\\$\{/g, "${"); // String.raw keeps "\${", which stands for bash's "${"
