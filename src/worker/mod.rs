//! `jobctl worker`: claims jobs over HTTP and runs them with live logs.
//!
//! The claim loop runs up to `slots` jobs at once, asking for work about once
//! a second when idle and backing off when the api fails. Each job runs in
//! its own task ([`job`]), which is split by concern:
//!
//! - [`executor`]: the seam between a job's life and what runs its
//!   processes; [`local`] runs each under a small supervisor process
//!   ([`shim`]) whose stdout and stderr are the job's log file;
//! - [`lease`]: heartbeats and the final report;
//! - [`logfile`]: the log file the job writes into;
//! - [`outcome`]: how the job ended, as a pure function of the facts;
//! - [`fs`]: filesystem calls off the async runtime, with a deadline.
//!
//! Stopping (SIGINT/SIGTERM): no more claims; running jobs get up to
//! `drain_timeout` to finish; then the rest are stopped as on a timeout and
//! reported `failed` (`worker shut down`). A second signal skips the drain.
//!
//! With `--executor slurm` ([`slurm`]) each job runs as a Slurm batch job,
//! and `slots` (`--max-jobs`) bounds how many the worker has in Slurm. Those
//! jobs do not need the worker process: a stopping worker leaves them
//! running, and its next start (same `--name`) takes them back.

pub mod executor;
mod fs;
mod health;
mod job;
mod lease;
mod local;
pub mod logfile;
mod outcome;
pub mod redact;
pub mod resources;
pub mod shim;
pub mod slurm;
mod spawn;
pub mod zygote;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use std::os::unix::fs::DirBuilderExt;

use anyhow::Context;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::{ApiClient, ClientError};
use crate::domain::format_duration;
use crate::protocol::WorkerRegistration;
use crate::shutdown::Shutdown;

/// Whether an environment variable is one of the worker's own settings
/// (`JOBCTL_*`, its token above all): none of them reaches a job, a job
/// supervisor or a Slurm command; a `jobctl` run inside a job should use the
/// job's environment.
pub(crate) fn is_worker_setting(key: &std::ffi::OsStr) -> bool {
    std::os::unix::ffi::OsStrExt::as_bytes(key).starts_with(b"JOBCTL_")
}

/// Keeps the worker's own settings out of a child's environment.
pub(crate) fn remove_worker_settings(command: &mut tokio::process::Command) {
    for (key, _) in std::env::vars_os() {
        if is_worker_setting(&key) {
            command.env_remove(key);
        }
    }
}

/// Where claimed jobs run.
#[derive(Debug, Clone)]
pub enum ExecutorConfig {
    /// As supervised processes on this machine (`--executor local`).
    Local,
    /// As Slurm batch jobs (`--executor slurm`).
    Slurm(slurm::SlurmConfig),
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
    /// GPU device ids this worker hands out (local executor).
    pub gpus: Vec<String>,
    /// CPUs this worker hands out (local executor).
    pub cpus: u32,
    /// What is redacted from jobs' output before it reaches their logs.
    pub redact: redact::RedactMode,
    /// Run each job as the local account named like its owner (root only).
    pub run_as_owner: bool,
    /// Where to serve this worker's metrics, if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
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
            gpus: Vec::new(),
            cpus: default_cpus(),
            redact: redact::RedactMode::All,
            run_as_owner: false,
            metrics_listen: None,
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

/// The CPUs this process may use (its affinity mask and cgroup quota).
pub fn default_cpus() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}

/// What every job task needs.
struct WorkerContext {
    client: ApiClient,
    /// Final reports, sent together when jobs end together.
    reports: lease::Reports,
    executor: Arc<dyn executor::Executor>,
    logs_dir: PathBuf,
    kill_grace: Duration,
    heartbeat_interval: Duration,
    /// How long a filesystem call may take before the filesystem counts as
    /// hung (see [`fs`]).
    fs_timeout: Duration,
    /// fdatasync running logs every few seconds. Only on a network
    /// filesystem: there it pushes output to the server for the api's host
    /// to see; on a local disk the api reads the same page cache the job
    /// writes, and syncing only slows the job (BENCHMARKS.md: +57 % on a
    /// 1 GiB writer).
    sync_logs: bool,
    /// Fires when final reports must stop retrying: when the worker is
    /// told to stop now, or when the shutdown's report window is over.
    give_up: CancellationToken,
    /// Whether this worker can run jobs right now.
    health: Arc<health::Health>,
    /// Final statuses that could not be delivered before `give_up`.
    undelivered: std::sync::Mutex<Vec<String>>,
    /// The GPUs and CPUs jobs get (local executor); `None` where a
    /// scheduler of its own hands them out (Slurm).
    resources: Option<resources::Resources>,
}

