//! `jobctl worker --executor slurm`: every claimed job becomes a Slurm batch
//! job, with the same live log, cancel, timeout and exit status as a job the
//! worker runs itself.
//!
//! The worker runs on a Slurm login (submit) host whose logs dir the compute
//! nodes share. The job task ([`crate::worker::job`]) does what it does for
//! any job — the log file, heartbeats, timeout, cancel, the report — and this
//! executor does the Slurm part behind the executor seam
//! ([`crate::worker::executor`]):
//!
//! - [`SlurmExecutor::start`](Executor::start) records the job's lease in
//!   the state dir ([`state`]) and submits a generated batch script
//!   ([`script`]) with `sbatch` ([`sbatch`]); its output and error are the
//!   job's log file;
//! - one `squeue` per poll for all of the worker's jobs ([`poller`],
//!   [`queue`]) tells each [`execution::SlurmExecution`] where its job is:
//!   queued (and why: the job's `pending_reason`), running, or over; then
//!   the exit file the script wrote and Slurm's end state say how it ended
//!   ([`outcome`]);
//! - `scancel` carries out cancels, timeouts and fencing.
//!
//! Slurm jobs do not need the worker process. A worker that stops, or is
//! killed, leaves them running; started again with the same `--name`, it
//! reads their records back and carries on heartbeating them with the same
//! leases ([`Executor::readopt`]), so to the api it never left — as long as
//! it is back within the lease timeout. Past that the api has failed the
//! jobs as `worker lost`, and the worker cancels them in Slurm.

mod commands;
mod execution;
mod outcome;
mod poller;
mod queue;
mod sbatch;
mod script;
mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::Utc;

use super::executor::{ExecEvent, Execution, Executor, Launch, StartError};
use super::fs;
use super::logfile::LogFile;
use super::redact::RedactMode;
use crate::domain::JobId;
use crate::logs;
use crate::protocol::ClaimedJob;
use commands::SlurmCommands;
use execution::{NeverSubmitted, SlurmExecution};
use poller::Poller;
use sbatch::{Resources, SubmitFailure, SubmitSpec};
use script::{RedactSpec, ScriptSpec};
use state::{JobRecord, StateDir};

/// The settings of `--executor slurm`.
#[derive(Debug, Clone)]
pub struct SlurmConfig {
    /// `--partition`: where jobs go (else the cluster's default partition).
    pub partition: Option<String>,
    /// `--sbatch-arg`s, passed to every `sbatch` before jobctl's own.
    pub sbatch_args: Vec<String>,
    /// How often `squeue` is asked about this worker's jobs.
    pub poll_interval: Duration,
    /// What is redacted from jobs' output (by `jobctl __redact` in the
    /// batch script).
    pub redact: RedactMode,
    /// `--redactor`: the jobctl binary the batch scripts run as their
    /// output filter, as the compute nodes see it; `None`: this one.
    pub redactor: Option<PathBuf>,
}

impl Default for SlurmConfig {
    fn default() -> Self {
        SlurmConfig {
            partition: None,
            sbatch_args: Vec::new(),
            poll_interval: Duration::from_secs(2),
            redact: RedactMode::All,
            redactor: None,
        }
    }
}

/// How long a job's exit file may take to show up on this host after Slurm
/// said the job ended: NFS clients cache directory contents for up to a
/// minute (`acdirmax`), though a listing usually revalidates sooner.
const EXIT_FILE_GRACE: Duration = Duration::from_secs(60);

/// What the executor and every one of its executions share.
struct Shared {
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
    /// The output filter's binary, when output is redacted.
    redactor: Option<PathBuf>,
    /// Whether `sacct` knows jobs that left the queue.
    accounting: bool,
    /// How long a filesystem call may take (see [`crate::worker::fs`]).
    fs_timeout: Duration,
}

impl Shared {
    /// Forgets job `id`: its record and its exit file.
    async fn forget(&self, id: JobId) {
        let state = self.state.clone();
        if let Err(e) = fs::blocking(self.fs_timeout, move || state.remove(id)).await {
            tracing::warn!(job = %id, error = %e, "cannot remove the job's Slurm record");
        }
    }

