#!/usr/bin/env bash
# Starts a one-node Slurm on this machine for jobctl's Slurm executor tests:
# installs Debian's slurm-wlm and munge when they are missing, writes a
# one-node configuration to /etc/slurm, and starts munged, slurmctld and
# slurmd without systemd. Idempotent: a second run finds Slurm up and only
# says so. Nothing is written inside the repository.
#
#   ci/slurm.sh           start (or check) the test cluster
#   ci/slurm.sh --check   exit 0 when the test cluster answers, 1 otherwise
#   ci/slurm.sh --stop    stop the daemons this script started
#
# The configuration is the smallest that runs batch jobs on a machine without
# systemd or cgroups: proctrack/linuxproc, task/none, no accounting. The node
# is oversubscribed (each CPU takes up to 16 jobs) so the tests' 8 concurrent
# jobs run at once on a 2-core machine, and the scheduler runs every second
# instead of every minute so a test job starts within a second or two.
#
# It refuses to touch a slurm.conf it did not write: on a machine that is
# already part of a real cluster it only reports whether Slurm answers.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARKER="# Written by jobctl's ci/slurm.sh"
STATE_DIR=/var/lib/slurm
LOG_DIR=/var/log/slurm
NODE=localhost

say() { echo "ci/slurm.sh: $*" >&2; }

# The node answers and takes jobs.
slurm_up() {
  command -v sinfo >/dev/null 2>&1 || return 1
  local state
  state=$(timeout 10 sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null | head -n1) || return 1
  case "$state" in
    idle* | mix* | alloc* | comp*) return 0 ;;
    *) return 1 ;;
  esac
}

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root (or sudo) to $*"
    return 1
  fi
}

# A daemon is running when the pid in its pid file is alive.
pid_of() { cat "/run/$1.pid" "/run/munge/$1.pid" 2>/dev/null | head -n1 || true; }
running() {
  local pid state
  pid=$(pid_of "$1")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] || return 1
  # A zombie waiting for its parent to reap it is not running.
  state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
  [ -n "$state" ] && [ "$state" != Z ]
}
# Stops a daemon this script started, by the pid in its pid file.
stop() {
  if running "$1"; then
    as_root kill "$(pid_of "$1")" || true
  fi
}

case "${1:-}" in
  --check)
    slurm_up
    exit
    ;;
  --stop)
    stop slurmd
    stop slurmctld
    say "stopped slurmd and slurmctld (munged left running)"
    exit 0
    ;;
  "") ;;
  *)
    echo "usage: ci/slurm.sh [--check|--stop]" >&2
    exit 2
    ;;
esac

# A cluster this script did not set up (its own slurm.conf, or none here at
# all: a configless login node) that answers is left alone.
if slurm_up && ! grep -qF "$MARKER" "$CONF" 2>/dev/null; then
  say "Slurm is up (node $NODE)"
  exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 ||
  ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  say "installing slurm-wlm and munge"
  if ! out=$(as_root apt-get update -qq 2>&1 &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurm-wlm munge 2>&1); then
    printf '%s\n' "$out" >&2
    say "could not install slurm-wlm and munge"
    exit 1
  fi
fi

if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
  say "$CONF exists and was not written by this script; not touching a real cluster's configuration"
  say "Slurm does not answer on node $NODE: start it the way this machine's administrator set it up"
  exit 1
fi

cpus=$(nproc)
# Memory is not a consumable resource here (CR_CPU), so this only has to be
# true: slurmd drains a node that reports less than it is configured with.
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
host=$(hostname -s)

conf=$(
  cat <<EOF
$MARKER for jobctl's Slurm tests. Safe to delete.
# A one-node cluster on this machine; see ci/slurm.sh in the jobctl repository.
ClusterName=jobctl-test
# slurmctld insists on running on the host named here.
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Quick turns for tests: schedule every second, reap in seconds, keep
# finished jobs visible to squeue for five minutes (the default).
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
KillWait=5
# On a busy machine slurmd may take more than the default 10 s to start a
# batch job; slurmctld would then call the node failed and requeue (or, for
# --no-requeue jobs such as jobctl's, fail) it.
BatchStartTimeout=60
MinJobAge=300
InactiveLimit=0
SlurmdTimeout=60
EnforcePartLimits=ALL
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:16
# A partition whose one-minute limit the tests exceed on purpose.
PartitionName=short Nodes=$NODE MaxTime=1 State=UP OverSubscribe=FORCE:16
EOF
)

# Up, and with this very configuration (or a real cluster's): nothing to do.
if slurm_up && { [ "$(cat "$CONF" 2>/dev/null)" = "$conf" ] || ! grep -qF "$MARKER" "$CONF" 2>/dev/null; }; then
  say "Slurm is up (node $NODE)"
  exit 0
fi

as_root mkdir -p "$CONF_DIR" "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd" "$LOG_DIR"
as_root chown slurm:slurm "$STATE_DIR/slurmctld" "$LOG_DIR"
if [ "$(cat "$CONF" 2>/dev/null)" != "$conf" ]; then
  printf '%s\n' "$conf" | as_root tee "$CONF" >/dev/null
  as_root chmod 644 "$CONF"
  # A changed configuration reaches running daemons only by a restart.
  stop slurmd
  stop slurmctld
  for _ in $(seq 50); do
    running slurmd || running slurmctld || break
    sleep 0.1
  done
fi

# munged runs as the munge user, as its own init scripts would start it.
if [ ! -s /etc/munge/munge.key ]; then
  as_root mkdir -p /etc/munge
  as_root chown munge:munge /etc/munge
  as_root chmod 700 /etc/munge
  as_root mungekey --create --keyfile=/etc/munge/munge.key
  as_root chown munge:munge /etc/munge/munge.key
  as_root chmod 400 /etc/munge/munge.key
fi
if ! running munged; then
  as_root mkdir -p /run/munge
  as_root chown munge:munge /run/munge
  as_root chmod 755 /run/munge
  as_root runuser -u munge -- /usr/sbin/munged
fi

if ! running slurmctld; then
  as_root /usr/sbin/slurmctld
fi
if ! running slurmd; then
  # The node is called localhost whatever this machine's host name is.
  as_root /usr/sbin/slurmd -N "$NODE"
fi

# A node that was down when slurmctld last saw it comes back by itself
# (ReturnToService=2) once slurmd registers; a drained one needs a resume.
deadline=$((SECONDS + 60))
while ! slurm_up; do
  state=$(timeout 10 sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null | head -n1 || true)
  case "$state" in
    drain* | drng*) as_root scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
  esac
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "Slurm did not come up within 60 s (node state: ${state:-unknown})"
    for log in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"; do
      [ -r "$log" ] && { say "last lines of $log:"; tail -n 20 "$log" >&2; }
    done
    exit 1
  fi
  sleep 0.5
done
say "Slurm is up (node $NODE, $cpus CPUs; config $CONF, state $STATE_DIR, logs $LOG_DIR)"
