#!/usr/bin/env bash
# What recording metrics costs the api: the followers benchmark against an
# api with metrics (the default) and one started with --no-metrics, in
# alternation, each on a fresh data dir with a job writing 10 MB/s.
#
#   bench/metrics_cost.sh [ROUNDS]     (default 2 rounds of on + off)
#
# Each round runs, for each setting: 8 connections polling back to back
# (3 × 10 s) and 1000 followers polling every 5 s (1 × 30 s). Needs the
# release build and the followers client:
#   cargo build --release && cargo bench --profile bench --no-run --bench followers
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
JOBCTL="$PWD/target/release/jobctl"
SCRATCH=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$SCRATCH"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

measure() {
  local setting="$1" dir="$SCRATCH/$1-$2" port admin worker id
  shift 2
  mkdir -p "$dir"
  admin=$("$JOBCTL" token create --name admin --role admin --data-dir "$dir" 2>/dev/null)
  worker=$("$JOBCTL" token create --name worker --role worker --data-dir "$dir" 2>/dev/null)
  port=$(free_port)
  JOBCTL_LOG=warn "$JOBCTL" api --listen "127.0.0.1:$port" --data-dir "$dir" "$@" >"$dir/api.log" 2>&1 &
  local api_pid=$!; PIDS+=("$api_pid")
  for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
  JOBCTL_LOG=warn "$JOBCTL" worker --api-url "http://127.0.0.1:$port" --token "$worker" \
    --logs-dir "$dir/logs" --data-dir "$dir" >"$dir/worker.log" 2>&1 &
  local worker_pid=$!; PIDS+=("$worker_pid")
  id=$(curl -fsS -X POST "http://127.0.0.1:$port/jobs" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' \
    -d "{\"command\": [\"python3\", \"$PWD/bench/writer.py\", \"--bytes-per-sec\", \"10000000\", \"--seconds\", \"120\"]}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  for _ in $(seq 300); do
    [ "$(curl -fsS "http://127.0.0.1:$port/jobs/$id" -H "Authorization: Bearer $admin" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')" = running ] && break
    sleep 0.1
  done
  sleep 1
  cargo bench --locked -q --profile bench --bench followers -- --api "http://127.0.0.1:$port" \
    --token "$admin" --job "$id" --clients 8 --interval 0 --duration 10 --runs 3 \
    --api-pid "$api_pid" --label "metrics $setting: stress 8 conns"
  cargo bench --locked -q --profile bench --bench followers -- --api "http://127.0.0.1:$port" \
    --token "$admin" --job "$id" --clients 1000 --interval 5 --duration 30 --runs 1 \
    --api-pid "$api_pid" --label "metrics $setting: 1000 followers every 5s"
  kill "$worker_pid" "$api_pid" 2>/dev/null || true
  wait "$worker_pid" "$api_pid" 2>/dev/null || true
}

echo "commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
  measure on "$round"
  measure off "$round" --no-metrics
done
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
