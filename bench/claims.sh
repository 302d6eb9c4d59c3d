#!/usr/bin/env bash
# Claim throughput (issue 15), side by side in one run: the machine's bare
# spawn rate (8 concurrent `sh -c 'echo …'`, a Python subprocess loop) and
# jobctl's short jobs (`true`) per second through one worker
# `--gpus 0,1,2,3 --cpus 8 --slots 8`, jobs asking for 0, 1 and 2 GPUs in
# turn, on SQLite and on PostgreSQL. Prints a table and, per job, the CPU
# time of the api, of the worker with everything it started (supervisors
# and jobs), and of PostgreSQL.
#
#   bench/claims.sh [--jobs N] [--runs R] [--smoke]
#
# Environment: BENCH_PROFILE (release, or dev to reuse `cargo test`'s build:
# never for figures), JOBCTL_TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test; a fresh schema, dropped after),
# BENCH_RESULTS (a .jsonl file the RESULT lines are appended to),
# BENCH_JOBCTL and BENCH_CLIENT (a jobctl binary and a built `jobs` bench
# client to use instead of building them: to measure another commit's
# jobctl with the same client), BENCH_SUBMITTERS (submits in flight at once,
# default 8, as many users submit; 1: one after the other, as before — each
# submit waits for its commit, so one submitter caps the rate on SQLite).
# The CPU figures are from /proc (bench/cpu_ticks.py): they hold whatever
# else PostgreSQL serves meanwhile, and the api's share holds the bench
# client's submits and polls.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

JOBS=1000
RUNS=3
# GPUs the jobs ask for, in turn (BENCH_GPUS_MIX=0: none, to compare with a
# jobctl older than batched claims, which waits a poll interval whenever the
# oldest job does not fit).
GPUS_MIX="${BENCH_GPUS_MIX:-0,1,2}"
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) JOBS="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --smoke) JOBS=30; RUNS=1 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "bench/claims.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

: "${JOBCTL_TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/test}"
: "${BENCH_PROFILE:=release}"
case "$BENCH_PROFILE" in
  release) JOBCTL="$REPO/target/release/jobctl"; BENCH_CARGO_PROFILE=bench ;;
  dev) JOBCTL="$REPO/target/debug/jobctl"; BENCH_CARGO_PROFILE=dev ;;
  *) echo "bench/claims.sh: BENCH_PROFILE must be release or dev" >&2; exit 2 ;;
esac
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/jobctl-claims.XXXXXX")
RESULTS="${BENCH_RESULTS:-$SCRATCH/results.jsonl}"
PIDS=()
SCHEMA=""
PG_URL="${JOBCTL_TEST_DATABASE_URL%%\?*}"

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  [ -z "$SCHEMA" ] || PGOPTIONS=--client-min-messages=warning psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${BENCH_JOBCTL:-}" ]; then
  JOBCTL="$BENCH_JOBCTL"
  commit="$("$JOBCTL" --version | tr -d '\n') at $BENCH_JOBCTL"
else
  cargo build -q --locked --profile "$BENCH_PROFILE" --bin jobctl
  commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo "+dirty")
fi
if [ -n "${BENCH_CLIENT:-}" ]; then
  CLIENT=("$BENCH_CLIENT")
else
  cargo bench -q --locked --profile "$BENCH_CARGO_PROFILE" --no-run --bench jobs 2>/dev/null
  CLIENT=(cargo bench -q --locked --profile "$BENCH_CARGO_PROFILE" --bench jobs --)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# One figure: STORE (sqlite|postgres). Sets ROW.
