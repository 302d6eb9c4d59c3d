#!/usr/bin/env bash
# jobctl's benchmarks, side by side in one run (see BENCHMARKS.md).
#
#   bench/run.sh            the full benchmarks: ~30 min, GBs of scratch files
#                           under target/bench-run, waits for a quiet machine
#   bench/run.sh --smoke    every benchmark at toy sizes in about a minute
#                           (plus the build): checks that each path works and
#                           fails loudly when a server errors; no targets
#   bench/run.sh --only tail,followers,live,overhead,claims,slurm,list,search   a subset
#
# `slurm` needs a running Slurm (ci/slurm.sh starts a one-node one); without
# one it is skipped with a note.
#
# It builds jobctl --release and the `cargo bench` clients, installs what it
# needs (hyperfine from apt, FastAPI and uvicorn from PyPI into a venv under
# target/), starts every server on a free port, prints a table per figure,
# keeps the raw results in target/bench-results/, and stops and removes all it
# started. PostgreSQL comes from JOBCTL_TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test); each run uses a fresh schema and
# drops it.
#
# Environment: BENCH_PROFILE=dev builds and runs everything unoptimised
# instead of --release, reusing what `cargo test` built (for CI, where the
# smoke run checks that the benchmarks work, not how fast jobctl is; never
# for figures). BENCH_MAX_LOAD (default 0.7) is the 1-minute load a full run
# waits for before each measurement, for at most BENCH_LOAD_WAIT seconds
# (default 3600). Dropping the page cache for the cold figures needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

SMOKE=0
ONLY="tail,followers,live,overhead,claims,slurm,list,search"
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --only) ONLY="$2"; shift ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

: "${JOBCTL_TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/test}"
: "${BENCH_MAX_LOAD:=0.7}"
: "${BENCH_LOAD_WAIT:=3600}"
SCRATCH="$REPO/target/bench-run"
RESULTS_DIR="$REPO/target/bench-results"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
MODE=$([ "$SMOKE" = 1 ] && echo smoke || echo full)
[ "${BENCH_PROFILE:-release}" = release ] || MODE="$MODE-$BENCH_PROFILE"
RESULTS="$RESULTS_DIR/$STAMP-$MODE.jsonl"
VENV="$REPO/target/bench-venv"
: "${BENCH_PROFILE:=release}"
case "$BENCH_PROFILE" in
  release) JOBCTL="$REPO/target/release/jobctl" ;;
  dev) JOBCTL="$REPO/target/debug/jobctl" ;;
  *) echo "bench/run.sh: BENCH_PROFILE must be release or dev" >&2; exit 2 ;;
esac
CARGO_BENCH=(cargo bench --locked -q --profile "$([ "$BENCH_PROFILE" = dev ] && echo dev || echo bench)")
PIDS=()
SCHEMAS=()

