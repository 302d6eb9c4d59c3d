#!/usr/bin/env bash
# Worker overhead with and without redaction, timed from the jobs' records
# (BENCHMARKS.md 4b): the release jobctl (cargo build --release first), an
# api and a worker on SQLite in a temporary directory, removed at the end. BYTES (default 1 GiB) and RUNS (3) set the size. bench/run.sh
# --only overhead measures the same with hyperfine; this needs no bench client.
# JOBCTL_BIN picks another jobctl binary (to compare builds).
# CASES (default "zeros tokens train", spaces or commas) picks the outputs:
# zeros (head -c of /dev/zero), tokens (lines dense with token-shape
# prefixes), train (an ordinary training log from bench/make_log.py:
# timestamps, steps, losses). Beside each shell redirect it times the floor
# of any redaction, the pipe hop alone: `cmd | cat > FILE`, and `cmd |
# jobctl __redact > FILE` (no patterns: the copier's read
# loop, nothing matched), and `cmd | jobctl __redact --shapes > FILE` (the
# redaction of `worker --redact all` for a job without secrets). At the end: the median of each row and its ratio
# to the shell redirect of the same output.
set -euo pipefail
WP=
J=${JOBCTL_BIN:-"$(cd "$(dirname "$0")/.." && pwd)/target/release/jobctl"}
TMP=$(mktemp -d)
D=$TMP/data; mkdir -p "$D"
export JOBCTL_CONFIG=/dev/null HOME=$TMP
ADMIN=$($J token create --name a --role admin --data-dir "$D")
W=$($J token create --name w --role worker --data-dir "$D")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
JOBCTL_LOG=warn $J api --listen 127.0.0.1:$PORT --data-dir "$D" >$TMP/api.log 2>&1 & API=$!
trap 'kill $API $WP 2>/dev/null || true; wait 2>/dev/null; rm -rf "$TMP"' EXIT
sleep 2
URL=http://127.0.0.1:$PORT
BYTES=${BYTES:-1073741824}
RUNS=${RUNS:-3}
# Waits for job $1 and prints its runtime line (label $2, run $3). One
# resident python process polls GET /jobs/{id} every 50 ms: ≈ 1 ms of CPU a
# poll. POLL=cli polls as this script first did, a `jobctl show` and a
# `python3` per poll: ≈ 50 ms of CPU each, half a core taken from the job
# and its supervisor on a 2-core machine (BENCHMARKS.md 4b, "the gap").
wait_job() { # id label run
  if [ "${POLL:-http}" = cli ]; then
    local s st
    while :; do
      s=$(JOBCTL_TOKEN=$ADMIN $J show --api-url $URL --json $1)
      st=$(echo "$s" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
      [ "$st" = completed ] && break
      [ "$st" = failed ] && { echo "failed: $s"; exit 1; }
      sleep 0.05
    done
    echo "$s" | python3 -c 'import json,sys
from datetime import datetime
j=json.load(sys.stdin)
f=lambda t: datetime.fromisoformat(t.replace("Z","+00:00"))
print(sys.argv[1], "run", sys.argv[2], "runtime_s %.3f" % (f(j["finished_at"])-f(j["started_at"])).total_seconds(), "load", open("/proc/loadavg").read().split()[0])' "$2" "$3"
    return
  fi
  python3 - "$URL" "$ADMIN" "$1" "$2" "$3" <<'PY'
import json, sys, time, urllib.request
from datetime import datetime
url, token, id, label, run = sys.argv[1:]
req = urllib.request.Request(f"{url}/jobs/{id}", headers={"Authorization": f"Bearer {token}"})
while True:
    j = json.load(urllib.request.urlopen(req))
    if j["status"] == "completed":
        break
    if j["status"] == "failed":
        sys.exit(f"failed: {j}")
    time.sleep(0.05)
f = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))
print(label, "run", run, "runtime_s %.3f" % (f(j["finished_at"]) - f(j["started_at"])).total_seconds(),
      "load", open("/proc/loadavg").read().split()[0])
