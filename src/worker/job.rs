//! One claimed job, from its claim to its report.
//!
//! [`run`] opens the job's log, starts the job through the worker's
//! [`Executor`](super::executor::Executor) and hands it to [`supervise`],
//! which heartbeats the lease, enforces the timeout, passes on a cancel or
//! the worker's shutdown, and gathers the [`Facts`] of how the job ended.
//! What those facts mean is decided in one place, [`outcome`]; this module
//! only writes the closing `[jobctl]` line and reports.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::WorkerContext;
use super::executor::{ExecEvent, Execution, Launch, StartError};
use super::lease::{self, Delivery, Lease, LeaseEvent};
use super::logfile::LogFile;
use super::outcome::{Facts, Outcome, Ran, StopReason, closing_line, outcome};
use crate::domain::{Secrets, format_duration};
use crate::logs;
use crate::protocol::{ClaimedJob, Job};

/// Runs a claimed job to its end and reports the end to the api. `stop`
/// fires when the worker shuts down and the drain time is over.
pub async fn run(ctx: Arc<WorkerContext>, claimed: ClaimedJob, stop: CancellationToken) {
    let lease = Lease::of(&claimed);
    let secrets = claimed.secrets;
    let job = claimed.job;
    let path = logs::log_path(&ctx.logs_dir, job.id);
    let log = match LogFile::open(path.clone(), ctx.sync_logs, ctx.fs_timeout).await {
        Ok(log) => log,
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "cannot create the log file");
            let reason = format!("cannot create log file {}: {e}", path.display());
            let facts = Facts {
                ran: Ran::CouldNotStart(StartError::Worker(reason)),
                stop: None,
            };
            conclude(&ctx, &lease, None, &facts, Duration::ZERO).await;
            return;
        }
    };
    let started = Instant::now();
    let launch = launch(&ctx, &job, &lease, secrets);
    match ctx.executor.start(&launch, &log).await {
        Ok(execution) => supervise(ctx, job, lease, log, execution, started, stop).await,
        Err(e) => {
            tracing::warn!(job = %job.id, reason = e.reason(), "job could not start");
            // A job this worker hands back gets its line from the api.
            if let StartError::Job(why) = &e {
                log.note(&format!("could not start: {why}")).await;
            }
            let facts = Facts {
                ran: Ran::CouldNotStart(e),
                stop: None,
            };
            conclude(&ctx, &lease, Some(log), &facts, started.elapsed()).await;
        }
    }
}

/// What the executor is asked to run: the job's argv, directory and
/// environment as the worker adds to them.
fn launch(ctx: &WorkerContext, job: &Job, lease: &Lease, secrets: Secrets) -> Launch {
    let mut env = BTreeMap::from([
        ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
        ("JOBCTL_JOB_ID".to_string(), job.id.to_string()),
    ]);
    // The job's own values win, PYTHONUNBUFFERED included.
    env.extend(job.env.clone());
    // Except for its devices: exactly the ones it was given, none for a
    // job without GPUs, so it cannot take another job's by accident.
    if ctx.resources.is_some() {
        let ids = job.gpu_ids.as_deref().unwrap_or_default().join(",");
        env.insert("CUDA_VISIBLE_DEVICES".to_string(), ids.clone());
        env.insert("JOBCTL_GPUS".to_string(), ids);
    }
    Launch {
        job_id: job.id,
        argv: job.command.clone(),
        cwd: job.cwd.clone(),
        env,
        secrets,
        lease: lease.left_since_claim(),
        kill_grace: ctx.kill_grace,
        timeout_seconds: job.timeout_seconds,
        job: job.clone(),
        lease_token: lease.token.clone(),
    }
}

