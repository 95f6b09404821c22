#!/usr/bin/env bash
# Writes what a real stack needs to reach its machines, from repository secrets, to the files the stack
# config names: the nodes' SSH key (nodes[].privateKeyPath: ~/.ssh/registry_nodes), known_hosts (for an
# ssh:// dockerHost, which the docker provider reaches with the local ssh) and the kubeconfig
# (kubernetes.kubeconfig: ~/.kube/config). A secret that is not set writes nothing.
set -euo pipefail
umask 077
write() { # write <file> <content>: only when there is content; never echoed
  [ -n "$2" ] || return 0
  mkdir -p "$(dirname "$1")"
  printf '%s\n' "$2" > "$1"
  echo "wrote $1"
}
write "$HOME/.ssh/registry_nodes" "${NODES_SSH_KEY:-}"
write "$HOME/.ssh/known_hosts" "${SSH_KNOWN_HOSTS:-}"
write "$HOME/.kube/config" "${KUBECONFIG_DATA:-}"
