#!/usr/bin/env bash
# Node trust for a private registry, part 3 of 6: docker's daemon.json, the one shared file that is edited
# entry by entry (registry-mirrors for the mirror, insecure-registries for the opt-in), with python3.
# Follows node-trust-shared.sh in the script components/nodes/nodeScripts.ts sends (see there).
DAEMON_JSON=/etc/docker/daemon.json

# daemon.json: registry-mirrors for the mirror, insecure-registries for the opt-in. dockerd re-reads both on
# a reload (SIGHUP), so neither restarts it, nor the containers on the node with it.
# shellcheck disable=SC2034 # DOCKER_DONE is read by shared_settle (node-trust-shared.sh)
docker_json() {
  command -v python3 >/dev/null || fail "edit $DAEMON_JSON" "python3 is required to edit the JSON (install it, or turn the mirror and insecureRegistry off)"
  if ((INSECURE)); then claim daemon-json insecure-registries "$REGISTRY"; fi
  if [[ -n $MIRROR ]]; then claim daemon-json registry-mirrors "https://$MIRROR"; fi
  daemon_json_apply report
  DOCKER_DONE=1
  if [[ -n $MIRROR ]]; then say mirror "$UPSTREAM through https://$MIRROR: registry-mirrors in $DAEMON_JSON"; fi
}

# The file without the entries a stack added that no stack claims now, plus every claimed one it lacks.
# Prints what it did; the entries added by a stack go to <out>.added. Exit 3: nothing to change; 4: no
# claims left and the file is the original again (give back its bytes); 5: the same with no original.
# A key that goes away entirely is also written to <out>.clear as an empty list: dockerd's reload changes
# only the keys the file has, so the key must be there, empty, for one reload.
DAEMON_JSON_PY='
import json, sys
path, added_path, out, orig, *flat = sys.argv[1:]
claims = list(dict.fromkeys(zip(flat[0::2], flat[1::2])))
def load(p):
    try:
        with open(p) as f:
            return f.read()
    except FileNotFoundError:
        return None
def parse(text, name):
    cfg = json.loads(text) if text and text.strip() else {}
    if not isinstance(cfg, dict):
        sys.exit(name + ": not a JSON object")
    return cfg
cfg = parse(load(path), path)
before = json.dumps(cfg)
added = [tuple(l.split("\t", 1)) for l in (load(added_path) or "").splitlines() if "\t" in l]
log = []
gone = []
for k, v in added:
    if (k, v) not in claims and v in (cfg.get(k) or []):
        cfg[k] = [x for x in cfg[k] if x != v]
        if not cfg[k]:
            del cfg[k]
            gone.append(k)
        log.append("took out %s from %s" % (v, k))
keep = [(k, v) for k, v in added if (k, v) in claims]
for k, v in claims:
    cur = cfg.get(k) or []
    if not isinstance(cur, list):
        sys.exit("%s: %s is not a list" % (path, k))
    if v not in cur:
        cfg[k] = cur + [v]
        log.append("added %s to %s" % (v, k))
        keep.append((k, v))
with open(out + ".added", "w") as f:
    f.write("".join(k + "\t" + v + "\n" for k, v in dict.fromkeys(keep)))
print(", ".join(log))
def clear(final):
    keys = [k for k in gone if k not in final]
    if keys:
        with open(out + ".clear", "w") as f:
            f.write(json.dumps({**final, **{k: [] for k in keys}}, indent=2) + "\n")
if not claims and load(orig) is not None and cfg == parse(load(orig), orig):
    clear(cfg)
    sys.exit(4)
if not claims and load(orig + ".absent") is not None and cfg == {}:
    clear(cfg)
    sys.exit(5)
if json.dumps(cfg) == before:
    sys.exit(3)
clear(cfg)
with open(out, "w") as f:
    f.write(json.dumps(cfg, indent=2) + "\n")
'

daemon_json_apply() { # daemon_json_apply [report]: every stack's claimed entries in daemon.json, applied by a reload
  local entries=() k v rc=0 why out="$RUNDIR/$REGISTRY.daemon.json" o
  STEP="edit $DAEMON_JSON"
  command -v python3 >/dev/null || fail "$STEP" "python3 is required to edit the JSON (install it, or turn the mirror and insecureRegistry off)"
  while IFS=$'\t' read -r _ _ k v; do entries+=("$k" "$v"); done < <({ others daemon-json; mine daemon-json; } | LC_ALL=C sort -s -t$'\t' -k1,1)
  o=$(orig_of "$DAEMON_JSON")
  mkdir -p -- "$RUNDIR"
  rm -f -- "$out.clear"
  why=$(python3 -c "$DAEMON_JSON_PY" "$DAEMON_JSON" "$ADDED" "$out" "$o" ${entries[@]+"${entries[@]}"}) || rc=$?
  case $rc in
    0 | 3 | 4 | 5) ;;
    *) fail "$STEP" "python3 could not edit it (is it valid JSON?)" ;;
  esac
  # what stacks added is known before the file changes: a run cut short in between still knows it
  set_file "$ADDED" "$({ cat -- "$ADDED" 2>/dev/null || true; cat -- "$out.added"; } | awk '!seen[$0]++')"
  if [[ -f $out.clear ]]; then
    shared_put "$DAEMON_JSON" "$(cat -- "$out.clear")" >/dev/null
    need reload "$why in $DAEMON_JSON"
    reload_read "$DAEMON_JSON"
  fi
  case $rc in
    0)
      shared_put "$DAEMON_JSON" "$(cat -- "$out")"
      if [[ ! -f $out.clear ]]; then need reload "$why in $DAEMON_JSON"; fi ;;
    3) if [[ -n ${1:-} ]]; then say unchanged "$DAEMON_JSON"; fi ;;
    4 | 5)
      shared_restore "$DAEMON_JSON"
      if ((RESTORED)) && [[ ! -f $out.clear ]]; then need reload "${why:-gave back the original} in $DAEMON_JSON"; fi ;;
  esac
  set_file "$ADDED" "$(cat -- "$out.added")"
  # with no stack relying on the file, its original is no longer needed (kept on user edits above)
  if ((${#entries[@]} == 0)); then rm -f -- "$o" "$o.absent"; fi
  rm -f -- "$out" "$out.added" "$out.clear"
  rmdir -- "$RUNDIR" 2>/dev/null || true
}

reload_read() { # reload_read <file>: the reload now, and a wait (5 s at most) until the runtime has read the file
  local t i
  # an old access time that the runtime's read moves on (its mount may have noatime: then the 5 s)
  touch -a -t 198001010000 -- "$1"
  t=$(stat -c %X -- "$1")
  settle reload "reloaded: the runtime's mirror settings" "$RELOAD"
  for ((i = 0; i < 50; i++)); do
    if [[ $(stat -c %X -- "$1") != "$t" ]]; then return 0; fi
    sleep 0.1
  done
}