    async fn save(&self, record: &JobRecord) -> Result<(), fs::FsError> {
        let state = self.state.clone();
        let record = record.clone();
        fs::blocking(self.fs_timeout, move || state.save(&record)).await
    }
}

/// Runs jobs as Slurm batch jobs.
pub struct SlurmExecutor {
    shared: Arc<Shared>,
}

impl SlurmExecutor {
    /// Checks the settings against Slurm and prepares the state dir.
    /// Refuses to start when Slurm rejects the worker's own settings (an
    /// unknown partition, a bad `--sbatch-arg`): every job would fail. When
    /// Slurm does not answer, says why in the second value: the worker then
    /// waits for it before claiming.
    pub async fn start(
        config: SlurmConfig,
        worker: &str,
        logs_dir: &Path,
        sync_logs: bool,
        fs_timeout: Duration,
    ) -> anyhow::Result<(Arc<SlurmExecutor>, Option<String>)> {
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
        let redactor = match (&config.redactor, config.redact) {
            (_, RedactMode::Off) => None,
            (Some(path), _) => Some(path.clone()),
            (None, _) => Some(std::env::current_exe().context(
                "cannot tell where the jobctl binary is, for the batch scripts' output \
                 redaction; pass --redactor PATH",
            )?),
        };
        let commands = SlurmCommands;
        let down = match commands.test_submit(&probe_args(&config)).await {
            Ok(()) => None,
            Err(SubmitFailure::Job(message)) => anyhow::bail!(
                "Slurm refuses jobs with this worker's settings (--partition, --sbatch-arg): {message}"
            ),
            Err(SubmitFailure::Cluster(message)) => {
                tracing::warn!(
                    error = %message,
                    "cannot check the Slurm settings now: Slurm does not answer; no job is claimed until it does"
                );
                Some(format!("Slurm cannot take jobs: {message}"))
            }
        };
        let accounting = commands.accounting_enabled().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot tell whether Slurm keeps accounting; not using sacct");
            false
        });
        tracing::info!(
            partition = config.partition.as_deref().unwrap_or("(default)"),
            sbatch_args = ?config.sbatch_args,
            accounting,
            redactor = ?redactor,
            state = %state.path().display(),
            "Slurm executor ready"
        );
        let shared = Arc::new(Shared {
            config,
            worker: worker.to_string(),
            logs_dir,
            commands,
            state,
            poller: Poller::new(),
            sync_logs,
            redactor,
            accounting,
            fs_timeout,
        });
        Ok((Arc::new(SlurmExecutor { shared }), down))
    }

    /// Polls Slurm for this worker's jobs until `done`.
    pub async fn run_poller(self: Arc<Self>, done: tokio_util::sync::CancellationToken) {
        let shared = &self.shared;
        shared
            .poller
            .clone()
            .run(
                shared.commands.clone(),
                shared.accounting,
                shared.config.poll_interval,
                done,
            )
            .await;
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

#[async_trait]
impl Executor for SlurmExecutor {
    async fn start(
        &self,
        launch: &Launch,
        log: &LogFile,
    ) -> Result<Box<dyn Execution>, StartError> {
        let shared = &self.shared;
        let id = launch.job_id;
        let mut record = JobRecord {
            job: launch.job.clone(),
            worker: shared.worker.clone(),
            lease_token: launch.lease_token.clone(),
            lease_timeout_seconds: launch.lease.as_secs_f64().ceil().max(1.0) as u64,
            slurm_id: None,
            claimed_at: Utc::now(),
        };
        // The lease is on disk before the Slurm job exists: a worker killed
        // from here on finds it again.
        shared.save(&record).await.map_err(|e| {
            StartError::Worker(format!(
                "cannot record the job in {}: {e}",
                shared.state.path().display()
            ))
        })?;
        let exit_file = shared.state.exit_file(id);
        let log_path = logs::log_path(&shared.logs_dir, id);
        // Secrets never go into the script, which Slurm keeps: into a
        // private file the script reads and removes (see [`script`]).
        let secrets: Vec<(&str, &str)> = launch
            .secrets
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut secrets_file = None;
        if !secrets.is_empty() {
            let text = match script::secrets_file(&secrets) {
                Ok(text) => text,
                Err(e) => {
                    shared.forget(id).await;
                    return Err(StartError::Job(e.to_string()));
                }
            };
            let state = shared.state.clone();
            match fs::blocking(shared.fs_timeout, move || state.write_secrets(id, &text)).await {
                Ok(path) => secrets_file = Some(path),
                Err(e) => {
                    shared.forget(id).await;
                    return Err(StartError::Worker(format!(
                        "cannot write the job's secrets file in {}: {e}",
                        shared.state.path().display()
                    )));
                }
            }
        }
        let redact = shared.config.redact;
        let rendered = script::render(&ScriptSpec {
            job_id: id,
            command: &launch.argv,
            cwd: launch.cwd.as_deref(),
            env: launch
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            exit_file: &exit_file,
            sync_log: shared.sync_logs.then_some(log_path.as_path()),
            secrets_file: secrets_file.as_deref(),
            redact: shared.redactor.as_deref().map(|program| RedactSpec {
                program,
                shapes: redact.shapes(),
                secrets: if redact.secrets() {
                    secrets.iter().map(|(k, _)| *k).collect()
                } else {
                    Vec::new()
                },
            }),
        });
        let rendered = match rendered {
            Ok(s) => s,
            Err(e) => {
                shared.forget(id).await;
                return Err(StartError::Job(e.to_string()));
            }
        };
        let args = sbatch::sbatch_args(&SubmitSpec {
            job_id: id,
            worker: &shared.worker,
            log: &log_path,
            cwd: launch.cwd.as_deref(),
            timeout_seconds: launch.timeout_seconds,
            partition: shared.config.partition.as_deref(),
            extra: &shared.config.sbatch_args,
            resources: Resources {
                gpus: launch.job.gpus,
                cpus: launch.job.cpus,
            },
        });
        let slurm_id = match shared.commands.submit(&args, &rendered).await {
            Ok(slurm_id) => slurm_id,
            Err(failure) => {
                shared.forget(id).await;
                return Err(match failure {
                    SubmitFailure::Job(message) => {
                        StartError::Job(format!("Slurm refused the job: {message}"))
                    }
                    SubmitFailure::Cluster(message) => {
                        StartError::Worker(format!("Slurm could not take the job: {message}"))
                    }
                });
            }
        };
        record.slurm_id = Some(slurm_id);
        if let Err(e) = shared.save(&record).await {
            // The comment still names the job, so a restarted worker finds
            // it; and the lease is in the record written before sbatch.
            tracing::warn!(job = %id, error = %e, "cannot record the Slurm job id");
        }
        tracing::info!(job = %id, slurm_job = slurm_id, "submitted to Slurm");
        log.note(&format!("submitted to Slurm as job {slurm_id}"))
            .await;
        Ok(Box::new(SlurmExecution::new(
            shared.clone(),
            id,
            slurm_id,
            log.clone(),
            launch.lease,
        )))
    }

    async fn readopt(&self) -> Vec<(ClaimedJob, LogFile, Box<dyn Execution>)> {
        let shared = &self.shared;
        let state = shared.state.clone();
        let worker = shared.worker.clone();
        let loaded = fs::blocking(shared.fs_timeout, move || state.load(&worker)).await;
        let records = match loaded {
            Ok((records, problems)) => {
                for problem in problems {
                    tracing::warn!("skipping an unreadable Slurm job record: {problem}");
                }
                records
            }
            Err(e) => {
                tracing::error!(state = %shared.state.path().display(), error = %e, "cannot read the Slurm job records; not re-adopting any job");
                return Vec::new();
            }
        };
        let listed = match shared.commands.my_jobs().await {
            Ok(entries) => Some(entries),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list this user's Slurm jobs; re-adopting from the records alone");
                None
            }
        };
        // This worker's Slurm jobs, by the jobctl job their comment names.
        let mine: Vec<(JobId, queue::QueueEntry)> = listed
            .iter()
            .flatten()
            .filter_map(|entry| {
                let (id, worker) = sbatch::parse_comment(entry.comment.as_deref()?)?;
                (worker == shared.worker).then(|| (id, entry.clone()))
            })
            .collect();
        // Live Slurm jobs of ours without a record: their lease is gone with
        // it, so nobody could ever report them.
        for (id, entry) in &mine {
            if entry.state.phase() == queue::Phase::Ended
                || records.iter().any(|r| r.job_id() == *id)
            {
                continue;
            }
            tracing::warn!(job = %id, slurm_job = entry.slurm_id, "no record of this Slurm job's lease; cancelling it");
            if let Err(e) = shared.commands.cancel(entry.slurm_id).await {
                tracing::error!(job = %id, slurm_job = entry.slurm_id, error = %e, "cannot cancel the Slurm job");
            }
        }
        let mut adopted = Vec::new();
        for mut record in records {
            let id = record.job_id();
            let path = logs::log_path(&shared.logs_dir, id);
            let log = match LogFile::open(path, shared.sync_logs, shared.fs_timeout).await {
                Ok(log) => log,
                Err(e) => {
                    tracing::error!(job = %id, error = %e, "cannot open the log of a job to re-adopt; leaving it to the lease timeout");
                    continue;
                }
            };
            if record.slurm_id.is_none() {
                // The worker died while sbatch ran: the comment tells.
                record.slurm_id = mine.iter().find(|(j, _)| *j == id).map(|(_, e)| e.slurm_id);
            }
            let claimed = ClaimedJob {
                job: record.job.clone(),
                // A re-adopted job runs already, its environment set; its
                // secrets are only ever in its short-lived `.secrets` file,
                // never in the records.
                secrets: Default::default(),
                lease_token: record.lease_token.clone(),
                lease_timeout_seconds: record.lease_timeout_seconds,
            };
            let lease = Duration::from_secs(record.lease_timeout_seconds.max(1));
            let execution: Box<dyn Execution> = match (record.slurm_id, listed.is_some()) {
                (Some(slurm_id), _) => {
                    tracing::info!(job = %id, slurm_job = slurm_id, "re-adopting");
                    log.note(&format!(
                        "worker {} restarted; carrying on with Slurm job {slurm_id}",
                        shared.worker
                    ))
                    .await;
                    Box::new(SlurmExecution::new(
                        shared.clone(),
                        id,
                        slurm_id,
                        log.clone(),
                        lease,
                    ))
                }
                // sbatch never answered and Slurm has no job with this
                // comment: it never got there. Any worker may start it.
                (None, true) => Box::new(NeverSubmitted::new(
                    shared.clone(),
                    id,
                    ExecEvent::NotStarted(
                        "the worker stopped while submitting the job to Slurm".into(),
                    ),
                )),
                // Slurm could not be asked whether it got there: starting
                // it again might run it twice.
                (None, false) => Box::new(NeverSubmitted::new(
                    shared.clone(),
                    id,
                    ExecEvent::Failed {
                        exit_code: None,
                        reason: "could not start: the worker stopped while submitting the job \
                                 to Slurm, and Slurm could not be asked whether it got there"
                            .into(),
                    },
                )),
            };
            adopted.push((claimed, log, execution));
        }
        if !adopted.is_empty() {
            tracing::info!(jobs = adopted.len(), "re-adopted this worker's Slurm jobs");
        }
        adopted
    }

    fn jobs_outlive_worker(&self) -> bool {
        true
    }

    async fn probe(&self) -> Result<(), String> {
        match self
            .shared
            .commands
            .test_submit(&probe_args(&self.shared.config))
            .await
        {
            Ok(()) | Err(SubmitFailure::Job(_)) => Ok(()),
            Err(SubmitFailure::Cluster(message)) => {
                Err(format!("Slurm cannot take jobs: {message}"))
            }
        }
    }
}
