#!/usr/bin/env bash
# What the kubernetes provider cannot do on its own, done with kubectl where pulumi runs:
#   kubernetes.sh check    one line per namespace of $NAMESPACES, "present <ns>" or "missing <ns>"; "legacy <ns>"
#                          for a namespace an earlier version of the program took over (see ensure); or
#                          "fail <message>" when the cluster does not answer. Exits 0 either way: the program
#                          turns the lines into its own error, at preview, before anything is changed.
#   kubernetes.sh ensure   $NAMESPACE exists. Created here (labelled, with $CREATE_NAMESPACE=1) only when it is
#                          missing; the one line printed says whether this stack created it, and release reads it.
#   kubernetes.sh release  deletes $NAMESPACE only if ensure created it (its line in $PULUMI_COMMAND_STDOUT) and it
#                          is still that namespace (same uid). A namespace that existed before is never deleted.
#   kubernetes.sh add      $SECRET_NAME is in $NAMESPACE's default ServiceAccount's imagePullSecrets
#   kubernetes.sh remove   it is not, and every other name there is left as it was
# imagePullSecrets is an atomic list under server-side apply (no merge key), so a patch resource would
# own the whole list: it would drop the names others added, and take them all away on destroy. JSON
# patches of one entry, guarded by a `test` op, change only ours.
# The cluster: $KUBECONFIG_PATH (the program expands a leading ~/ to $HOME; so does this, for a path
# stored by an earlier version), or a kubeconfig on stdin (kept out of argv), and $KUBE_CONTEXT.
# The program runs this text as `bash -c <script> kubernetes.sh <mode>`: the command string, which the
# command provider repeats when a step fails, is only the mode.
set -euo pipefail
mode=${1:?usage: kubernetes.sh check|ensure|release|add|remove}
kc=$(mktemp) errf=$(mktemp) mf=$(mktemp)
trap 'rm -f "$kc" "$errf" "$mf"' EXIT
cat > "$kc"
path=${KUBECONFIG_PATH:-}
# shellcheck disable=SC2088 # the literal characters ~/ as the config holds them
[ "${path:0:2}" != "~/" ] || path=$HOME/${path:2}
args=(--request-timeout=15s)
if [ -s "$kc" ]; then args+=(--kubeconfig "$kc"); elif [ -n "$path" ]; then args+=(--kubeconfig "$path"); fi
[ -z "${KUBE_CONTEXT:-}" ] || args+=(--context "$KUBE_CONTEXT")
NEEDS_KUBECTL="private-registry:kubernetes: kubectl is needed where pulumi runs (for the pull secret's namespaces and ServiceAccounts)"
k() { kubectl "${args[@]}" "$@"; }
LABEL=app.kubernetes.io/managed-by
# uid|phase|our label|field managers, or NotFound on stderr
INFO="{.metadata.uid}|{.status.phase}|{.metadata.labels.app\.kubernetes\.io/managed-by}|{.metadata.managedFields[*].manager}"
CREATED_RE='^created: namespace ([a-z0-9-]+) \(uid ([0-9a-f-]+)\)'

# the message for a kubectl error other than NotFound, naming the settings that pick the cluster and user
cluster_error() {
  case $1 in
    *Forbidden*|*Unauthorized*) echo "private-registry:kubernetes.kubeconfig/kubernetes.context: the cluster refused: ${1//$'\n'/ }" ;;
    *) echo "private-registry:kubernetes.kubeconfig/kubernetes.context: cannot reach the cluster: ${1//$'\n'/ }" ;;
  esac
}
unreachable() {
  cluster_error "$1" >&2
  exit 1
}
not_found() { case $1 in *NotFound*|*"not found"*) return 0 ;; *) return 1 ;; esac; }
# Before this step existed the program declared Namespace resources, which adopted an existing namespace
# (the provider upserts) and labelled it through server-side apply, so a field manager named
# pulumi-kubernetes-… owns that label. The program reads such a namespace once, which releases it from
# the stack's state without deleting it; ensure then drops the label, which ends the manager's claim.
legacy() { [ "$1" = private-registry ] && [[ " $2" == *" pulumi-kubernetes"* ]]; }
# sets uid, phase, label and managers of namespace $1; returns 1 when it does not exist, 2 on any other
# error (the text in $err)
ns_info() {
  local info
  uid='' phase='' label='' managers='' err=''
  if info=$(k get namespace "$1" -o jsonpath="$INFO" 2>"$errf"); then
    IFS='|' read -r uid phase label managers <<< "$info"
    return 0
  fi
  err=$(<"$errf")
  if not_found "$err"; then return 1; fi
  return 2
}