/// Watches a started job until it ends, then reports how. Also where a job
/// re-adopted after a worker restart enters.
pub async fn supervise(
    ctx: Arc<WorkerContext>,
    job: Job,
    lease: Lease,
    log: LogFile,
    mut execution: Box<dyn Execution>,
    mut started: Instant,
    stop: CancellationToken,
) {
    tracing::info!(job = %job.id, process = %execution.describe(), "job started");
    ctx.health.job_started();
    let watching = CancellationToken::new();
    let (lease_tx, mut lease_rx) = mpsc::channel(4);
    // Why the job waits, while an executor's queue holds it.
    let (pending_tx, pending_rx) = watch::channel(None);
    let heartbeats = tokio::spawn(lease::heartbeat(
        ctx.client.clone(),
        lease.clone(),
        pending_rx,
        lease.heartbeat_every(ctx.heartbeat_interval),
        lease_tx,
        watching.clone(),
    ));
    let syncer = log.spawn_syncer(watching.clone());

    let timeout_from = |started: Instant| {
        job.timeout_seconds
            .map(|t| tokio::time::Instant::from_std(started) + Duration::from_secs(t))
    };
    // A queued job's time starts when it runs.
    let mut timeout_at = if execution.starts_queued() {
        None
    } else {
        timeout_from(started)
    };
    let mut stopping: Option<StopReason> = None;
    let mut term_sent = false;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let ran = loop {
        tokio::select! {
            event = execution.next_event() => match event {
                ExecEvent::Ended(exit) => break Ran::Ended(exit),
                ExecEvent::Lost(why) => break Ran::SupervisorLost(why),
                ExecEvent::Failed { exit_code, reason } => break Ran::Failed { exit_code, reason },
                ExecEvent::NotStarted(why) => break Ran::CouldNotStart(StartError::Worker(why)),
                ExecEvent::Queued(why) => {
                    pending_tx.send_if_modified(|r| replace(r, Some(why)));
                }
                ExecEvent::Running { ran_for } => {
                    pending_tx.send_if_modified(|r| replace(r, None));
                    started = Instant::now().checked_sub(ran_for).unwrap_or_else(Instant::now);
                    timeout_at = timeout_from(started);
                }
                ExecEvent::Fenced => {
                    tracing::warn!(job = %job.id, "lease expired without a renewal: the job was fenced");
                    stopping.get_or_insert(StopReason::Fenced);
                    // The executor stops the job on its own.
                    term_sent = true;
                }
            },
            _ = sleep_until_opt(timeout_at), if stopping.is_none() => {
                stopping = Some(StopReason::TimedOut(job.timeout_seconds.unwrap_or_default()));
            }
            _ = stop.cancelled(), if stopping.is_none() => {
                if ctx.executor.jobs_outlive_worker() {
                    // The job goes on without this process; the worker's
                    // next start takes it back.
                    let note = execution.detach().await;
                    log.note(&note).await;
                    tracing::info!(job = %job.id, process = %execution.describe(), "left running");
                    watching.cancel();
                    let _ = heartbeats.await;
                    if let Some(syncer) = syncer {
                        let _ = syncer.await;
                    }
                    return;
                }
                stopping = Some(StopReason::WorkerShutdown);
            }
            Some(event) = lease_rx.recv() => match event {
                LeaseEvent::Renewed(valid_for) => execution.renew_lease(valid_for).await,
                LeaseEvent::CancelRequested => {
                    stopping.get_or_insert(StopReason::Cancelled);
                }
                LeaseEvent::Lost(why) => {
                    tracing::warn!(job = %job.id, "{why}; stopping the job");
                    // A fenced job whose loss the api has now recorded:
                    // nothing is left to report.
                    if matches!(stopping, None | Some(StopReason::Fenced)) {
                        stopping = Some(StopReason::LeaseLost);
                    }
                }
                LeaseEvent::TokenRefused(why) => {
                    tracing::error!(job = %job.id, "{why}; stopping the job");
                    stopping.get_or_insert(StopReason::TokenRefused);
                }
            },
            _ = sleep_until_opt(kill_at) => {
                log.note(&format!(
                    "still running {} after SIGTERM; sending SIGKILL",
                    format_duration(ctx.kill_grace)
                )).await;
                execution.kill().await;
                kill_at = None;
            }
        }
        // A stop was just decided: SIGTERM now, SIGKILL after the grace.
        if let Some(reason) = stopping
            && !term_sent
        {
            tracing::info!(job = %job.id, ?reason, "stopping job");
            log.note(&reason.note(&execution.stop_action())).await;
            execution.terminate().await;
            term_sent = true;
            kill_at = Some(tokio::time::Instant::now() + ctx.kill_grace);
        }
    };
    watching.cancel();
    let _ = heartbeats.await;
    if let Some(syncer) = syncer {
        let _ = syncer.await;
    }
    execution.finish().await;
    let facts = Facts {
        ran,
        stop: stopping,
    };
    conclude(&ctx, &lease, Some(log), &facts, started.elapsed()).await;
    execution.reported().await;
}

/// Replaces `slot` with `value`; true when that changed it.
fn replace(slot: &mut Option<String>, value: Option<String>) -> bool {
    if *slot == value {
        false
    } else {
        *slot = value;
        true
    }
}

/// Decides the outcome, closes the log and reports. `elapsed` is how long
/// the job ran, up to now, when its end was seen.
async fn conclude(
    ctx: &WorkerContext,
    lease: &Lease,
    log: Option<LogFile>,
    facts: &Facts,
    elapsed: Duration,
) {
    let ended = Instant::now();
    let outcome = outcome(facts);
    let closing = closing_line(&outcome, facts, elapsed);
    if let Some(log) = log {
        if let Some(closing) = &closing {
            log.note(closing).await;
        }
        log.sync().await;
        if let Some(bytes) = log.size().await {
            crate::metrics::worker_log_written(bytes);
        }
        // Closed (and unlocked) before a hand-back, so that the next
        // worker can take the log over.
        drop(log);
    }
    if let Some(closing) = &closing {
        tracing::info!(job = %lease.job_id, "{closing}");
    }
    let (delivery, what) = match outcome {
        Outcome::Abandon => return,
        Outcome::HandBack(reason) => {
            // Before the hand-back: by the time this job's slot is free,
            // the claim loop must know not to claim again.
            ctx.health.fault(&reason);
            let delivery = lease::hand_back(&ctx.client, lease, reason, &ctx.give_up).await;
            (delivery, "pending (handed back)".to_string())
        }
        Outcome::Report(end) => {
            let status = end.status.to_string();
            let delivery = lease::report(&ctx.reports, lease, end, ended, &ctx.give_up).await;
            (delivery, status)
        }
    };
    match delivery {
        Delivery::Delivered => {}
        // The api failed the fenced job first; it recorded the same end.
        Delivery::Refused(e)
            if facts.stop == Some(StopReason::Fenced)
                && e.status() == Some(reqwest::StatusCode::CONFLICT) =>
        {
            tracing::info!(job = %lease.job_id, "the API had already failed the fenced job as worker lost");
        }
        Delivery::Refused(e) => {
            tracing::error!(job = %lease.job_id, status = what, error = %e, "the API refused the job's final status");
        }
        Delivery::GaveUp(e) => {
            tracing::error!(job = %lease.job_id, status = what, error = %e, "final status not delivered: the worker stopped retrying");
            ctx.undelivered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{} ({what})", lease.job_id));
        }
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
