#!/usr/bin/env bash
# Stands in for a real deploy: checks that the secret arrived and says where it would deploy.
# DATABASE_PASSWORD came from Vault; the runner masks it in the log, so never try to print it.
set -euo pipefail

if [ -z "${DATABASE_PASSWORD:-}" ]; then
  echo "DATABASE_PASSWORD is empty: the Vault secret did not arrive"
  exit 1
fi
echo "deploying $CI_COMMIT_SHA to $CI_ENVIRONMENT_NAME"
echo "database password received from Vault"

# What Vault saw: the claims of the token the runner logged in with (not secret; the token is).
if command -v tessera >/dev/null 2>&1; then
  printf '%s' "$VAULT_ID_TOKEN" | tessera token decode || true
fi
