#!/usr/bin/env bash
# Mints two tokens on demand and checks what came back, using bash, coreutils and curl only.
set -euo pipefail

audience="${AUDIENCE:-https://deploy-target.example}"

# Every running job gets these four variables; the *_TOKEN ones are masked in the log.
for name in TESSERA_ID_TOKEN_REQUEST_URL TESSERA_ID_TOKEN_REQUEST_TOKEN \
  ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN; do
  if [ -z "${!name:-}" ]; then
    echo "$name is not set: is this running in a Tessera job?"
    exit 1
  fi
done

# Prints the claims (the middle part) of a JWT. Claims are not secret; never print the token.
claims() {
  local payload
  payload=$(printf '%s' "$1" | cut -d. -f2 | tr '_-' '/+')
  while [ $(( ${#payload} % 4 )) -ne 0 ]; do payload="$payload="; done
  printf '%s' "$payload" | base64 -d
}
# Prints the value of a top-level string or number claim.
claim() {
  claims "$1" | tr ',{}' '\n\n\n' | sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\"]*\)\"\{0,1\} *$/\1/p"
}

check() { # check WHAT ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then
    echo "$1: got '$2', expected '$3'"
    exit 1
  fi
  echo "$1: $2"
}

echo "== 1. the ACTIONS_ID_TOKEN_REQUEST_URL protocol, with curl =="
# The URL already has a query string, so parameters are appended with '&'.
response=$(curl -sf --get \
  --header "Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
  --data-urlencode "audience=$audience" \
  --data-urlencode "lifetime=120" \
  "$ACTIONS_ID_TOKEN_REQUEST_URL")
# The answer is {"value":"<jwt>"}.
token=$(printf '%s' "$response" | sed -n 's/.*"value" *: *"\([^"]*\)".*/\1/p')
check "parts" "$(printf '%s' "$token" | tr -cd '.' | wc -c | tr -d ' ')" "2"
check "aud" "$(claim "$token" aud)" "$audience"
check "project_path" "$(claim "$token" project_path)" "$CI_PROJECT_PATH"
check "job_id" "$(claim "$token" job_id)" "$CI_JOB_ID"
check "lifetime (exp - iat)" "$(( $(claim "$token" exp) - $(claim "$token" iat) ))" "120"

echo "== 2. without the request token, the request is refused =="
status=$(curl -s -o /dev/null -w '%{http_code}' --get --data-urlencode "audience=$audience" \
  "$TESSERA_ID_TOKEN_REQUEST_URL")
check "HTTP status" "$status" "401"

echo "== 3. tessera id-token =="
if command -v tessera >/dev/null 2>&1; then
  token=$(tessera id-token --audience "$audience" --lifetime 60)
  check "aud" "$(claim "$token" aud)" "$audience"
  check "lifetime (exp - iat)" "$(( $(claim "$token" exp) - $(claim "$token" iat) ))" "60"
else
  echo "tessera is not on PATH here; skipped"
fi

echo "== the claims of the last token =="
claims "$token"
echo
