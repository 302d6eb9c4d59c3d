//! `jobctl worker --executor slurm`: every claimed job becomes a Slurm batch
//! job, with the same live log, cancel, timeout and exit status as a job the
//! worker runs itself.
//!
//! The worker runs on a Slurm login (submit) host whose logs dir the compute
//! nodes share. For each job it creates the log file, records the job's
//! lease in the state dir ([`state`]), and submits a generated batch script
//! ([`script`]) with `sbatch` ([`sbatch`]) whose output and error are that
//! log file. From then on it heartbeats the job like any other, while one
//! `squeue` per poll for all its jobs ([`poller`], [`queue`]) says where each
//! one is in Slurm; `scancel` carries out cancels and jobctl's exact
//! timeouts. When Slurm is done with a job, the exit file its script wrote
//! and Slurm's end state decide how it ended ([`outcome`]).
//!
//! A worker that stops, or is killed, leaves its jobs running in Slurm.
//! Started again with the same `--name`, it reads their records back and
//! carries on heartbeating them with the same leases ([`SlurmExecutor::adopt`]).

mod commands;
mod job;
mod outcome;
mod poller;
mod queue;
mod sbatch;
mod script;
mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::WorkerContext;
use crate::protocol::ClaimedJob;
use commands::SlurmCommands;
use poller::Poller;
use sbatch::SubmitFailure;
use state::StateDir;

/// The settings of `--executor slurm`.
#[derive(Debug, Clone)]
pub struct SlurmConfig {
    /// `--partition`: where jobs go (else the cluster's default partition).
    pub partition: Option<String>,
    /// `--sbatch-arg`s, passed to every `sbatch` before jobctl's own.
    pub sbatch_args: Vec<String>,
    /// How often `squeue` is asked about this worker's jobs.
    pub poll_interval: Duration,
}

impl Default for SlurmConfig {
    fn default() -> Self {
        SlurmConfig {
            partition: None,
            sbatch_args: Vec::new(),
            poll_interval: Duration::from_secs(2),
        }
    }
}

/// What `sbatch --test-only` checks: the worker's own settings.
fn probe_args(config: &SlurmConfig) -> Vec<String> {
    let mut probe = config.sbatch_args.clone();
    probe.push("--output=/dev/null".into());
    if let Some(p) = &config.partition {
        probe.push(format!("--partition={p}"));
    }
    probe
}

/// How long a job's exit file may take to show up on this host after Slurm
/// said the job ended: NFS clients cache directory contents for up to a
/// minute (`acdirmax`), though a listing usually revalidates sooner.
const EXIT_FILE_GRACE: Duration = Duration::from_secs(60);

/// The Slurm side of one worker, shared by its job tasks.
pub struct SlurmExecutor {
    config: SlurmConfig,
    /// This worker's `--name`: the owner recorded with each job.
    worker: String,
    /// The logs dir as an absolute path, which is what compute nodes open.
    logs_dir: PathBuf,
    commands: SlurmCommands,
    state: StateDir,
    poller: Poller,
    /// Whether the batch scripts push their log to the file server every
    /// few seconds (the logs dir is on a network filesystem).
    sync_logs: bool,
    /// Whether `sacct` knows jobs that left the queue.
    accounting: bool,
    /// When claims may resume after Slurm could not take a job.
    cluster: Mutex<ClusterBackoff>,
}

struct ClusterBackoff {
    until: Option<Instant>,
    next: Duration,
}