log() { printf '\n== %s\n' "$*" >&2; }
die() { echo "bench/run.sh: $*" >&2; exit 1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  local schema
  for schema in "${SCHEMAS[@]}"; do
    PGOPTIONS=--client-min-messages=warning psql -q "$(pg_admin_url)" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=0
apt_install() {
  [ "$APT_UPDATED" = 1 ] || { as_root apt-get update -qq; APT_UPDATED=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# ---------------------------------------------------------------- set-up

install_tools() {
  command -v hyperfine >/dev/null || { log "installing hyperfine (apt)"; apt_install hyperfine; }
  command -v curl >/dev/null || apt_install curl
  command -v python3 >/dev/null || apt_install python3 python3-venv
  if wants claims || wants list; then command -v psql >/dev/null || apt_install postgresql-client; fi
  # The FastAPI reference and the writer jobs' Python: only the log benchmarks use them.
  if { wants tail || wants followers || wants live; } && [ ! -x "$VENV/bin/uvicorn" ]; then
    log "installing the FastAPI reference into $VENV (PyPI)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install -q --disable-pip-version-check -r bench/reference/requirements.txt
  fi
}

build() {
  log "building jobctl ($BENCH_PROFILE) and the bench clients"
  # The bench clients' build makes the jobctl binary too (a package's
  # binaries are built for its benchmarks). A smoke run on the debug build
  # that `cargo test` just made needs nothing more: a separate `cargo build`
  # would rebuild ~50 crates without the dev-dependencies' features, then
  # the binary again for the benchmarks.
  [ "$SMOKE" = 1 ] && [ "$BENCH_PROFILE" = dev ] || cargo build --locked --profile "$BENCH_PROFILE"
  "${CARGO_BENCH[@]}" --no-run --bench tail_latency --bench followers --bench live_latency --bench jobs --bench slurm --bench paging
}

machine() {
  local model
  model=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
  printf '{"kind":"machine","label":"%s","cores":%s,"mem_gib":%s,"kernel":"%s","cpu":"%s","mode":"%s","commit":"%s"}\n' \
    "$(hostname)" "$(nproc)" \
    "$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)" \
    "$(uname -r)" "$model" "$MODE" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >>"$RESULTS"
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# Before a recorded measurement: wait for a quiet machine, note its load.
quiet() {
  local what="$1" waited=0
  if [ "$SMOKE" = 0 ]; then
    while awk -v l="$(load1)" -v m="$BENCH_MAX_LOAD" 'BEGIN { exit !(l >= m) }'; do
      if [ "$waited" -ge "$BENCH_LOAD_WAIT" ]; then
        echo "bench/run.sh: load still $(load1) after ${waited}s; measuring anyway" >&2
        break
      fi
      [ $((waited % 60)) = 0 ] && echo "   waiting for load < $BENCH_MAX_LOAD (now $(load1)) before: $what" >&2
      sleep 5; waited=$((waited + 5))
    done
  fi
  printf '{"kind":"load","label":"%s","load1":%s,"loadavg":"%s"}\n' "$what" "$(load1)" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS"
}

# Runs a bench client; its RESULT lines go to the results file. In smoke
# mode any failure stops the run; in a full run it is recorded and the run
# goes on, so one failed figure does not lose the others.
bench() {
  local name="$1"; shift
  local out status=0
  out=$(mktemp)
  "${CARGO_BENCH[@]}" --bench "$name" -- "$@" >"$out" || status=$?
  grep -v '^RESULT ' "$out" || true
  sed -n 's/^RESULT //p' "$out" >>"$RESULTS"
  rm -f "$out"
  if [ "$status" != 0 ]; then
    printf '{"kind":"failure","label":"%s"}\n' "$name" >>"$RESULTS"
    [ "$SMOKE" = 1 ] && die "benchmark $name failed (exit $status)"
    echo "bench/run.sh: benchmark $name FAILED (exit $status); going on" >&2
  fi
  return 0
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() {
  local url="$1" what="$2" pid="$3"
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited before answering; see its log in $SCRATCH"
    sleep 0.1
  done
  die "$what did not answer at $url within 30s"
}

# start_api NAME STORAGE_FLAGS... : sets API_URL, API_PID, ADMIN, WORKER_TOKEN
start_api() {
  local name="$1"; shift
  ADMIN=$("$JOBCTL" token create --name bench-admin --role admin "$@")
  WORKER_TOKEN=$("$JOBCTL" token create --name bench-worker --role worker "$@")
  local port
  port=$(free_port)
  JOBCTL_LOG=warn "$JOBCTL" api --listen "127.0.0.1:$port" "$@" >"$SCRATCH/$name-api.log" 2>&1 &
  API_PID=$!
  PIDS+=("$API_PID")
  API_URL="http://127.0.0.1:$port"
  wait_http "$API_URL/healthz" "jobctl api ($name)" "$API_PID"
}

# start_worker NAME LOGS_DIR SLOTS [WORKER_FLAGS...] : sets WORKER_PID
start_worker() {
  JOBCTL_LOG=warn "$JOBCTL" worker --api-url "$API_URL" --token "$WORKER_TOKEN" \
    --logs-dir "$2" --slots "$3" --name "bench-$1" "${@:4}" >"$SCRATCH/$1-worker.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

# submit ARGV_JSON : prints the new job's id
submit() {
  curl -fsS -X POST "$API_URL/jobs" -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' -d "{\"command\": $1}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

job_status() {
  curl -fsS "$API_URL/jobs/$1" -H "Authorization: Bearer $ADMIN" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])'
}

wait_running() {
  for _ in $(seq 300); do
    case "$(job_status "$1")" in
      running) return 0 ;;
      pending) sleep 0.1 ;;
      *) die "job $1 ended before it could be measured: $(job_status "$1")" ;;
    esac
  done
  die "job $1 was not claimed within 30s"
}

cancel() {
  curl -fsS -o /dev/null -X POST "$API_URL/jobs/$1/cancel" -H "Authorization: Bearer $ADMIN" || true
}

can_drop_caches() { [ -w /proc/sys/vm/drop_caches ] && echo 1 >/proc/sys/vm/drop_caches 2>/dev/null; }

# Converts a hyperfine --export-json file into a RESULT line.
hyperfine_result() {
  python3 - "$1" "$2" "$3" >>"$RESULTS" <<'EOF'
import json, math, sys
path, kind, label = sys.argv[1:]
r = json.load(open(path))["results"][0]
t = sorted(x * 1e3 for x in r["times"])
rank = lambda q: t[min(len(t), max(1, math.ceil(q * len(t)))) - 1]
print(json.dumps({"kind": kind, "label": label, "n": len(t), "min_ms": round(t[0], 3),
                  "p50_ms": round(rank(0.5), 3), "p99_ms": round(rank(0.99), 3),
                  "max_ms": round(t[-1], 3), "mean_ms": round(sum(t) / len(t), 3),
                  "command": r["command"]}))
EOF
}

# ------------------------------------------------------------ benchmarks

bench_tail() {
  log "1. tail latency of 1000 lines vs log size: jobctl, GNU tail, FastAPI deque"
  local dir="$SCRATCH/tail" sizes cold=0
  mkdir -p "$dir"
  start_api tail --data-dir "$dir"
  local ref_port ref_pid
  ref_port=$(free_port)
  LOGS_DIR="$dir/logs" "$VENV/bin/uvicorn" app:app --app-dir "$REPO/bench/reference" \
    --host 127.0.0.1 --port "$ref_port" --log-level warning >"$SCRATCH/reference.log" 2>&1 &
  ref_pid=$!
  PIDS+=("$ref_pid")
  wait_http "http://127.0.0.1:$ref_port/healthz" "the FastAPI reference" "$ref_pid"
  can_drop_caches && cold=1 || echo "   (cannot drop the page cache: no cold figures)" >&2
  # name:bytes:flat:jobctl_n:ref_n:cold_n
  if [ "$SMOKE" = 1 ]; then
    sizes="1MiB:1048576::20:5:1 8MiB:8388608::20:3:1 flat-4MiB:4194304:--flat:20:3:1"
  else
    sizes="1MiB:1048576::500:200:10 100MiB:104857600::500:20:5 1GiB:1073741824::500:10:3 flat-256MiB:268435456:--flat:500:5:3"
  fi
  local spec name bytes flat n ref_n cold_n id file
  for spec in $sizes; do
    IFS=: read -r name bytes flat n ref_n cold_n <<<"$spec"
    id=$(submit '["true"]')
    file="$dir/logs/$id.log"
    python3 bench/make_log.py "$file" "$bytes" $flat
    local url="$API_URL/jobs/$id/logs?tail=1000" ref="http://127.0.0.1:$ref_port/jobs/$id/logs?tail=1000"
    cat "$file" >/dev/null # into the page cache
    quiet "tail $name"
    bench tail_latency --url "$url" --token "$ADMIN" --requests "$n" --warmup 10 --label "jobctl $name warm"
    hyperfine -N --style none --warmup 5 --runs "$n" --export-json "$dir/h.json" "tail -n 1000 $file" >/dev/null
    hyperfine_result "$dir/h.json" tail "GNU tail $name warm"
    bench tail_latency --url "$ref" --requests "$ref_n" --warmup 1 --label "FastAPI deque $name warm"
    if [ "$cold" = 1 ]; then
      quiet "tail $name cold"
      bench tail_latency --url "$url" --token "$ADMIN" --requests "$cold_n" --warmup 1 --drop-caches --label "jobctl $name cold"
      hyperfine -N --style none --runs "$cold_n" --prepare "sh -c 'sync; echo 3 > /proc/sys/vm/drop_caches'" \
        --export-json "$dir/h.json" "tail -n 1000 $file" >/dev/null
      hyperfine_result "$dir/h.json" tail "GNU tail $name cold"
      bench tail_latency --url "$ref" --requests "$cold_n" --warmup 1 --drop-caches --label "FastAPI deque $name cold"
    fi
    rm -f "$file"
  done
  stop_pid "$ref_pid"
  stop_pid "$API_PID"
}

bench_followers() {
  log "2. many followers polling logs?offset= while a job writes 10 MB/s"
  local dir="$SCRATCH/followers" configs stress duration runs interval sduration
  mkdir -p "$dir"
  start_api followers --data-dir "$dir"
  start_worker followers "$dir/logs" 1
  if [ "$SMOKE" = 1 ]; then
    configs="10 50"; stress="2 8"; interval=1; duration=3; sduration=2; runs=1
  else
    configs="10 100 1000"; stress="2 8 32"; interval=5; duration=45; sduration=10; runs=3
  fi
  # e.g. BENCH_FOLLOWERS="1000" BENCH_STRESS="8 32" to rerun a few rows
  configs=${BENCH_FOLLOWERS:-$configs}
  stress=${BENCH_STRESS:-$stress}
  local clients id seconds
  for clients in $configs X $stress; do
    [ "$clients" = X ] && { interval=0; duration=$sduration; continue; }
    seconds=$(( (runs * (duration + 15)) + 30 ))
    # Before the writer starts: its own I/O keeps the load up.
    quiet "followers $clients every ${interval}s"
    id=$(submit "[\"$VENV/bin/python\", \"$REPO/bench/writer.py\", \"--bytes-per-sec\", \"10000000\", \"--seconds\", \"$seconds\"]")
    wait_running "$id"
    sleep 1
    bench followers --api "$API_URL" --token "$ADMIN" --job "$id" --clients "$clients" \
      --interval "$interval" --duration "$duration" --runs "$runs" --api-pid "$API_PID" \
      --label "$([ "$interval" = 0 ] && echo "stress $clients conns" || echo "$clients followers every ${interval}s")"
    cancel "$id"
    for _ in $(seq 100); do [ "$(job_status "$id")" = running ] || break; sleep 0.1; done
    rm -f "$dir/logs/$id.log"
  done
  stop_pid "$WORKER_PID"
  stop_pid "$API_PID"
}

bench_live() {
  log "3. live latency: a line written by a job to the same line returned by the api (redaction on, the default)"
  local dir="$SCRATCH/live" runs duration id
  mkdir -p "$dir"
  start_api live --data-dir "$dir"
  start_worker live "$dir/logs" 1
  if [ "$SMOKE" = 1 ]; then runs=1; duration=2; else runs=3; duration=20; fi
  for run in $(seq "$runs"); do
    quiet "live latency run $run"
    id=$(submit "[\"$VENV/bin/python\", \"$REPO/bench/writer.py\", \"--lines-per-sec\", \"100\", \"--seconds\", \"$((duration + 10))\"]")
    wait_running "$id"
    bench live_latency --api "$API_URL" --token "$ADMIN" --job "$id" --duration "$duration" --label "live run $run"
    cancel "$id"
  done
  stop_pid "$WORKER_PID"
  stop_pid "$API_PID"
}

bench_overhead() {
  log "4. worker overhead: a job writing 1 GiB under jobctl vs the shell redirecting it to a file"
  local dir="$SCRATCH/overhead" bytes runs
  mkdir -p "$dir"
  if [ "$SMOKE" = 1 ]; then bytes=16777216; runs=1; else bytes=1073741824; runs=5; fi
  local cmd="head -c $bytes /dev/zero"
  start_api overhead --data-dir "$dir"
  start_worker overhead "$dir/logs" 1
  quiet "overhead shell"
  hyperfine --style none --runs "$runs" --prepare "rm -f $dir/out" --export-json "$dir/h.json" \
    "$cmd > $dir/out" >/dev/null
  hyperfine_result "$dir/h.json" overhead_shell "shell: $cmd > FILE"
  hyperfine --style none --runs "$runs" --prepare "rm -f $dir/out" --export-json "$dir/h.json" \
    "$cmd > $dir/out && sync -d $dir/out" >/dev/null
  hyperfine_result "$dir/h.json" overhead_shell "shell: $cmd > FILE && sync -d FILE"
  rm -f "$dir/out"
  quiet "overhead jobctl"
  bench jobs overhead --api "$API_URL" --token "$ADMIN" --runs "$runs" --logs-dir "$dir/logs" \
    --command "$cmd" --label "jobctl (redact all): $cmd"
  stop_pid "$WORKER_PID"
  # The same job with the pipe and the redactor out of the way.
  start_worker overhead-off "$dir/logs" 1 --redact off
  quiet "overhead jobctl --redact off"
  bench jobs overhead --api "$API_URL" --token "$ADMIN" --runs "$runs" --logs-dir "$dir/logs" \
    --command "$cmd" --label "jobctl (redact off): $cmd"
  stop_pid "$WORKER_PID"
  # Text rather than zeros: every line holds bytes that begin a token
  # shape, so the redactor steps its automaton instead of skipping.
  local text="$dir/text"
  # (`yes` ends on SIGPIPE when head has enough: not a failure, so it stays
  # out of the pipeline that pipefail judges.)
  head -c "$bytes" < <(yes 'ghp_ hf_ AKIA xoxb- glpat- jobctl_ epoch 12 loss 0.4312 acc 0.87') >"$text"
  quiet "overhead shell text"
  hyperfine --style none --runs "$runs" --prepare "rm -f $dir/out" --export-json "$dir/h.json" \
    "cat $text > $dir/out" >/dev/null
  hyperfine_result "$dir/h.json" overhead_shell "shell: cat TEXT > FILE"
  rm -f "$dir/out"
  for mode in all off; do
    start_worker "overhead-text-$mode" "$dir/logs" 1 --redact "$mode"
    quiet "overhead jobctl text --redact $mode"
    bench jobs overhead --api "$API_URL" --token "$ADMIN" --runs "$runs" --logs-dir "$dir/logs" \
      --command "cat $text" --label "jobctl (redact $mode): cat TEXT"
    stop_pid "$WORKER_PID"
  done
  rm -f "$text"
  stop_pid "$API_PID"
}

pg_admin_url() { echo "${JOBCTL_TEST_DATABASE_URL%%\?*}"; }

bench_claims() {
  log "5. claim throughput: short jobs (true) per second, SQLite and PostgreSQL"
  local jobs runs slots_list db dir slots schema storage
  if [ "$SMOKE" = 1 ]; then jobs=10; runs=1; slots_list="1 4 8"; else jobs=300; runs=3; slots_list="1 4 8"; fi
  pg_isready -q -d "$(pg_admin_url)" 2>/dev/null || PGOPTIONS=--client-min-messages=warning psql -q "$(pg_admin_url)" -c 'select 1' >/dev/null ||
    die "PostgreSQL is not reachable at $(pg_admin_url) (set JOBCTL_TEST_DATABASE_URL)"
  for db in sqlite postgres; do
    for slots in $slots_list; do
      dir="$SCRATCH/claims-$db-$slots"
      mkdir -p "$dir"
      if [ "$db" = sqlite ]; then
        storage=(--data-dir "$dir")
      else
        schema="bench_$(date +%s)_$$_$slots"
        PGOPTIONS=--client-min-messages=warning psql -q "$(pg_admin_url)" -c "CREATE SCHEMA $schema" >/dev/null
        SCHEMAS+=("$schema")
        storage=(--database "$(pg_admin_url)?options[search_path]=$schema" --data-dir "$dir")
      fi
      start_api "claims-$db-$slots" "${storage[@]}"
      start_worker "claims-$db-$slots" "$dir/logs" "$slots"
      quiet "claims $db $slots slots"
      bench jobs claims --api "$API_URL" --token "$ADMIN" --jobs "$jobs" --runs "$runs" \
        --label "$db, $slots slots"
      stop_pid "$WORKER_PID"
      stop_pid "$API_PID"
      [ "$db" = postgres ] && PGOPTIONS=--client-min-messages=warning psql -q "$(pg_admin_url)" -c "DROP SCHEMA $schema CASCADE" >/dev/null
      rm -rf "$dir"
    done
  done
  log "5b. claim throughput beside the bare spawn rate: 8 slots, 4 GPUs, 0/1/2-GPU jobs (bench/claims.sh)"
  quiet "claims beside spawn rate"
  local claims_args=(--jobs 1000 --runs 3)
  [ "$SMOKE" = 1 ] && claims_args=(--smoke)
  BENCH_RESULTS="$RESULTS" BENCH_PROFILE="$BENCH_PROFILE" bench/claims.sh "${claims_args[@]}" ||
    { printf '{"kind":"failure","label":"claims.sh"}\n' >>"$RESULTS"; [ "$SMOKE" = 1 ] && die "bench/claims.sh failed"; }
}

bench_list() {
  log "7. GET /jobs over many jobs: first pages and a deep page, SQLite and PostgreSQL"
  local jobs requests depth db dir schema storage database
  if [ "$SMOKE" = 1 ]; then jobs=2000; requests=20; depth=1500; else jobs=100000; requests=500; depth=90000; fi
  PGOPTIONS=--client-min-messages=warning psql -q "$(pg_admin_url)" -c 'select 1' >/dev/null ||
    die "PostgreSQL is not reachable at $(pg_admin_url) (set JOBCTL_TEST_DATABASE_URL)"
  for db in sqlite postgres; do
    dir="$SCRATCH/list-$db"
    mkdir -p "$dir"
    if [ "$db" = sqlite ]; then
      database="sqlite://$dir/jobctl.db"
    else
      schema="bench_list_$(date +%s)_$$"
      PGOPTIONS=--client-min-messages=warning psql -q "$(pg_admin_url)" -c "CREATE SCHEMA $schema" >/dev/null
      SCHEMAS+=("$schema")
      database="$(pg_admin_url)?options[search_path]=$schema"
    fi
    storage=(--database "$database" --data-dir "$dir")
    start_api "list-$db" "${storage[@]}"
    bench paging seed --database "$database" --jobs "$jobs"
    quiet "list $db"
    bench paging list --api "$API_URL" --token "$ADMIN" --requests "$requests" --depth "$depth" \
      --label "$db, $jobs jobs"
    stop_pid "$API_PID"
    [ "$db" = postgres ] && PGOPTIONS=--client-min-messages=warning psql -q "$(pg_admin_url)" -c "DROP SCHEMA $schema CASCADE" >/dev/null
    rm -rf "$dir"
  done
}

bench_search() {
  log "8. log search over a big log: jobctl (every request to the end) vs grep -F -c"
  local dir="$SCRATCH/search" bytes runs name id file expect q='loss=0.1234 '
  if [ "$SMOKE" = 1 ]; then bytes=16777216; runs=2; name=16MiB; else bytes=1073741824; runs=5; name=1GiB; fi
  mkdir -p "$dir"
  start_api search --data-dir "$dir"
  id=$(submit '["true"]')
  file="$dir/logs/$id.log"
  python3 bench/make_log.py "$file" "$bytes"
  cat "$file" >/dev/null # into the page cache, for both
  expect=$(grep -F -c -- "$q" "$file")
  quiet "search $name"
  # --output=pipe: GNU grep stops at the first match when its output is
  # /dev/null (hyperfine's default), which would time nothing.
  hyperfine -N --style none --output=pipe --warmup 1 --runs "$runs" --export-json "$dir/h.json" \
    "grep -F -c -- '$q' $file" >/dev/null
  hyperfine_result "$dir/h.json" search_grep "grep -F -c $name"
  bench paging search --api "$API_URL" --token "$ADMIN" --job "$id" --q "$q" --runs "$runs" \
    --expect "$expect" --label "jobctl $name"
  hyperfine -N --style none --output=pipe --warmup 1 --runs "$runs" --export-json "$dir/h.json" \
    "grep -F -i -c -- '$q' $file" >/dev/null
  hyperfine_result "$dir/h.json" search_grep "grep -F -i -c $name"
  bench paging search --api "$API_URL" --token "$ADMIN" --job "$id" --q "$q" --ignore-case \
    --runs "$runs" --expect "$(grep -F -i -c -- "$q" "$file")" --label "jobctl ignore_case $name"
  rm -f "$file"
  stop_pid "$API_PID"
}

# ------------------------------------------------------------------ main

started=$(date +%s)
install_tools
build
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH" "$RESULTS_DIR"
machine
bench_slurm() {
  log "6. Slurm executor: a trivial job through jobctl vs sbatch --wait, and 200 short jobs"
  if ! bash ci/slurm.sh --check; then
    echo "   skipped: Slurm is not running here (start it with ci/slurm.sh)" >&2
    printf '{"kind":"skipped","label":"slurm: Slurm not running"}\n' >>"$RESULTS"
    return 0
  fi
  local dir="$SCRATCH/slurm" runs jobs
  if [ "$SMOKE" = 1 ]; then runs=1; jobs=5; else runs=10; jobs=200; fi
  mkdir -p "$dir"
  start_api slurm --data-dir "$dir"
  # The worker's default squeue interval (2 s): what a site would run.
  JOBCTL_LOG=warn "$JOBCTL" worker --executor slurm --api-url "$API_URL" --token "$WORKER_TOKEN" \
    --logs-dir "$dir/logs" --max-jobs 100 --name "bench-slurm-$$" >"$SCRATCH/slurm-worker.log" 2>&1 &
  WORKER_PID=$!
  PIDS+=("$WORKER_PID")
  quiet "slurm latency"
  bench slurm latency --api "$API_URL" --token "$ADMIN" --runs "$runs"
  quiet "slurm throughput"
  bench slurm throughput --api "$API_URL" --token "$ADMIN" --jobs "$jobs"
  stop_pid "$WORKER_PID"
}

wants tail && bench_tail
wants followers && bench_followers
wants live && bench_live
wants overhead && bench_overhead
wants claims && bench_claims
wants slurm && bench_slurm
wants list && bench_list
wants search && bench_search
echo
python3 bench/report.py "$RESULTS"
echo
echo "bench/run.sh: $MODE run done in $(( $(date +%s) - started ))s; raw results in $RESULTS"
if grep -q '"kind":"failure"' "$RESULTS"; then
  die "some benchmarks failed (see above)"
fi