/// Runs the worker until `shutdown`; `Err` for a fatal problem (a refused
/// token, an api that never answered).
pub async fn run(config: WorkerConfig, shutdown: Shutdown) -> anyhow::Result<()> {
    // Jobs running as this user must not read the worker's memory,
    // environment or command line through /proc (its token is there).
    // SAFETY: prctl with these arguments has no memory-safety preconditions.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "cannot mark the worker non-dumpable; jobs running as its user can read its memory"
        );
    }
    // Logs are for their owner and the api's group, not for every user.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(&config.logs_dir)
        .with_context(|| format!("cannot create logs dir {}", config.logs_dir.display()))?;
    let client = ApiClient::new(&config.api_url, &config.token)?;
    let health = Arc::new(health::Health::default());
    let metrics_server = match config.metrics_listen {
        Some(addr) => Some(serve_metrics(addr, health.clone(), shutdown.immediate.clone()).await?),
        None => None,
    };
    wait_for_api(&client, config.startup_timeout, &shutdown.graceful).await?;
    let network_fs = crate::fsinfo::network_filesystem(&config.logs_dir);
    let poller_done = CancellationToken::new();
    let (executor, poller): (Arc<dyn executor::Executor>, _) = match &config.executor {
        ExecutorConfig::Local => (
            Arc::new(local::LocalExecutor {
                shim_program: config.shim_program.clone(),
                fs_timeout: fs::FS_TIMEOUT,
                redact: config.redact,
                run_as_owner: config.run_as_owner,
                zygote: Arc::new(zygote::Zygote::new(config.shim_program.clone())),
            }),
            None,
        ),
        ExecutorConfig::Slurm(settings) => {
            let (slurm, down) = slurm::SlurmExecutor::start(
                settings.clone(),
                &config.name,
                &config.logs_dir,
                network_fs.is_some(),
                fs::FS_TIMEOUT,
            )
            .await?;
            if let Some(why) = down {
                // Claims wait until Slurm answers (see the claim loop).
                health.fault(&why);
            }
            let poller = tokio::spawn(slurm.clone().run_poller(poller_done.clone()));
            (slurm, Some(poller))
        }
    };
    let ctx = Arc::new(WorkerContext {
        client: client.clone(),
        reports: lease::Reports::start(client.clone()),
        logs_dir: config.logs_dir.clone(),
        executor,
        kill_grace: config.kill_grace,
        heartbeat_interval: config.heartbeat_interval,
        fs_timeout: fs::FS_TIMEOUT,
        sync_logs: network_fs.is_some(),
        give_up: shutdown.immediate.child_token(),
        health,
        undelivered: std::sync::Mutex::new(Vec::new()),
        resources: match config.executor {
            ExecutorConfig::Local => {
                Some(resources::Resources::new(config.gpus.clone(), config.cpus))
            }
            ExecutorConfig::Slurm(_) => None,
        },
    });
    tracing::info!(
        name = %config.name,
        api = %client.base_url(),
        executor = match config.executor {
            ExecutorConfig::Local => "local",
            ExecutorConfig::Slurm(_) => "slurm",
        },
        slots = config.slots,
        gpus = %config.gpus.join(","),
        cpus = config.cpus,
        logs_dir = %config.logs_dir.display(),
        logs_fs = network_fs.unwrap_or("local"),
        "worker started"
    );

    let registering = tokio::spawn(register(
        client.clone(),
        registration(&config),
        shutdown.graceful.clone(),
    ));

    // Fires when running jobs must be stopped: after the drain, or at once.
    let stop_jobs = CancellationToken::new();
    let jobs = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(config.slots.max(1)));
    readopt(&ctx, &slots, &jobs, &stop_jobs).await;
    let fatal = claim_loop(&ctx, &config, &slots, &jobs, &stop_jobs, &shutdown).await;

    jobs.close();
    if fatal.is_none() {
        // The drain announcement (bounded inside).
        let _ = registering.await;
    } else {
        registering.abort();
    }
    // One bound for the whole stop: the drain, the grace of the jobs then
    // stopped, and a window for the last reports. Final reports retry until
    // its end, however long the api is away.
    let deadline =
        tokio::time::Instant::now() + config.drain_timeout + config.kill_grace + REPORT_WINDOW;
    let give_up = ctx.give_up.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(deadline).await;
        give_up.cancel();
    });
    let running = jobs.len();
    if ctx.executor.jobs_outlive_worker() {
        // Nothing to drain: the jobs do not need this process.
        if running > 0 {
            tracing::info!(
                running,
                "leaving the jobs running; start the worker again with the same --name within \
                 the API's lease timeout to carry on with them"
            );
        }
    } else if running > 0 {
        tracing::info!(
            running,
            "waiting up to {} for running jobs to finish; a second Ctrl-C (or SIGTERM) stops \
             them now, and they are recorded as failed (worker shut down)",
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
    // Past the deadline only a hung filesystem can hold a job task (its
    // closing line); the jobs themselves die with their supervisors as
    // this process exits.
    let margin = Duration::from_secs(2);
    if tokio::time::timeout_at(deadline + margin, jobs.wait())
        .await
        .is_err()
    {
        tracing::error!(
            unfinished = jobs.len(),
            "job tasks still busy at the end of the stop window; exiting anyway"
        );
    }
    let undelivered =
        std::mem::take(&mut *ctx.undelivered.lock().unwrap_or_else(|e| e.into_inner()));
    if !undelivered.is_empty() {
        tracing::error!(
            "{} final status(es) could not be delivered before the worker stopped; the API \
             will count these jobs as worker lost: {}",
            undelivered.len(),
            undelivered.join(", ")
        );
    }
    poller_done.cancel();
    if let Some(poller) = poller {
        let _ = poller.await;
    }
    if let Some(server) = metrics_server {
        server.abort();
    }
    tracing::info!("worker stopped");
    fatal.map_or(Ok(()), Err)
}

/// Takes over the jobs that a previous run of this worker left running
/// (Slurm jobs), each in its own task; each holds a slot while one is free.
async fn readopt(
    ctx: &Arc<WorkerContext>,
    slots: &Arc<Semaphore>,
    jobs: &TaskTracker,
    stop_jobs: &CancellationToken,
) {
    for (claimed, log, execution) in ctx.executor.readopt().await {
        let permit = slots.clone().try_acquire_owned().ok();
        let lease = lease::Lease::of(&claimed);
        let ctx = ctx.clone();
        let stop = stop_jobs.clone();
        let running = crate::metrics::worker_job_running();
        jobs.spawn(async move {
            let _running = running;
            job::supervise(
                ctx,
                claimed.job,
                lease,
                log,
                execution,
                std::time::Instant::now(),
                stop,
            )
            .await;
            drop(permit);
        });
    }
}

/// After the drain and the kill grace, how long final reports may still
/// be retried before a stopping worker exits without them.
pub const REPORT_WINDOW: Duration = Duration::from_secs(15);

/// Claims and starts jobs until shutdown; returns a fatal error, if any.
///
/// Each claim asks for as many jobs as there are free slots, in one
/// request (`POST /workers/claims`; one job at a time from an api without
/// that route). When nothing fits, the next claim comes after
/// `poll_interval` or as soon as a running job ends and frees its slot
/// and devices, whichever is first.
async fn claim_loop(
    ctx: &Arc<WorkerContext>,
    config: &WorkerConfig,
    slots: &Arc<Semaphore>,
    jobs: &TaskTracker,
    stop_jobs: &CancellationToken,
    shutdown: &Shutdown,
) -> Option<anyhow::Error> {
    let mut backoff = crate::retry::API.backoff();
    // Set once the api turns out not to know `POST /workers/claims`.
    let mut one_at_a_time = false;
    // A job ended: its slot and devices are free again.
    let job_ended = Arc::new(tokio::sync::Notify::new());
    loop {
        let permit = tokio::select! {
            _ = shutdown.graceful.cancelled() => return None,
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        if shutdown.graceful.is_cancelled() {
            return None;
        }
        // A worker that cannot run jobs claims none until it can again.
        if let Some(fault) = ctx.health.current() {
            drop(permit);
            let wait = ctx.health.next_check_in();
            tracing::debug!(
                fault,
                "not claiming; checking again in {}",
                format_duration(wait)
            );
            tokio::select! {
                _ = shutdown.graceful.cancelled() => return None,
                _ = tokio::time::sleep(wait) => {}
            }
            let probed = match health::probe_logs_dir(&ctx.logs_dir, ctx.fs_timeout).await {
                Ok(()) => ctx.executor.probe().await,
                Err(still) => Err(still),
            };
            match probed {
                Ok(()) => ctx.health.clear(),
                Err(still) => ctx.health.fault(&still),
            }
            continue;
        }
        // Every free slot, held while the claim is out: each job claimed
        // takes one.
        let mut permits = vec![permit];
        if !one_at_a_time {
            while let Ok(more) = slots.clone().try_acquire_owned() {
                permits.push(more);
            }
        }
        // The claim is not raced against shutdown: a job the api has handed
        // over must run (or be reported), never be dropped on the floor.
        // Every slot free now: the ones held for this claim and, claiming
        // one at a time, the rest.
        let free_slots = permits.len() + slots.available_permits();
        let mut request = match &ctx.resources {
            Some(res) => res.claim_request(&config.name, free_slots),
            None => crate::protocol::ClaimRequest {
                worker: config.name.clone(),
                free_gpu_ids: None,
                free_cpus: None,
                free_slots: Some(u32::try_from(free_slots).unwrap_or(u32::MAX)),
                total_gpus: None,
                total_cpus: None,
                max_jobs: None,
            },
        };
        let claimed = if one_at_a_time {
            ctx.client
                .claim(&request)
                .await
                .map(|job| job.into_iter().collect())
        } else {
            request.max_jobs = Some(u32::try_from(permits.len()).unwrap_or(u32::MAX));
            match ctx.client.claim_many(&request).await {
                Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => {
                    tracing::info!(
                        "the API does not hand out several jobs per claim (an older jobctl?); \
                         claiming one at a time"
                    );
                    one_at_a_time = true;
                    // A single claim takes one slot; what is free stays
                    // as offered.
                    permits.truncate(1);
                    request.max_jobs = None;
                    ctx.client
                        .claim(&request)
                        .await
                        .map(|job| job.into_iter().collect())
                }
                other => other,
            }
        };
        let wait = match claimed {
            Ok(claimed) if !claimed.is_empty() => {
                backoff.reset();
                for claimed in claimed {
                    tracing::info!(job = %claimed.job.id, gpu_ids = ?claimed.job.gpu_ids, "claimed job");
                    // The api never hands out more jobs than slots offered;
                    // should it, the extra job still runs rather than being
                    // dropped.
                    let permit = permits.pop();
                    // The job's devices and CPUs are this task's until it
                    // ends, however it ends.
                    let grant = ctx.resources.as_ref().map(|res| res.take(&claimed.job));
                    let ctx = ctx.clone();
                    let stop = stop_jobs.clone();
                    let ended = job_ended.clone();
                    let running = crate::metrics::worker_job_running();
                    jobs.spawn(async move {
                        let _running = running;
                        job::run(ctx, claimed, stop).await;
                        drop(grant);
                        drop(permit);
                        ended.notify_one();
                    });
                }
                continue;
            }
            Ok(_) => {
                backoff.reset();
                drop(permits);
                // Nothing fits now: ask again when a job ends (what is free
                // grows) or after the poll interval (new jobs).
                tokio::select! {
                    _ = shutdown.graceful.cancelled() => return None,
                    _ = tokio::time::sleep(config.poll_interval) => {}
                    _ = job_ended.notified() => {}
                }
                continue;
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
                let wait = backoff.next_delay();
                tracing::warn!(error = %e, "cannot claim jobs; retrying in {}", format_duration(wait));
                wait
            }
        };
        drop(permits);
        tokio::select! {
            _ = shutdown.graceful.cancelled() => return None,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Serves `GET /metrics` on `addr` until `stop`: the worker's own figures
/// (the job gauges are the api's).
async fn serve_metrics(
    addr: std::net::SocketAddr,
    health: Arc<health::Health>,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let handle = crate::metrics::install()
        .context("cannot record metrics: another metrics recorder is installed")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving metrics at /metrics, health at /healthz");
    // 200 while this worker can run jobs; 503 with the reason while a fault
    // (an unwritable or full logs dir, a supervisor that cannot start, Slurm
    // down) keeps it from claiming, so a load balancer or an admin's probe
    // sees what its log says.
    let healthz = axum::routing::get(move || {
        let fault = health.current();
        async move {
            match fault {
                None => (axum::http::StatusCode::OK, "ok\n".to_string()),
                Some(why) => (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    format!("not claiming jobs: {why}\n"),
                ),
            }
        }
    });
    let app = axum::Router::new().route("/healthz", healthz).route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        crate::metrics::CONTENT_TYPE,
                    )],
                    handle.render(),
                )
            }
        }),
    );
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the metrics endpoint stopped");
        }
    }))
}