PY
}
run_jobs() { # label cmd...
  local label="$1"; shift
  for r in $(seq $RUNS); do
    local id
    id=$(JOBCTL_TOKEN=$ADMIN $J submit --api-url $URL --cwd /tmp -- "$@")
    wait_job $id "$label" $r | tee -a $TMP/results
    rm -f "$D/logs/$id.log"
  done
}
shell() { # label cmd
  for r in $(seq $RUNS); do
    rm -f $TMP/out
    s=$(date +%s.%N); bash -c "$2 > $TMP/out"; e=$(date +%s.%N)
    echo "$1 run $r runtime_s $(python3 -c "print('%.3f' % ($e-$s))") load $(cut -d' ' -f1 /proc/loadavg)" | tee -a $TMP/results
  done
  rm -f $TMP/out
}
echo $W > $TMP/w.token; chmod 600 $TMP/w.token
CASES=${CASES:-zeros tokens train}
CASES=${CASES//,/ }
has() { [[ " $CASES " == *" $1 "* ]]; }
TEXT=$TMP/text
TRAIN=$TMP/train
has tokens && head -c $BYTES < <(yes 'ghp_ hf_ AKIA xoxb- glpat- jobctl_ epoch 12 loss 0.4312 acc 0.87') > $TEXT
has train && python3 "$(dirname "$0")/make_log.py" $TRAIN $BYTES
: > $TMP/results
# The floor: the pipe hop alone, read by cat and by jobctl's copy loop.
floor() { # label cmd
  shell "shell: $1 | cat > FILE" "$2 | cat"
  shell "shell: $1 | jobctl __redact > FILE" "$2 | $J __redact"
  shell "shell: $1 | jobctl __redact --shapes > FILE" "$2 | $J __redact --shapes"
}
has zeros && floor "head -c $BYTES /dev/zero" "head -c $BYTES /dev/zero"
has tokens && floor "cat TEXT" "cat $TEXT"
has train && floor "cat TRAIN" "cat $TRAIN"
for mode in all off; do
  JOBCTL_LOG=warn $J worker --api-url $URL --token-file $TMP/w.token --logs-dir "$D/logs" --redact $mode >$TMP/worker-$mode.log 2>&1 & WP=$!
  sleep 1
  # The fixed cost of a job (claim, log file, supervisor, report): `true`.
  run_jobs "jobctl --redact $mode: true" true
  if has zeros; then
    shell "shell: head -c $BYTES /dev/zero > FILE" "head -c $BYTES /dev/zero"
    run_jobs "jobctl --redact $mode: head -c $BYTES /dev/zero" head -c $BYTES /dev/zero
  fi
  if has tokens; then
    shell "shell: cat TEXT > FILE" "cat $TEXT"
    run_jobs "jobctl --redact $mode: cat TEXT" cat $TEXT
  fi
  if has train; then
    shell "shell: cat TRAIN > FILE" "cat $TRAIN"
    run_jobs "jobctl --redact $mode: cat TRAIN" cat $TRAIN
  fi
  kill $WP; wait $WP 2>/dev/null || true
done
rm -f $TEXT $TRAIN
python3 - $TMP/results <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(.*) run \d+ runtime_s ([0-9.]+) load", line)
    if m:
        rows.setdefault(m.group(1), []).append(float(m.group(2)))
print("\nmedian s  vs shell  row")
for k, v in rows.items():
    if k.endswith(": true"):
        print("%8.3f           %s (the fixed cost of a job)" % (statistics.median(v), k))
for output in ("head -c", "cat TEXT", "cat TRAIN"):
    mine = {k: v for k, v in rows.items() if output in k}
    base = [v for k, v in mine.items() if k.startswith("shell:") and k.endswith("> FILE") and "|" not in k]
    if not base:
        continue
    shell = statistics.median(base[0])
    for k, v in mine.items():
        print("%8.3f  %6.1f%%  %s" % (statistics.median(v), 100 * (statistics.median(v) / shell - 1), k))
PY
