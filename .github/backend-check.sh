#!/usr/bin/env bash
# Fails the workflow early, with what to set, when no state backend is configured: without one the
# Pulumi CLI would stop at its login with a less helpful message.
set -euo pipefail
if [ -z "${PULUMI_ACCESS_TOKEN:-}" ] && [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  echo "::error::Set the repository secret PULUMI_ACCESS_TOKEN (Pulumi Cloud) or PULUMI_BACKEND_URL (a self-managed backend such as s3://bucket/path), and PULUMI_CONFIG_PASSPHRASE for passphrase stacks; see README.md, 'CI for your stacks'."
  exit 1
fi
if [ -n "${PULUMI_BACKEND_URL:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ]; then
  echo "::warning::PULUMI_BACKEND_URL is set but PULUMI_CONFIG_PASSPHRASE is not: a new stack on a self-managed backend uses the passphrase secrets provider and needs it."
fi
