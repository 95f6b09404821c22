#!/usr/bin/env bash
# A stand-in for kubectl with just the namespace calls components/kubernetes/scripts/kubernetes.sh makes, over a
# state folder $FAKE_K8S: ns/<name> holds "uid|phase|managed-by label|field managers" (the script's
# jsonpath), calls gets one line per call, a file named down makes every call fail as an unreachable
# server does, and one named forbidden as a user without the right does.
set -euo pipefail
echo "$*" >> "$FAKE_K8S/calls"
if [ -e "$FAKE_K8S/down" ]; then
  echo "Unable to connect to the server: dial tcp 127.0.0.1:6999: connect: connection refused" >&2
  exit 1
fi
if [ -e "$FAKE_K8S/forbidden" ]; then
  echo "Error from server (Forbidden): namespaces is forbidden: User \"live-restricted\" cannot get resource \"namespaces\"" >&2
  exit 1
fi
words=()
while [ $# -gt 0 ]; do
  case $1 in
    --request-timeout=*) ;;
    --kubeconfig|--context) shift ;;
    *) words+=("$1") ;;
  esac
  shift
done
set -- "${words[@]}"
dir=$FAKE_K8S/ns
mkdir -p "$dir"
not_found() { echo "Error from server (NotFound): namespaces \"$1\" not found" >&2; exit 1; }
case "$1 $2" in
  "get namespace")
    [ -f "$dir/$3" ] || not_found "$3"
    printf '%s' "$(<"$dir/$3")" ;;
  "get namespaces")
    for f in "$dir"/*; do
      [ -f "$f" ] || continue
      IFS='|' read -r _ _ label managers < "$f"
      [ "$label" != private-registry ] || printf '%s|%s\n' "${f##*/}" "$managers"
    done ;;
  "create -f")
    name=$(sed -n 's/.*"name":"\([a-z0-9-]*\)".*/\1/p' "$3")
    label=
    if grep -q '"app.kubernetes.io/managed-by":"private-registry"' "$3"; then label=private-registry; fi
    if [ -f "$dir/$name" ]; then echo "Error from server (AlreadyExists): namespaces \"$name\" already exists" >&2; exit 1; fi
    uid=$(printf '%08x-0000-4000-8000-%012x' "$RANDOM" "$(wc -l < "$FAKE_K8S/calls")")
    echo "$uid|Active|$label|kubectl-create" > "$dir/$name"
    printf '%s' "$uid" ;;
  "label namespace")
    [ -f "$dir/$3" ] || not_found "$3"
    IFS='|' read -r uid phase _ _ < "$dir/$3"
    echo "$uid|$phase||kubectl-label" > "$dir/$3" ;;
  "delete namespace")
    [ -f "$dir/$3" ] || not_found "$3"
    rm "$dir/$3" ;;
  *) echo "fake kubectl: unexpected call: $*" >&2; exit 3 ;;
esac