measure() {
  local db="$1" dir="$SCRATCH/$1" storage port api worker admin wtoken before after pg_before pg_after out
  mkdir -p "$dir"
  storage=(--data-dir "$dir")
  if [ "$db" = postgres ]; then
    SCHEMA="bench_claims_$(date +%s)_$$"
    PGOPTIONS=--client-min-messages=warning psql -q "$PG_URL" -c "CREATE SCHEMA $SCHEMA" >/dev/null
    storage+=(--database "$PG_URL?options[search_path]=$SCHEMA")
  fi
  admin=$("$JOBCTL" token create --name bench-admin --role admin "${storage[@]}")
  wtoken=$("$JOBCTL" token create --name bench-worker --role worker "${storage[@]}")
  port=$(free_port)
  JOBCTL_LOG=warn "$JOBCTL" api --listen "127.0.0.1:$port" "${storage[@]}" >"$dir/api.log" 2>&1 &
  api=$!; PIDS+=("$api")
  for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
  JOBCTL_LOG=warn "$JOBCTL" worker --api-url "http://127.0.0.1:$port" --token "$wtoken" \
    --logs-dir "$dir/logs" --slots 8 --gpus 0,1,2,3 --cpus 8 --name "bench-$db" >"$dir/worker.log" 2>&1 &
  worker=$!; PIDS+=("$worker")
  local load
  load=$(load1)
  before=$(python3 bench/cpu_ticks.py "$api" "$worker")
  pg_before=$([ "$db" = postgres ] && python3 bench/cpu_ticks.py --postgres || echo '{"postgres": 0}')
  out="$dir/bench.out"
  "${CLIENT[@]}" claims \
    --api "http://127.0.0.1:$port" --token "$admin" --jobs "$JOBS" --runs "$RUNS" \
    --gpus-mix "$GPUS_MIX" --submitters "${BENCH_SUBMITTERS:-8}" --label "$db, 8 slots, GPUs $GPUS_MIX" >"$out"
  after=$(python3 bench/cpu_ticks.py "$api" "$worker")
  pg_after=$([ "$db" = postgres ] && python3 bench/cpu_ticks.py --postgres || echo '{"postgres": 0}')
  grep -v '^RESULT ' "$out" >&2 || true
  sed -n 's/^RESULT //p' "$out" >>"$RESULTS"
  kill -TERM "$worker" "$api"
  wait "$worker" "$api" 2>/dev/null || true
  # The worker's children are all reaped by now: take its total again.
  ROW=$(python3 - "$out" "$api" "$worker" "$before" "$after" "$pg_before" "$pg_after" "$((JOBS * RUNS))" "$load" "$db" "$GPUS_MIX" <<'PY'
import json, sys
out, api, worker, b, a, pb, pa, n, load, db, gpus_mix = sys.argv[1:]
b, a, pb, pa, n = json.loads(b), json.loads(a), json.loads(pb), json.loads(pa), int(n)
summary = [json.loads(l[7:]) for l in open(out) if l.startswith("RESULT ") and '"kind":"claims"' in l][0]
ms = lambda k: (a[k] - b[k]) * 1e3 / n
api_ms, worker_ms, worker_self = ms(api), ms(worker), ms(worker + "_self")
pg_ms = (pa["postgres"] - pb["postgres"]) * 1e3 / n
lo, med, hi = summary["jobs_per_s"]
print(json.dumps({"kind": "claims_cpu", "label": db, "jobs": n, "jobs_per_s": [lo, med, hi],
    "e2e_jobs_per_s": summary["e2e_jobs_per_s"], "api_ms": round(api_ms, 3),
    "worker_ms": round(worker_self, 3), "supervisors_and_jobs_ms": round(worker_ms - worker_self, 3),
    "postgres_ms": round(pg_ms, 3), "total_ms": round(api_ms + worker_ms + pg_ms, 3), "load1": float(load), "gpus_mix": gpus_mix}))
PY
)
  echo "$ROW" >>"$RESULTS"
  if [ "$db" = postgres ]; then
    PGOPTIONS=--client-min-messages=warning psql -q "$PG_URL" -c "DROP SCHEMA $SCHEMA CASCADE" >/dev/null
    SCHEMA=""
  fi
}

echo "== bare spawn rate: 8 concurrent sh -c 'echo …' (load $(load1))" >&2
SPAWN=$(python3 bench/spawn_rate.py "$((JOBS * 2))" 8)
echo "$SPAWN" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["kind"]="spawn_rate"; d["label"]="sh -c echo, 8 at once"; print(json.dumps(d))' >>"$RESULTS"
ROWS=()
for db in sqlite postgres; do
  echo "== $db: $JOBS jobs × $RUNS runs, worker --slots 8 --gpus 0,1,2,3 --cpus 8 (load $(load1))" >&2
  measure "$db"
  ROWS+=("$ROW")
done

python3 - "$SPAWN" "$commit" "${ROWS[@]}" <<'PY'
import json, sys
spawn, commit, rows = json.loads(sys.argv[1]), sys.argv[2], [json.loads(r) for r in sys.argv[3:]]
print(f"\nclaim throughput, commit {commit}: jobs/s started→finished (min / median / max); CPU ms per job")
print("| figure | per s | api | worker | supervisors + jobs | PostgreSQL | total CPU | load |")
print("|---|---|---|---|---|---|---|---|")
print(f"| bare spawn, 8 × sh -c echo | {spawn['per_s']} | | | {spawn['cpu_ms_per_spawn_children']} | | {spawn['cpu_ms_per_spawn_with_python']} (with Python's) | |")
for r in rows:
    lo, med, hi = r["jobs_per_s"]
    print(f"| {r['label']}, 8 slots, GPUs {r['gpus_mix']} | {lo:.0f} / {med:.0f} / {hi:.0f} | {r['api_ms']:.2f} | {r['worker_ms']:.2f} "
          f"| {r['supervisors_and_jobs_ms']:.2f} | {r['postgres_ms']:.2f} | {r['total_ms']:.2f} | {r['load1']} |")
PY
