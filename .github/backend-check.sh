#!/usr/bin/env bash
# Fails the workflow early, with what to set, when no state backend or no stack is configured: without
# them the Pulumi CLI would stop later with a less helpful message, or deploy a stack nobody chose.
set -euo pipefail
if [ -z "${PULUMI_ACCESS_TOKEN:-}" ] && [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  echo "::error::Set the repository secret PULUMI_ACCESS_TOKEN (Pulumi Cloud) or PULUMI_BACKEND_URL (a self-managed backend such as s3://bucket/path), and PULUMI_CONFIG_PASSPHRASE for passphrase stacks; see README.md, 'CI for your stacks'."
  exit 1
fi
if [ -n "${PULUMI_BACKEND_URL:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ]; then
  echo "::warning::PULUMI_BACKEND_URL is set but PULUMI_CONFIG_PASSPHRASE is not: a new stack on a self-managed backend uses the passphrase secrets provider and needs it."
fi
# The dev stack runs the registry on the docker engine where pulumi runs: on a runner, that is a
# machine thrown away after the job, so CI never deploys it.
case ${PULUMI_STACK:-} in
  "") echo "::error::Set the repository variable PULUMI_STACK to the stack this workflow previews and deploys (e.g. prod); see README.md, 'CI for your stacks'."; exit 1 ;;
  dev) echo "::error::PULUMI_STACK is dev, the local stack (registry on the machine running pulumi): on a runner it would land on a machine thrown away after the job. Name a stack with real hosts."; exit 1 ;;
esac
