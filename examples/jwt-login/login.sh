#!/usr/bin/env bash
# Starts the protected service on loopback, then calls it three times: without a token, with a
# token for another audience, and with this job's token for the service. Fails unless the service
# refuses the first two (401) and accepts the third (200).
set -euo pipefail

# The issuer the service trusts: Tessera tells every job in CI_ID_TOKEN_ISSUER (older instances:
# the coordinator's CI_SERVER_URL). A real service has it in its own configuration, never from a job.
export EXPECTED_ISSUER="${EXPECTED_ISSUER:-${CI_ID_TOKEN_ISSUER:-$CI_SERVER_URL}}"
export SERVICE_AUDIENCE="${SERVICE_AUDIENCE:-https://protected-service.example}"
# Only this project's jobs may come in. Add REQUIRE_PROTECTED=true to admit protected refs only.
export BOUND_PROJECT_PATH="${BOUND_PROJECT_PATH:-$CI_PROJECT_PATH}"

workdir="$(mktemp -d)"
export PORT_FILE="$workdir/port"
node ./protected-service.mjs >"$workdir/service.log" 2>&1 &
service_pid=$!
trap 'kill "$service_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 50); do
  [ -s "$PORT_FILE" ] && break
  sleep 0.1
done
if [ ! -s "$PORT_FILE" ]; then
  echo "the protected service did not start:"
  cat "$workdir/service.log"
  exit 1
fi
url="http://127.0.0.1:$(cat "$PORT_FILE")/"

call() { # call NAME EXPECTED_STATUS [CURL_ARGS...]
  local name=$1 expected=$2
  shift 2
  local status
  status=$(curl -s -o "$workdir/body" -w '%{http_code}' "$@" "$url")
  echo "$name -> HTTP $status $(cat "$workdir/body")"
  if [ "$status" != "$expected" ]; then
    echo "expected HTTP $expected"
    exit 1
  fi
}

call "no token" 401
call "token for another audience" 401 --header "Authorization: Bearer $OTHER_ID_TOKEN"
call "this job's token" 200 --header "Authorization: Bearer $SERVICE_ID_TOKEN"

# The claims are not secret (the token is): look at them when something is refused.
if command -v tessera >/dev/null 2>&1; then
  printf '%s' "$SERVICE_ID_TOKEN" | tessera token decode || true
fi