impl SlurmExecutor {
    /// Checks the settings against Slurm and prepares the state dir.
    /// Refuses to start when Slurm rejects the worker's own settings (an
    /// unknown partition, a bad `--sbatch-arg`): every job would fail.
    pub async fn start(
        config: SlurmConfig,
        worker: &str,
        logs_dir: &Path,
        sync_logs: bool,
    ) -> anyhow::Result<Arc<SlurmExecutor>> {
        let logs_dir = std::fs::canonicalize(logs_dir)
            .with_context(|| format!("cannot resolve logs dir {}", logs_dir.display()))?;
        if logs_dir.to_string_lossy().contains('%') {
            // sbatch expands %j, %u… in --output; a literal % cannot be
            // escaped without turning every other pattern off too.
            anyhow::bail!(
                "the logs dir {} contains '%', which sbatch would read as a file name pattern; use another path",
                logs_dir.display()
            );
        }
        let state = StateDir::open(&logs_dir).with_context(|| {
            format!(
                "cannot create the Slurm state dir in {}",
                logs_dir.display()
            )
        })?;
        let commands = SlurmCommands;
        let mut down = false;
        match commands.test_submit(&probe_args(&config)).await {
            Ok(()) => {}
            Err(SubmitFailure::Job(message)) => anyhow::bail!(
                "Slurm refuses jobs with this worker's settings (--partition, --sbatch-arg): {message}"
            ),
            Err(SubmitFailure::Cluster(message)) => {
                tracing::warn!(
                    error = %message,
                    "cannot check the Slurm settings now: Slurm does not answer; no job is claimed until it does"
                );
                down = true;
            }
        }
        let accounting = commands.accounting_enabled().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot tell whether Slurm keeps accounting; not using sacct");
            false
        });
        tracing::info!(
            partition = config.partition.as_deref().unwrap_or("(default)"),
            sbatch_args = ?config.sbatch_args,
            accounting,
            state = %state.path().display(),
            "Slurm executor ready"
        );
        let executor = Arc::new(SlurmExecutor {
            config,
            worker: worker.to_string(),
            logs_dir,
            commands,
            state,
            poller: Poller::new(),
            sync_logs,
            accounting,
            cluster: Mutex::new(ClusterBackoff {
                until: None,
                next: Duration::from_secs(1),
            }),
        });
        if down {
            executor.cluster_failed();
        }
        Ok(executor)
    }

    /// Polls Slurm for this worker's jobs until `done`.
    pub async fn run_poller(self: Arc<Self>, done: CancellationToken) {
        self.poller
            .clone()
            .run(
                self.commands.clone(),
                self.accounting,
                self.config.poll_interval,
                done,
            )
            .await;
    }

    /// Runs one claimed job through Slurm to its end.
    pub(super) async fn run(
        self: Arc<Self>,
        ctx: Arc<WorkerContext>,
        claimed: ClaimedJob,
        stop: CancellationToken,
    ) {
        job::run_claimed(&self, &ctx, claimed, &stop).await;
    }

    /// How long the claim loop should wait before it claims again: while
    /// Slurm could not take jobs, claims pause; once the pause is over,
    /// `sbatch --test-only` must succeed before the next job is claimed, so
    /// a cluster that is down does not bounce jobs in and out of the queue.
    pub(super) async fn claim_pause(&self) -> Option<Duration> {
        let paused = self.cluster.lock().expect("poisoned").until;
        let until = paused?;
        if let Some(left) = until.checked_duration_since(Instant::now()) {
            return Some(left);
        }
        match self.commands.test_submit(&probe_args(&self.config)).await {
            Ok(()) | Err(SubmitFailure::Job(_)) => {
                tracing::info!("Slurm takes jobs again; claiming");
                self.cluster_ok();
                None
            }
            Err(SubmitFailure::Cluster(message)) => {
                let wait = self.cluster_failed();
                tracing::warn!(error = %message, "Slurm still cannot take jobs; next try in {}", crate::domain::format_duration(wait));
                Some(wait)
            }
        }
    }

    /// Slurm could not take a job: claims pause, longer each time (1 s to
    /// 60 s, with jitter so workers do not come back in step).
    fn cluster_failed(&self) -> Duration {
        let mut cluster = self.cluster.lock().expect("poisoned");
        let jitter = rand::random_range(0.8..1.2);
        let wait = cluster.next.mul_f64(jitter);
        cluster.until = Some(Instant::now() + wait);
        cluster.next = (cluster.next * 2).min(Duration::from_secs(60));
        wait
    }

    /// Slurm took a job: claims go on at full speed.
    fn cluster_ok(&self) {
        let mut cluster = self.cluster.lock().expect("poisoned");
        cluster.until = None;
        cluster.next = Duration::from_secs(1);
    }

    /// Takes back the jobs this worker (by `--name`) had in Slurm when it
    /// last stopped, each in its own task on `tracker` holding a slot when
    /// one is free. Slurm jobs of this worker whose lease it no longer has
    /// are cancelled: nobody could ever report them.
    pub(super) async fn adopt(
        self: &Arc<Self>,
        ctx: &Arc<WorkerContext>,
        tracker: &TaskTracker,
        slots: &Arc<Semaphore>,
        stop: &CancellationToken,
    ) -> anyhow::Result<usize> {
        let state = self.state.clone();
        let worker = self.worker.clone();
        let (records, problems) = tokio::task::spawn_blocking(move || state.load(&worker))
            .await
            .context("reading the Slurm state dir")?
            .with_context(|| {
                format!(
                    "cannot read the Slurm state dir {}",
                    self.state.path().display()
                )
            })?;
        for problem in problems {
            tracing::warn!("skipping an unreadable Slurm job record: {problem}");
        }
        let in_slurm = match self.commands.my_jobs().await {
            Ok(entries) => Some(entries),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list this user's Slurm jobs; re-adopting from the records alone");
                None
            }
        };
        let mine: Vec<(crate::domain::JobId, queue::QueueEntry)> = in_slurm
            .iter()
            .flatten()
            .filter_map(|entry| {
                let (id, worker) = sbatch::parse_comment(entry.comment.as_deref()?)?;
                (worker == self.worker).then(|| (id, entry.clone()))
            })
            .collect();
        // Slurm jobs of ours without a record: their lease is gone with it.
        for (id, entry) in &mine {
            if entry.state.phase() == queue::Phase::Ended || records.iter().any(|r| r.job_id == *id)
            {
                continue;
            }
            tracing::warn!(job = %id, slurm_job = entry.slurm_id, "no record of this Slurm job's lease; cancelling it");
            if let Err(e) = self.commands.cancel(entry.slurm_id).await {
                tracing::error!(job = %id, slurm_job = entry.slurm_id, error = %e, "cannot cancel the Slurm job");
            }
            job::note_path(
                &crate::logs::log_path(&self.logs_dir, *id),
                &format!(
                    "worker {} restarted without a record of this job's lease; cancelled Slurm job {}",
                    self.worker, entry.slurm_id
                ),
            )
            .await;
        }
        let count = records.len();
        let listed = in_slurm.is_some();
        for mut record in records {
            if record.slurm_id.is_none() {
                // The worker died while sbatch ran: its comment tells.
                record.slurm_id = mine
                    .iter()
                    .find(|(id, _)| *id == record.job_id)
                    .map(|(_, e)| e.slurm_id);
            }
            let permit: Option<OwnedSemaphorePermit> = slots.clone().try_acquire_owned().ok();
            let executor = self.clone();
            let ctx = ctx.clone();
            let stop = stop.clone();
            tracker.spawn(async move {
                job::run_adopted(&executor, &ctx, record, listed, &stop).await;
                drop(permit);
            });
        }
        if count > 0 {
            tracing::info!(jobs = count, "re-adopted this worker's Slurm jobs");
        }
        Ok(count)
    }

    /// Says in the worker's log what happens to the jobs it leaves running.
    pub fn detach_notice(&self, running: usize) {
        if running == 0 {
            return;
        }
        tracing::info!(
            jobs = running,
            "leaving the Slurm jobs running; start the worker again with --name {:?} within the API's lease timeout to carry on with them",
            self.worker,
        );
    }
}
