#!/usr/bin/env bash
# Checks that the api answers as its /openapi.json says: schemathesis (from
# PyPI, into a venv under target/) generates requests from the description —
# valid and invalid ones — against a real `jobctl api` on SQLite, once with
# a user token and once with an admin token, and every check must pass.
#
#   tests/openapi/schemathesis.sh [--release]    (test.sh runs it)
#
# Bounded in time: ST_MAX_EXAMPLES examples per operation (default 30).
set -euo pipefail
cd "$(dirname "$0")/../.."

PROFILE_DIR=target/debug
[ "${1:-}" = "--release" ] && PROFILE_DIR=target/release
JOBCTL="$PWD/$PROFILE_DIR/jobctl"
[ -x "$JOBCTL" ] || cargo build --quiet ${1:+"$1"}

VENV="$PWD/target/schemathesis-venv"
if [ ! -x "$VENV/bin/st" ]; then
  command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null; }
  python3 -m venv "$VENV" 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$VENV"; }
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5"
fi

WORK=$(mktemp -d)
API_PID=
cleanup() {
  [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

export JOBCTL_DATA_DIR="$WORK/data"
unset JOBCTL_CONFIG JOBCTL_TOKEN JOBCTL_API_URL JOBCTL_DATABASE_URL
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
USER_TOKEN=$("$JOBCTL" token create --name st-user --role user 2>/dev/null)
ADMIN_TOKEN=$("$JOBCTL" token create --name st-admin --role admin 2>/dev/null)
"$JOBCTL" api --listen "127.0.0.1:$PORT" >"$WORK/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

WORKER_TOKEN=$("$JOBCTL" token create --name st-worker --role worker 2>/dev/null)
status=0
# Users and admins on their routes; a worker on its own.
for run in "user $USER_TOKEN --exclude-tag workers" "admin $ADMIN_TOKEN --exclude-tag workers" \
           "worker $WORKER_TOKEN --include-tag workers"; do
  set -- $run
  who=$1 token=$2
  shift 2
  "$VENV/bin/st" --config-file tests/openapi/schemathesis.toml run \
    "http://127.0.0.1:$PORT/openapi.json" "$@" \
    --header "Authorization: Bearer $token" \
    --max-examples "${ST_MAX_EXAMPLES:-30}" \
    --seed 1 \
    --no-color \
    >"$WORK/st.out" 2>&1 || status=$?
  if [ "$status" != 0 ]; then
    cat "$WORK/st.out"
    echo "--- the api's log:"; tail -50 "$WORK/api.log"
    exit "$status"
  fi
  echo "schemathesis ($who token): $(grep -E '^=+ .* in [0-9.]+s =+$' "$WORK/st.out" | tr -d '=' | xargs)"
done
