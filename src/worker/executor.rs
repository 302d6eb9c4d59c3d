//! The executor seam: what starts a claimed job, watches it and stops it.
//!
//! The per-job task ([`super::job`]) owns everything about a job that does
//! not depend on where it runs: its log file, its lease and heartbeats, the
//! timeout and cancel, the decision of how it ended ([`super::outcome`]) and
//! the report. Where and how the job's processes run sits behind
//! [`Executor`]: [`super::local::LocalExecutor`] runs each job under a
//! supervisor process on this machine. Another executor (a Slurm batch job,
//! say) implements the same two traits:
//!
//! - [`Executor::start`] starts the job from a [`Launch`] with its output
//!   going to the job's [`LogFile`], and says whether a failure to start is
//!   the job's fault or this worker's ([`StartError`]);
//! - the [`Execution`] it returns reports how the job ended
//!   ([`Execution::next_event`]), stops it on request
//!   ([`Execution::terminate`], then [`Execution::kill`] after the grace),
//!   and hears each lease renewal ([`Execution::renew_lease`]) so that it can
//!   fence the job when the worker can no longer vouch for it;
//! - [`Executor::readopt`] hands back, after a worker restart, the jobs that
//!   outlived the previous worker process, so that [`super::job::supervise`]
//!   takes them over. The local executor has none: its jobs die with their
//!   worker.
//!
//! An executor with a queue of its own ([`super::slurm`]: a Slurm batch job
//! may wait in Slurm's queue for hours) starts a job *queued*: it says why
//! the job waits ([`ExecEvent::Queued`], shown as the job's
//! `pending_reason`) and when it runs ([`ExecEvent::Running`], from when
//! the timeout counts). Its jobs may also outlive the worker
//! ([`Executor::jobs_outlive_worker`]): a stopping worker then leaves them
//! running for its next start to take back, instead of stopping them.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::logfile::LogFile;
use super::shim::JobExit;
use crate::domain::{JobId, Secrets};
use crate::protocol::{ClaimedJob, Job};

/// Everything an executor needs to start one job.
#[derive(Debug, Clone)]
pub struct Launch {
    pub job_id: JobId,
    /// The argv, program first; run without a shell.
    pub argv: Vec<String>,
    /// The absolute working directory, if the job asked for one.
    pub cwd: Option<String>,
    /// Variables set for the job on top of the worker's environment (from
    /// which the worker's own `JOBCTL_*` settings are removed).
    pub env: BTreeMap<String, String>,
    /// The job's secrets: set in its environment too, and every value
    /// redacted from its output. Kept apart from `env` so that a value
    /// never travels where `env` goes (this struct's `Debug`, a state file).
    pub secrets: Secrets,
    /// How much longer the claim's lease holds without a renewal: the
    /// executor fences the job when this runs out.
    pub lease: Duration,
    /// Between SIGTERM and SIGKILL whenever the job is stopped.
    pub kill_grace: Duration,
    /// The job's own timeout: the worker enforces it; an executor with a
    /// scheduler of its own may pass it on (Slurm's `--time`).
    pub timeout_seconds: Option<u64>,
    /// The job as claimed, and its lease token: what an executor whose
    /// jobs outlive the worker keeps, to hand them back through
    /// [`Executor::readopt`].
    pub job: Job,
    pub lease_token: String,
}

/// Why a job could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// The job itself cannot run (a missing program, a working directory
    /// that does not exist): it fails with `could not start: …`.
    Job(String),
    /// This worker cannot run jobs right now (its supervisor does not
    /// start, the storage hangs): not the job's fault.
    Worker(String),
}

impl StartError {
    /// The reason, without the `could not start:` prefix.
    pub fn reason(&self) -> &str {
        match self {
            StartError::Job(r) | StartError::Worker(r) => r,
        }
    }
}

/// Something that happened to a started job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// The job's main process ended, and what it left behind was killed.
    Ended(JobExit),
    /// The executor stopped the job because its lease ran out without a
    /// renewal (the worker is stopped, or cut off from the api).
    Fenced,
    /// The executor lost track of the job (its supervisor died); whatever
    /// was left of the job has been killed. The text says what happened.
    Lost(String),
    /// The job waits in the executor's queue; the text says why (Slurm's
    /// pending reason). Only from an execution that [`Execution::starts_queued`].
    Queued(String),
    /// The job left the queue and runs, and has for `ran_for` already (a
    /// job re-adopted after a restart): its timeout counts from then.
    Running { ran_for: Duration },
    /// The job ended in a way its exit status does not tell, and the
    /// executor knows why: Slurm's `NODE_FAIL` or `OUT_OF_MEMORY`, a job
    /// that could not start on its node, one the scheduler lost.
    Failed {
        exit_code: Option<i32>,
        reason: String,
    },
    /// It turned out that the job never started, through no fault of its
    /// own (a worker that died while submitting it): hand it back.
    NotStarted(String),
}

/// Starts jobs.
#[async_trait]
pub trait Executor: Send + Sync + 'static {
    /// Starts the job and returns once it runs, or could not start.
    async fn start(&self, launch: &Launch, log: &LogFile)
    -> Result<Box<dyn Execution>, StartError>;

    /// Jobs that a previous run of this worker started and that still run,
    /// with their claims, for [`super::job::supervise`] to take over.
    async fn readopt(&self) -> Vec<(ClaimedJob, LogFile, Box<dyn Execution>)> {
        Vec::new()
    }

    /// Whether started jobs keep running without the worker process; then
    /// a stopping worker leaves them be (no drain, no stop).
    fn jobs_outlive_worker(&self) -> bool {
        false
    }

    /// Whether this executor can start jobs right now, checked before a
    /// worker that had to hand a job back claims again.
    async fn probe(&self) -> Result<(), String> {
        Ok(())
    }
}

/// One started job.
#[async_trait]
pub trait Execution: Send {
    /// How the worker's log names it: `pid 4242`, `Slurm job 17`.
    fn describe(&self) -> String;

    /// What [`Execution::terminate`] is about to do, for the `[jobctl]`
    /// line that says why the job is being stopped.
    fn stop_action(&self) -> String {
        "sending SIGTERM to the job's process group".to_string()
    }

    /// Whether the job starts in the executor's queue rather than running:
    /// then its timeout counts only from [`ExecEvent::Running`].
    fn starts_queued(&self) -> bool {
        false
    }

    /// Waits for the next event. Cancel-safe: it sits in a `select!`
    /// beside the timeout, the lease and the worker's shutdown.
    async fn next_event(&mut self) -> ExecEvent;

    /// Asks the job to stop (SIGTERM to its process group).
    async fn terminate(&mut self);

    /// Stops the job now (SIGKILL to its process group).
    async fn kill(&mut self);

    /// The api accepted a heartbeat: the lease holds for `valid_for` more.
    async fn renew_lease(&mut self, valid_for: Duration);

    /// Releases what is left once the job has ended (reaps the supervisor).
    async fn finish(&mut self);

    /// The job's end has been reported (or given up on): forget it.
    async fn reported(&mut self) {}

    /// The worker is stopping and leaves the job running (see
    /// [`Executor::jobs_outlive_worker`]); the text is for the job's log.
    async fn detach(&mut self) -> String {
        String::new()
    }
}
