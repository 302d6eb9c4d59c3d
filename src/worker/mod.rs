//! `jobctl worker`: claims jobs over HTTP and runs them with live logs.
//!
//! The claim loop runs up to `slots` jobs at once, asking for work about once
//! a second when idle and backing off when the api fails. Each job runs in
//! its own task ([`job::run`]) through a small supervisor process
//! ([`shim`]) whose stdout and stderr are the job's log file.
//!
//! Stopping (SIGINT/SIGTERM): no more claims; running jobs get up to
//! `drain_timeout` to finish; then the rest are stopped as on a timeout and
//! reported `failed` (`worker shut down`). A second signal skips the drain.
//!
//! With `--executor slurm` ([`slurm`]) each job runs as a Slurm batch job
//! instead, and `--max-jobs` bounds how many the worker has in Slurm. Those
//! jobs do not depend on the worker process: on a stop it leaves them
//! running, and its next start (same `--name`) takes them back.

mod job;
pub mod shim;
pub mod slurm;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::{ApiClient, ClientError};
use crate::domain::format_duration;
use crate::shutdown::Shutdown;
use slurm::{SlurmConfig, SlurmExecutor};

/// Where claimed jobs run.
#[derive(Debug, Clone)]
pub enum ExecutorConfig {
    /// As child processes of this worker (`--executor local`).
    Local,
    /// As Slurm batch jobs (`--executor slurm`).
    Slurm(SlurmConfig),
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub api_url: String,
    pub token: String,
    /// Where logs are created: the same path the api reads.
    pub logs_dir: PathBuf,
    /// Jobs run at once (with Slurm: jobs in Slurm at once, `--max-jobs`).
    pub slots: usize,
    /// Where jobs run.
    pub executor: ExecutorConfig,
    /// This worker's name in job records.
    pub name: String,
    /// Between SIGTERM and SIGKILL when a job is stopped.
    pub kill_grace: Duration,
    /// How long running jobs may finish after a shutdown signal.
    pub drain_timeout: Duration,
    /// How often running jobs are heartbeated (less when the lease is short).
    pub heartbeat_interval: Duration,
    /// How often to ask for work when idle.
    pub poll_interval: Duration,
    /// How long to wait for the api at start before giving up.
    pub startup_timeout: Duration,
    /// The `jobctl` binary, run as each job's supervisor (`__run-job`).
    pub shim_program: PathBuf,
}

impl WorkerConfig {
    /// Defaults for everything but where to connect and where logs go.
    pub fn new(api_url: String, token: String, logs_dir: PathBuf) -> anyhow::Result<Self> {
        Ok(WorkerConfig {
            api_url,
            token,
            logs_dir,
            slots: 1,
            executor: ExecutorConfig::Local,
            name: default_name(),
            kill_grace: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(2),
            poll_interval: Duration::from_secs(1),
            startup_timeout: Duration::from_secs(30),
            // This very binary, even after an upgrade replaced the file:
            // worker and supervisor always speak the same control protocol.
            shim_program: PathBuf::from("/proc/self/exe"),
        })
    }
}

/// The host name, which is what Slurm and Ray show as a job's node.
pub fn default_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into())
}

/// What every job task needs.
struct WorkerContext {
    client: ApiClient,
    logs_dir: PathBuf,
    kill_grace: Duration,
    heartbeat_interval: Duration,
    shim_program: PathBuf,
    /// fdatasync running logs every few seconds. Only on a network
    /// filesystem: there it pushes output to the server for the api's host
    /// to see; on a local disk the api reads the same page cache the job
    /// writes, and syncing only slows the job (BENCHMARKS.md: +57 % on a
    /// 1 GiB writer).
    sync_logs: bool,
    /// Fires when the worker must stop now: final reports stop retrying.
    give_up: CancellationToken,
}

