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

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::logfile::LogFile;
use super::shim::JobExit;
use crate::domain::JobId;
use crate::protocol::ClaimedJob;

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
    /// How long the lease given with the claim lasts without a renewal.
    pub lease: Duration,
    /// Between SIGTERM and SIGKILL whenever the job is stopped.
    pub kill_grace: Duration,
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
}

/// One started job.
#[async_trait]
pub trait Execution: Send {
    /// How the worker's log names it: `pid 4242`, `Slurm job 17`.
    fn describe(&self) -> String;

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
}
