#!/usr/bin/env bash
# Live latency with redaction on (BENCHMARKS.md 4b): a job with a declared
# secret running bench/writer.py (100 lines/s) under a worker with
# `--redact all`, read back to back through the api by the live_latency
# client. The release jobctl and the client first:
#   cargo build --release --bin jobctl && cargo bench --no-run --bench live_latency
# RUNS (3) and DURATION (20 s) set the size; MODES ("all off") the worker
# modes. Everything runs in a temporary directory, removed at the end.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
J=$REPO/target/release/jobctl
CLIENT=$(ls -t "$REPO"/target/release/deps/live_latency-* | grep -v '\.d$' | head -1)
TMP=$(mktemp -d)
D=$TMP/data; mkdir -p "$D"
export JOBCTL_CONFIG=/dev/null HOME=$TMP
ADMIN=$($J token create --name a --role admin --data-dir "$D")
W=$($J token create --name w --role worker --data-dir "$D")
echo "$W" > $TMP/w.token; chmod 600 $TMP/w.token
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WP=
JOBCTL_LOG=warn $J api --listen 127.0.0.1:$PORT --data-dir "$D" >$TMP/api.log 2>&1 & API=$!
trap 'kill $API $WP 2>/dev/null || true; wait 2>/dev/null; rm -rf "$TMP"' EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -fsS $URL/healthz >/dev/null 2>&1 && break; sleep 0.1; done
RUNS=${RUNS:-3}
DURATION=${DURATION:-20}
for mode in ${MODES:-all off}; do
  JOBCTL_LOG=warn $J worker --api-url $URL --token-file $TMP/w.token --logs-dir "$D/logs" --redact $mode >$TMP/worker-$mode.log 2>&1 & WP=$!
  for r in $(seq $RUNS); do
    id=$(curl -fsS -X POST $URL/jobs -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
      -d "{\"command\": [\"python3\", \"$REPO/bench/writer.py\", \"--lines-per-sec\", \"100\", \"--seconds\", \"$((DURATION + 10))\"], \"secrets\": {\"BENCH_SECRET\": \"not-in-the-output-1234\"}}" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
    "$CLIENT" --api $URL --token "$ADMIN" --job "$id" --duration "$DURATION" --label "live --redact $mode run $r"
    curl -fsS -X POST $URL/jobs/$id/cancel -H "Authorization: Bearer $ADMIN" >/dev/null
  done
  kill $WP; wait $WP 2>/dev/null || true; WP=
done