case $mode in
  check)
    command -v kubectl >/dev/null || { echo "fail $NEEDS_KUBECTL"; exit 0; }
    for ns in $NAMESPACES; do
      rc=0; ns_info "$ns" || rc=$?
      case $rc in
        0) echo "present $ns"; if legacy "$label" "$managers"; then echo "legacy $ns"; fi ;;
        1) echo "missing $ns" ;;
        *) echo "fail $(cluster_error "$err")"; exit 0 ;;
      esac
    done
    # the same for namespaces no longer listed (best effort: listing namespaces may be forbidden)
    if all=$(k get namespaces -l "$LABEL=private-registry" -o jsonpath='{range .items[*]}{.metadata.name}|{.metadata.managedFields[*].manager}{"\n"}{end}' 2>/dev/null); then
      while IFS='|' read -r ns managers; do
        if [ -n "$ns" ] && legacy private-registry "$managers"; then echo "legacy $ns"; fi
      done <<< "$all"
    fi ;;
  ensure)
    command -v kubectl >/dev/null || { echo "$NEEDS_KUBECTL" >&2; exit 1; }
    for _ in $(seq 300); do
      rc=0; ns_info "$NAMESPACE" || rc=$?
      [ "$rc" -ne 2 ] || unreachable "$err"
      # one being deleted (e.g. by a destroy a moment ago) is waited for, then made anew
      if [ "$rc" -ne 0 ] || [ "$phase" != Terminating ]; then break; fi
      sleep 1
    done
    [ "$phase" != Terminating ] || { echo "private-registry:kubernetes.namespaces: namespace \"$NAMESPACE\" is still being deleted after 5 minutes" >&2; exit 1; }
    if [ -z "$uid" ]; then
      if [ "${CREATE_NAMESPACE:-0}" != 1 ]; then
        echo "private-registry:kubernetes.namespaces: namespace \"$NAMESPACE\" does not exist in the cluster; create it, or set private-registry:kubernetes.createNamespaces to true" >&2
        exit 1
      fi
      printf '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"%s","labels":{"%s":"private-registry"}}}\n' "$NAMESPACE" "$LABEL" > "$mf"
      if uid=$(k create -f "$mf" -o jsonpath='{.metadata.uid}' 2>"$errf"); then
        echo "created: namespace $NAMESPACE (uid $uid); destroy deletes it"
        exit 0
      fi
      case $(<"$errf") in
        *AlreadyExists*|*"already exists"*) ns_info "$NAMESPACE" || unreachable "$err" ;; # made by someone else meanwhile: theirs
        *) echo "private-registry:kubernetes.namespaces: cannot create namespace \"$NAMESPACE\": $(<"$errf")" >&2; exit 1 ;;
      esac
    fi
    if legacy "$label" "$managers"; then
      k label namespace "$NAMESPACE" "$LABEL-" >/dev/null
      echo "kept: namespace $NAMESPACE was there before (taken over by an earlier version of this program, now let go); destroy leaves it"
    elif [ "${CREATE_NAMESPACE:-0}" = 1 ] && [[ ${PULUMI_COMMAND_STDOUT:-} =~ $CREATED_RE ]] &&
         [ "${BASH_REMATCH[1]}" = "$NAMESPACE" ] && [ "${BASH_REMATCH[2]}" = "$uid" ]; then
      # an update of this step (another kubeconfig, a new version of this script): still the one it created
      echo "created: namespace $NAMESPACE (uid $uid); destroy deletes it"
    elif [ "${CREATE_NAMESPACE:-0}" = 1 ]; then
      echo "kept: namespace $NAMESPACE was there before this stack; destroy leaves it"
    else
      echo "kept: namespace $NAMESPACE is not created by this stack (createNamespaces is off); destroy leaves it"
    fi ;;
  release)
    if ! [[ ${PULUMI_COMMAND_STDOUT:-} =~ $CREATED_RE ]] || [ "${BASH_REMATCH[1]}" != "$NAMESPACE" ]; then
      echo "kept: namespace $NAMESPACE (not created by this stack)"
      exit 0
    fi
    want=${BASH_REMATCH[2]}
    command -v kubectl >/dev/null || { echo "$NEEDS_KUBECTL" >&2; exit 1; }
    rc=0; ns_info "$NAMESPACE" || rc=$?
    [ "$rc" -ne 2 ] || unreachable "$err"
    if [ "$rc" -eq 1 ]; then echo "unchanged: namespace $NAMESPACE is gone already"; exit 0; fi
    if [ "$uid" != "$want" ]; then
      echo "kept: namespace $NAMESPACE is not the one this stack created (uid $uid, not $want)"
      exit 0
    fi
    k delete namespace "$NAMESPACE" --wait=false >/dev/null 2>"$errf" || not_found "$(<"$errf")" || unreachable "$(<"$errf")"
    # the namespace controller deletes what is inside first; wait, so that a next up finds it gone
    for _ in $(seq 600); do
      rc=0; ns_info "$NAMESPACE" || rc=$?
      [ "$rc" -ne 2 ] || unreachable "$err"
      if [ "$rc" -eq 1 ]; then echo "deleted: namespace $NAMESPACE (created by this stack)"; exit 0; fi
      sleep 1
    done
    echo "private-registry:kubernetes.namespaces: namespace \"$NAMESPACE\" was not deleted within 10 minutes" >&2
    exit 1 ;;
  add | remove)
    command -v kubectl >/dev/null || { echo "$NEEDS_KUBECTL" >&2; exit 1; }
    names=
    for _ in $(seq 60); do
      # a new namespace gets its default ServiceAccount from the controller manager a moment later
      if names=$(k -n "$NAMESPACE" get serviceaccount default -o jsonpath='{range .imagePullSecrets[*]}{.name}{"\n"}{end}' 2>"$errf"); then
        break
      fi
      err=$(<"$errf")
      not_found "$err" || unreachable "$err"
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
    k -n "$NAMESPACE" patch serviceaccount default --type json -p "$patch" >/dev/null 2>"$errf" || unreachable "$(<"$errf")"
    echo "changed: $NAMESPACE/default imagePullSecrets ($mode $SECRET_NAME)" ;;
  *) echo "kubernetes.sh: unknown mode $mode" >&2; exit 2 ;;
esac