/// Runs the worker until `shutdown`; `Err` for a fatal problem (a refused
/// token, an api that never answered).
pub async fn run(config: WorkerConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.logs_dir)
        .with_context(|| format!("cannot create logs dir {}", config.logs_dir.display()))?;
    let client = ApiClient::new(&config.api_url, &config.token)?;
    wait_for_api(&client, config.startup_timeout, &shutdown.graceful).await?;
    let network_fs = crate::fsinfo::network_filesystem(&config.logs_dir);
    let ctx = Arc::new(WorkerContext {
        client: client.clone(),
        logs_dir: config.logs_dir.clone(),
        kill_grace: config.kill_grace,
        heartbeat_interval: config.heartbeat_interval,
        shim_program: config.shim_program.clone(),
        sync_logs: network_fs.is_some(),
        give_up: shutdown.immediate.clone(),
    });
    let executor = match &config.executor {
        ExecutorConfig::Local => Executor::Local,
        ExecutorConfig::Slurm(slurm) => Executor::Slurm(
            SlurmExecutor::start(
                slurm.clone(),
                &config.name,
                &config.logs_dir,
                network_fs.is_some(),
            )
            .await?,
        ),
    };
    tracing::info!(
        name = %config.name,
        api = %client.base_url(),
        executor = executor.name(),
        slots = config.slots,
        logs_dir = %config.logs_dir.display(),
        logs_fs = network_fs.unwrap_or("local"),
        "worker started"
    );

    // Fires when running jobs must be stopped: after the drain, or at once.
    let stop_jobs = CancellationToken::new();
    let jobs = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(config.slots.max(1)));
    let poller_done = CancellationToken::new();
    let poller = match &executor {
        Executor::Slurm(slurm) => {
            let poller = tokio::spawn(slurm.clone().run_poller(poller_done.clone()));
            slurm.adopt(&ctx, &jobs, &slots, &stop_jobs).await?;
            Some(poller)
        }
        Executor::Local => None,
    };
    let fatal = claim_loop(
        &ctx, &config, &executor, &slots, &jobs, &stop_jobs, &shutdown,
    )
    .await;

    jobs.close();
    let running = jobs.len();
    if let Executor::Slurm(slurm) = &executor {
        // Slurm runs the jobs, not this process: nothing to drain.
        slurm.detach_notice(running);
        stop_jobs.cancel();
    } else if running > 0 {
        tracing::info!(
            running,
            "waiting up to {} for running jobs to finish",
            format_duration(config.drain_timeout)
        );
        tokio::select! {
            _ = jobs.wait() => {}
            _ = tokio::time::sleep(config.drain_timeout) => {
                tracing::warn!("drain timeout reached: stopping the remaining jobs");
            }
            _ = shutdown.immediate.cancelled() => {}
        }
    }
    stop_jobs.cancel();
    jobs.wait().await;
    poller_done.cancel();
    if let Some(poller) = poller {
        let _ = poller.await;
    }
    tracing::info!("worker stopped");
    fatal.map_or(Ok(()), Err)
}

/// The executor a worker runs its jobs with.
enum Executor {
    Local,
    Slurm(Arc<SlurmExecutor>),
}

impl Executor {
    fn name(&self) -> &'static str {
        match self {
            Executor::Local => "local",
            Executor::Slurm(_) => "slurm",
        }
    }
}

/// Claims and starts jobs until shutdown; returns a fatal error, if any.
async fn claim_loop(
    ctx: &Arc<WorkerContext>,
    config: &WorkerConfig,
    executor: &Executor,
    slots: &Arc<Semaphore>,
    jobs: &TaskTracker,
    stop_jobs: &CancellationToken,
    shutdown: &Shutdown,
) -> Option<anyhow::Error> {
    let mut backoff = Backoff::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.graceful.cancelled() => return None,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        if shutdown.graceful.is_cancelled() {
            return None;
        }
        // Slurm could not take the last job: do not take another yet.
        if let Executor::Slurm(slurm) = executor {
            let pause = tokio::select! {
                _ = shutdown.graceful.cancelled() => return None,
                pause = slurm.claim_pause() => pause,
            };
            if let Some(wait) = pause {
                drop(permit);
                tokio::select! {
                    _ = shutdown.graceful.cancelled() => return None,
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            }
        }
        // The claim is not raced against shutdown: a job the api has handed
        // over must run (or be reported), never be dropped on the floor.
        let wait = match ctx.client.claim(&config.name).await {
            Ok(Some(claimed)) => {
                backoff.reset();
                tracing::info!(job = %claimed.job.id, "claimed job");
                let ctx = ctx.clone();
                let stop = stop_jobs.clone();
                match executor {
                    Executor::Local => jobs.spawn(async move {
                        job::run(ctx, claimed, stop).await;
                        drop(permit);
                    }),
                    Executor::Slurm(slurm) => {
                        let slurm = slurm.clone();
                        jobs.spawn(async move {
                            slurm.run(ctx, claimed, stop).await;
                            drop(permit);
                        })
                    }
                };
                continue;
            }
            Ok(None) => {
                backoff.reset();
                config.poll_interval
            }
            Err(e @ ClientError::Api { status, .. })
                if status == reqwest::StatusCode::UNAUTHORIZED
                    || status == reqwest::StatusCode::FORBIDDEN =>
            {
                tracing::error!(error = %e, "the API refused this worker's token; stopping");
                return Some(anyhow::anyhow!(
                    "the API refused the worker token: {e}; create one with `jobctl token create --name NAME --role worker` and pass it with --token or JOBCTL_TOKEN"
                ));
            }
            Err(e) => {
                let wait = backoff.next();
                tracing::warn!(error = %e, "cannot claim jobs; retrying in {}", format_duration(wait));
                wait
            }
        };
        drop(permit);
        tokio::select! {
            _ = shutdown.graceful.cancelled() => return None,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Waits until the api answers `/healthz`, for at most `timeout`.
async fn wait_for_api(
    client: &ApiClient,
    timeout: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut backoff = Backoff::new();
    loop {
        match client.healthz().await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(e).context(format!(
                    "gave up after {}: check --api-url / JOBCTL_API_URL",
                    format_duration(timeout)
                ));
            }
            Err(e) => {
                let wait = backoff.next();
                tracing::warn!(error = %e, "API not reachable yet; retrying in {}", format_duration(wait));
                tokio::select! {
                    _ = shutdown.cancelled() => anyhow::bail!("stopped while waiting for the API"),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Exponential backoff from 1 s to 30 s.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(Duration::from_secs(1))
    }
    fn reset(&mut self) {
        self.0 = Duration::from_secs(1);
    }
    fn next(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(30));
        now
    }
}
