#!/usr/bin/env bash
# What the kubernetes provider cannot do on its own, done with kubectl where pulumi runs:
#   kubernetes.sh check    every namespace in $NAMESPACES exists (a clear error naming the config key if not)
#   kubernetes.sh add      $SECRET_NAME is in $NAMESPACE's default ServiceAccount's imagePullSecrets
#   kubernetes.sh remove   it is not, and every other name there is left as it was
# imagePullSecrets is an atomic list under server-side apply (no merge key), so a patch resource would
# own the whole list: it would drop the names others added, and take them all away on destroy. JSON
# patches of one entry, guarded by a `test` op, change only ours.
# The cluster: $KUBECONFIG_PATH, or a kubeconfig on stdin (kept out of argv), and $KUBE_CONTEXT.
set -euo pipefail
mode=${1:?usage: kubernetes.sh check|add|remove}
kc=$(mktemp) errf=$(mktemp)
trap 'rm -f "$kc" "$errf"' EXIT
cat > "$kc"
args=(--request-timeout=15s)
if [ -s "$kc" ]; then args+=(--kubeconfig "$kc"); elif [ -n "${KUBECONFIG_PATH:-}" ]; then args+=(--kubeconfig "$KUBECONFIG_PATH"); fi
[ -z "${KUBE_CONTEXT:-}" ] || args+=(--context "$KUBE_CONTEXT")
k() { kubectl "${args[@]}" "$@"; }
command -v kubectl >/dev/null || { echo "private-registry:kubernetes: kubectl is needed where pulumi runs (for the pull secret's namespaces and ServiceAccounts)" >&2; exit 1; }

unreachable() {
  echo "private-registry:kubernetes.kubeconfig/kubernetes.context: cannot reach the cluster: $1" >&2
  exit 1
}

case $mode in
  check)
    for ns in $NAMESPACES; do
      if ! err=$(k get namespace "$ns" -o name 2>&1 >/dev/null); then
        case $err in
          *NotFound*|*"not found"*)
            echo "private-registry:kubernetes.namespaces: namespace \"$ns\" does not exist in the cluster; create it, or set private-registry:kubernetes.createNamespaces to true" >&2
            exit 1 ;;
          *) unreachable "$err" ;;
        esac
      fi
    done
    echo "namespaces present: $NAMESPACES" ;;
  add | remove)
    names=
    for _ in $(seq 60); do
      # a new namespace gets its default ServiceAccount from the controller manager a moment later
      if names=$(k -n "$NAMESPACE" get serviceaccount default -o jsonpath='{range .imagePullSecrets[*]}{.name}{"\n"}{end}' 2>"$errf"); then
        break
      fi
      err=$(<"$errf")
      case $err in *NotFound*|*"not found"*) ;; *) unreachable "$err" ;; esac
      [ "$mode" = add ] || { echo "unchanged: no default ServiceAccount in $NAMESPACE"; exit 0; }
      sleep 1
    done
    index=-1 i=0
    while IFS= read -r n; do
      [ -n "$n" ] || continue
      if [ "$n" = "$SECRET_NAME" ]; then index=$i; fi
      i=$((i + 1))
    done <<< "$names"
    entry="{\"name\":\"$SECRET_NAME\"}"
    if [ "$mode" = add ]; then
      if [ "$index" -ge 0 ]; then echo "unchanged: $NAMESPACE/default lists $SECRET_NAME"; exit 0; fi
      if [ "$i" -eq 0 ]; then patch="[{\"op\":\"add\",\"path\":\"/imagePullSecrets\",\"value\":[$entry]}]"
      else patch="[{\"op\":\"add\",\"path\":\"/imagePullSecrets/-\",\"value\":$entry}]"; fi
    else
      if [ "$index" -lt 0 ]; then echo "unchanged: $NAMESPACE/default does not list $SECRET_NAME"; exit 0; fi
      if [ "$i" -eq 1 ]; then patch="[{\"op\":\"test\",\"path\":\"/imagePullSecrets/0/name\",\"value\":\"$SECRET_NAME\"},{\"op\":\"remove\",\"path\":\"/imagePullSecrets\"}]"
      else patch="[{\"op\":\"test\",\"path\":\"/imagePullSecrets/$index/name\",\"value\":\"$SECRET_NAME\"},{\"op\":\"remove\",\"path\":\"/imagePullSecrets/$index\"}]"; fi
    fi
    k -n "$NAMESPACE" patch serviceaccount default --type json -p "$patch" >/dev/null
    echo "changed: $NAMESPACE/default imagePullSecrets ($mode $SECRET_NAME)" ;;
  *) echo "kubernetes.sh: unknown mode $mode" >&2; exit 2 ;;
esac