/// What this worker tells the api about itself.
fn registration(config: &WorkerConfig) -> WorkerRegistration {
    WorkerRegistration {
        name: config.name.clone(),
        executor: match config.executor {
            ExecutorConfig::Local => "local",
            ExecutorConfig::Slurm(_) => "slurm",
        }
        .into(),
        slots: config.slots as u32,
        // What jobs are matched against (issue 15); a Slurm worker's jobs
        // are Slurm's to place, so it announces no limit.
        gpus: match config.executor {
            ExecutorConfig::Local => Some(u32::try_from(config.gpus.len()).unwrap_or(u32::MAX)),
            ExecutorConfig::Slurm(_) => None,
        },
        cpus: match config.executor {
            ExecutorConfig::Local => Some(config.cpus),
            ExecutorConfig::Slurm(_) => None,
        },
        version: env!("CARGO_PKG_VERSION").into(),
        host: default_name(),
        draining: false,
    }
}

/// Registers with the api, retrying until it answers (the fleet list is
/// for people: a worker never waits on it to run jobs); then, once `stop`
/// fires, tells the api this worker is draining. One task sends both, so
/// a late start registration can never land after the drain's and undo it.
async fn register(
    client: ApiClient,
    mut registration: WorkerRegistration,
    stop: CancellationToken,
) {
    let mut backoff = crate::retry::API.backoff();
    loop {
        let wait = match client.register(&registration).await {
            Ok(()) => break,
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => {
                tracing::warn!(
                    "the API does not know worker registration (an older jobctl?); this worker \
                     will not be listed by `jobctl workers`"
                );
                return;
            }
            Err(e) => {
                let wait = backoff.next_delay();
                tracing::warn!(error = %e, "cannot register with the API; retrying in {}", format_duration(wait));
                wait
            }
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    stop.cancelled().await;
    registration.draining = true;
    // Briefly: the drain must not wait on it.
    match tokio::time::timeout(Duration::from_secs(5), client.register(&registration)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot tell the API this worker is draining"),
        Err(_) => tracing::warn!("cannot tell the API this worker is draining: no answer"),
    }
}

/// Waits until the api answers `/healthz`, for at most `timeout`.
async fn wait_for_api(
    client: &ApiClient,
    timeout: Duration,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut backoff = crate::retry::API.backoff();
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
                let wait = backoff.next_delay();
                tracing::warn!(error = %e, "API not reachable yet; retrying in {}", format_duration(wait));
                tokio::select! {
                    _ = shutdown.cancelled() => anyhow::bail!("stopped while waiting for the API"),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}
