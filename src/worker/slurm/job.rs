//! One jobctl job in Slurm, from `sbatch` to the final report: submission,
//! heartbeats with Slurm's pending reason, cancel and timeout through
//! `scancel`, and the end decided by [`super::outcome`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::SlurmExecutor;
use super::outcome::{self, ExitRecord, Facts, SlurmEnd, StopReason};
use super::poller::Lookup;
use super::queue::{Phase, QueueEntry, SlurmState};
use super::sbatch::{self, Resources, SubmitFailure, SubmitSpec};
use super::script::{self, ScriptSpec};
use super::state::JobRecord;
use crate::domain::{JobId, JobStatus, format_duration};
use crate::logs;
use crate::protocol::ClaimedJob;
use crate::worker::WorkerContext;
use crate::worker::job::{
    Ending, LeaseEvent, LogFile, create_log, fit_reason, heartbeat_loop, lease_is_gone, note,
    report, sleep_until_opt,
};
use crate::worker::shim::os_error_text;

/// A job this worker has in Slurm.
struct Tracked {
    record: JobRecord,
    slurm_id: u64,
    log: Arc<LogFile>,
    /// When this worker took the job: the duration in the closing line
    /// counts from here when Slurm never ran it.
    taken: Instant,
}

/// A claimed job: submit it, then see it through.
pub(super) async fn run_claimed(
    exec: &SlurmExecutor,
    ctx: &WorkerContext,
    claimed: ClaimedJob,
    stop: &CancellationToken,
) {
    let job = &claimed.job;
    let record = JobRecord {
        job_id: job.id,
        worker: exec.worker.clone(),
        lease_token: claimed.lease_token.clone(),
        lease_timeout_seconds: claimed.lease_timeout_seconds,
        slurm_id: None,
        timeout_seconds: job.timeout_seconds,
        claimed_at: Utc::now(),
    };
    let path = logs::log_path(&exec.logs_dir, job.id);
    let log = {
        let create = path.clone();
        match blocking(move || create_log(&create)).await {
            Ok(log) => Arc::new(log),
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "cannot create the log file");
                let reason = format!(
                    "could not start: cannot create log file {}: {}",
                    path.display(),
                    os_error_text(&e)
                );
                report(ctx, job.id, &record.lease_token, failed(None, reason)).await;
                return;
            }
        }
    };
    let taken = Instant::now();
    // The lease is on disk before the Slurm job exists: a worker killed
    // from here on finds it again.
    if let Err(e) = save(exec, &record).await {
        let reason = format!(
            "could not start: cannot record the job in {}: {}",
            exec.state.path().display(),
            os_error_text(&e)
        );
        could_not_start(ctx, &record, &log, taken, reason).await;
        return;
    }
    submit_and_supervise(
        exec,
        ctx,
        record,
        log,
        taken,
        &job.command,
        job.cwd.as_deref(),
        &job.env,
        stop,
    )
    .await;
}

/// Submits the job and sees it through; `command`, `cwd` and `env` are the
/// job's own.
#[allow(clippy::too_many_arguments)]
async fn submit_and_supervise(
    exec: &SlurmExecutor,
    ctx: &WorkerContext,
    mut record: JobRecord,
    log: Arc<LogFile>,
    taken: Instant,
    command: &[String],
    cwd: Option<&str>,
    env: &std::collections::BTreeMap<String, String>,
    stop: &CancellationToken,
) {
    let id = record.job_id;
    let exit_file = exec.state.exit_file(id);
    let log_path = logs::log_path(&exec.logs_dir, id);
    let rendered = script::render(&ScriptSpec {
        job_id: id,
        command,
        cwd,
        env: env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        exit_file: &exit_file,
        sync_log: exec.sync_logs.then_some(log_path.as_path()),
    });
    let rendered = match rendered {
        Ok(s) => s,
        Err(e) => {
            could_not_start(ctx, &record, &log, taken, format!("could not start: {e}")).await;
            forget(exec, id).await;
            return;
        }
    };
    let args = sbatch::sbatch_args(&SubmitSpec {
        job_id: id,
        worker: &exec.worker,
        log: &log_path,
        cwd,
        timeout_seconds: record.timeout_seconds,
        partition: exec.config.partition.as_deref(),
        extra: &exec.config.sbatch_args,
        resources: Resources::default(),
    });
    let slurm_id = match exec.commands.submit(&args, &rendered).await {
        Ok(slurm_id) => slurm_id,
        Err(SubmitFailure::Job(message)) => {
            tracing::warn!(job = %id, error = %message, "Slurm refused the job");
            let reason = format!("could not start: Slurm refused the job: {message}");
            could_not_start(ctx, &record, &log, taken, reason).await;
            forget(exec, id).await;
            return;
        }
        Err(SubmitFailure::Cluster(message)) => {
            let wait = exec.cluster_failed();
            tracing::warn!(job = %id, error = %message, "cannot submit to Slurm; handing the job back and pausing claims for {}", format_duration(wait));
            hand_back(exec, ctx, &record, &log_path, log, &message).await;
            return;
        }
    };
    exec.cluster_ok();
    record.slurm_id = Some(slurm_id);
    if let Err(e) = save(exec, &record).await {
        // The comment still names the job, so a restarted worker finds it;
        // only the lease would be missing, and it is in memory for now.
        tracing::error!(job = %id, error = %e, "cannot record the Slurm job id; a restarted worker would cancel this job");
    }
    tracing::info!(job = %id, slurm_job = slurm_id, "submitted to Slurm");
    note(&log, &format!("submitted to Slurm as job {slurm_id}")).await;
    let tracked = Tracked {
        record,
        slurm_id,
        log,
        taken,
    };
    supervise(exec, ctx, tracked, stop, None).await;
}

/// A job this worker had in Slurm before it restarted.
///
/// `listed`: whether Slurm's queue could be read at adoption, so that a
/// job without a Slurm id is known never to have reached Slurm.
pub(super) async fn run_adopted(
    exec: &SlurmExecutor,
    ctx: &WorkerContext,
    record: JobRecord,
    listed: bool,
    stop: &CancellationToken,
) {
    let id = record.job_id;
    let path = logs::log_path(&exec.logs_dir, id);
    let log = match blocking(move || open_log(&path)).await {
        Ok(log) => Arc::new(log),
        Err(e) => {
            // The job's output goes wherever Slurm was told; the notes are
            // lost, the job is not.
            tracing::error!(job = %id, error = %e, "cannot open the log file of a re-adopted job");
            return;
        }
    };
    let taken = Instant::now();
    // The lease may have run out while the worker was away.
    let first = ctx.client.heartbeat(id, &record.lease_token, None).await;
    if let Err(e) = &first
        && lease_is_gone(e)
    {
        let what = match record.slurm_id {
            Some(slurm_id) => {
                if let Err(e) = exec.commands.cancel(slurm_id).await {
                    tracing::error!(job = %id, slurm_job = slurm_id, error = %e, "cannot cancel the Slurm job");
                }
                format!("; cancelled Slurm job {slurm_id}")
            }
            None => String::new(),
        };
        tracing::warn!(job = %id, error = %e, "the API gave this job up while the worker was away{what}");
        note(
            &log,
            &format!(
                "the API gave this job up while worker {} was away ({e}){what}",
                exec.worker
            ),
        )
        .await;
        forget(exec, id).await;
        return;
    }
    match record.slurm_id {
        Some(slurm_id) => {
            tracing::info!(job = %id, slurm_job = slurm_id, "re-adopted");
            note(
                &log,
                &format!(
                    "worker {} restarted; carrying on with Slurm job {slurm_id}",
                    exec.worker
                ),
            )
            .await;
            let cancel_requested = first.as_ref().is_ok_and(|ack| ack.cancel_requested);
            let tracked = Tracked {
                record,
                slurm_id,
                log,
                taken,
            };
            let early = cancel_requested.then_some(StopReason::Cancelled);
            supervise(exec, ctx, tracked, stop, early).await;
        }
        None if listed => {
            // sbatch never answered, and Slurm has no job with this job's
            // comment: it never got there. Any worker may start it afresh.
            tracing::info!(job = %id, "re-adopted a job that never reached Slurm; handing it back");
            let log_path = logs::log_path(&exec.logs_dir, id);
            hand_back(
                exec,
                ctx,
                &record,
                &log_path,
                log,
                "the worker stopped while submitting it",
            )
            .await;
        }
        None => {
            // Slurm could not be asked whether the job got there: starting
            // it again might run it twice.
            let reason = "could not start: the worker stopped while submitting the job to Slurm, \
                          and Slurm could not be asked whether it got there"
                .to_string();
            could_not_start(ctx, &record, &log, taken, reason).await;
            forget(exec, id).await;
        }
    }
}

/// Follows a submitted job to its end and reports it.
async fn supervise(
    exec: &SlurmExecutor,
    ctx: &WorkerContext,
    tracked: Tracked,
    stop: &CancellationToken,
    early_stop: Option<StopReason>,
) {
    let id = tracked.record.job_id;
    let slurm_id = tracked.slurm_id;
    let lease = tracked.record.lease_token.clone();
    exec.poller.track(slurm_id);
    let mut snapshots = exec.poller.subscribe();
    let (reason_tx, reason_rx) = watch::channel(Some(queued_reason(slurm_id, None)));
    let (lease_tx, mut lease_rx) = mpsc::channel(4);
    let heartbeats_done = CancellationToken::new();
    let heartbeat_every = ctx
        .heartbeat_interval
        .min(Duration::from_secs(tracked.record.lease_timeout_seconds.max(1)) / 3);
    let heartbeats = tokio::spawn(heartbeat_loop(
        ctx.client.clone(),
        id,
        lease.clone(),
        reason_rx,
        heartbeat_every,
        lease_tx,
        heartbeats_done.clone(),
    ));
    let timeout = tracked.record.timeout_seconds;
    let mut phase = Phase::Queued;
    let mut started: Option<Instant> = None;
    let mut deadline: Option<tokio::time::Instant> = None;
    let mut stopping: Option<StopReason> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut pending_stop = early_stop;
    let end: SlurmEnd = loop {
        if let Some(reason) = pending_stop.take()
            && stopping.is_none()
        {
            stopping = Some(reason);
            kill_at = begin_stop(exec, ctx, &tracked, reason, phase).await;
        }
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    // The poller is gone: the worker is stopping now.
                    detach(exec, &tracked).await;
                    heartbeats_done.cancel();
                    let _ = heartbeats.await;
                    return;
                }
                let snapshot = snapshots.borrow_and_update().clone();
                let seen = match snapshot.lookup(slurm_id) {
                    Lookup::NotAsked => continue,
                    Lookup::Queue(entry) => Seen::Queue(entry.clone()),
                    Lookup::Accounting(acct) if acct.state.phase() == Phase::Ended => {
                        Seen::Ended(SlurmEnd::State(acct.state.clone()))
                    }
                    // sacct knows it but squeue does not: wait for squeue.
                    Lookup::Accounting(_) => continue,
                    Lookup::Unknown => Seen::Ended(SlurmEnd::Unknown),
                };
                match seen {
                    Seen::Ended(end) => break end,
                    Seen::Queue(entry) => match entry.state.phase() {
                        Phase::Ended => break SlurmEnd::State(entry.state.clone()),
                        Phase::Queued => {
                            phase = Phase::Queued;
                            let reason = queued_reason(slurm_id, Some(&entry));
                            reason_tx.send_if_modified(|r| replace(r, Some(reason)));
                        }
                        Phase::Running => {
                            reason_tx.send_if_modified(|r| replace(r, None));
                            if phase != Phase::Running {
                                phase = Phase::Running;
                            }
                            if started.is_none() {
                                // Slurm's clock of the job, not ours: right
                                // after a restart too.
                                let at = Instant::now()
                                    .checked_sub(entry.time_used)
                                    .unwrap_or_else(Instant::now);
                                started = Some(at);
                                deadline = timeout.map(|t| {
                                    tokio::time::Instant::from_std(at) + Duration::from_secs(t)
                                });
                                tracing::info!(job = %id, slurm_job = slurm_id, node = entry.nodes.as_deref().unwrap_or("?"), "running in Slurm");
                                if entry.time_used < Duration::from_secs(5) {
                                    note(&tracked.log, &format!(
                                        "Slurm job {slurm_id} started on {}",
                                        entry.nodes.as_deref().unwrap_or("its node")
                                    )).await;
                                }
                            }
                        }
                    },
                }
            }
            _ = sleep_until_opt(deadline), if stopping.is_none() => {
                pending_stop = Some(StopReason::TimedOut(timeout.unwrap_or_default()));
            }
            Some(event) = lease_rx.recv() => match event {
                LeaseEvent::CancelRequested => {
                    if stopping.is_none() {
                        pending_stop = Some(StopReason::Cancelled);
                    }
                }
                LeaseEvent::Lost(why) => {
                    // The api has ended the job; nobody may run it now.
                    tracing::warn!(job = %id, slurm_job = slurm_id, "{why}; cancelling the Slurm job");
                    note(&tracked.log, &format!(
                        "lease lost: the API has given this job up; cancelling Slurm job {slurm_id}"
                    )).await;
                    if let Err(e) = exec.commands.cancel(slurm_id).await {
                        tracing::error!(job = %id, slurm_job = slurm_id, error = %e, "cannot cancel the Slurm job");
                    }
                    heartbeats_done.cancel();
                    let _ = heartbeats.await;
                    exec.poller.untrack(slurm_id);
                    forget(exec, id).await;
                    return;
                }
            },
            _ = sleep_until_opt(kill_at) => {
                kill_at = None;
                note(&tracked.log, &format!(
                    "Slurm job {slurm_id} still running {} after SIGTERM; sending SIGKILL",
                    format_duration(ctx.kill_grace)
                )).await;
                if let Err(e) = exec.commands.signal(slurm_id, "KILL").await {
                    tracing::warn!(job = %id, slurm_job = slurm_id, error = %e, "scancel --signal=KILL failed");
                }
                if let Err(e) = exec.commands.cancel(slurm_id).await {
                    tracing::warn!(job = %id, slurm_job = slurm_id, error = %e, "scancel failed");
                }
                exec.poller.poke();
            }
            _ = stop.cancelled() => {
                detach(exec, &tracked).await;
                heartbeats_done.cancel();
                let _ = heartbeats.await;
                return;
            }
        }
    };
    exec.poller.untrack(slurm_id);
    // The job's script writes its exit file just before it ends; on NFS
    // this host may see it a little later than Slurm's word. Worth waiting
    // for only when it decides the outcome: not after a stop jobctl asked
    // for, nor when Slurm itself ended the job (its script may never have
    // written one).
    let decisive = stopping.is_none()
        && match &end {
            SlurmEnd::Unknown => true,
            SlurmEnd::State(state) => {
                matches!(state, SlurmState::Completed | SlurmState::Failed)
            }
        };
    let exit = read_exit_file(exec, id, decisive, stop).await;
    heartbeats_done.cancel();
    let _ = heartbeats.await;
    let facts = Facts {
        slurm_id,
        stop: stopping,
        slurm: end,
        exit,
    };
    let ending = outcome::outcome(&facts);
    let ran_for = started.unwrap_or(tracked.taken).elapsed();
    let closing = format!(
        "finished: {}{} after {} (Slurm job {slurm_id})",
        ending.status,
        match (&ending.failure_reason, ending.exit_code) {
            (Some(r), _) => format!(" ({r})"),
            (None, Some(c)) if ending.status == JobStatus::Cancelled => format!(" (exit code {c})"),
            _ => String::new(),
        },
        format_duration(ran_for)
    );
    note(&tracked.log, &closing).await;
    tracing::info!(job = %id, slurm_job = slurm_id, "{closing}");
    let ending = Ending {
        status: ending.status,
        exit_code: ending.exit_code,
        failure_reason: ending.failure_reason.map(fit_reason),
    };
    report(ctx, id, &lease, ending).await;
    forget(exec, id).await;
}

/// What a poll said about one job.
enum Seen {
    Queue(QueueEntry),
    Ended(SlurmEnd),
}

fn replace(slot: &mut Option<String>, value: Option<String>) -> bool {
    if *slot == value {
        false
    } else {
        *slot = value;
        true
    }
}

/// The job's `pending_reason` while it waits in Slurm's queue.
fn queued_reason(slurm_id: u64, entry: Option<&QueueEntry>) -> String {
    let why = match entry {
        Some(e) if e.state.name() == "CONFIGURING" => {
            Some("nodes are booting (CONFIGURING)".to_string())
        }
        Some(e) => e.reason.clone(),
        None => None,
    };
    match why {
        Some(why) => format!("in Slurm's queue as job {slurm_id}: {why}"),
        None => format!("in Slurm's queue as job {slurm_id}"),
    }
}

/// Starts stopping a job: a queued one is simply cancelled; a running one
/// gets SIGTERM now and SIGKILL after the grace, as a local job would.
/// Returns when to send SIGKILL.
async fn begin_stop(
    exec: &SlurmExecutor,
    ctx: &WorkerContext,
    tracked: &Tracked,
    reason: StopReason,
    phase: Phase,
) -> Option<tokio::time::Instant> {
    let slurm_id = tracked.slurm_id;
    let id = tracked.record.job_id;
    let why = match reason {
        StopReason::TimedOut(secs) => format!(
            "timed out after {}",
            format_duration(Duration::from_secs(secs))
        ),
        StopReason::Cancelled => "cancelled".to_string(),
    };
    tracing::info!(job = %id, slurm_job = slurm_id, ?reason, "stopping the Slurm job");
    let kill_at = if phase == Phase::Running {
        note(
            &tracked.log,
            &format!("{why}; sending SIGTERM to Slurm job {slurm_id}"),
        )
        .await;
        match exec.commands.signal(slurm_id, "TERM").await {
            Ok(()) => Some(tokio::time::Instant::now() + ctx.kill_grace),
            Err(e) => {
                tracing::warn!(job = %id, slurm_job = slurm_id, error = %e, "cannot signal the Slurm job; cancelling it");
                cancel_or_warn(exec, id, slurm_id).await;
                None
            }
        }
    } else {
        note(
            &tracked.log,
            &format!("{why}; cancelling Slurm job {slurm_id}, which had not started"),
        )
        .await;
        cancel_or_warn(exec, id, slurm_id).await;
        None
    };
    exec.poller.poke();
    kill_at
}

async fn cancel_or_warn(exec: &SlurmExecutor, id: JobId, slurm_id: u64) {
    if let Err(e) = exec.commands.cancel(slurm_id).await {
        tracing::warn!(job = %id, slurm_job = slurm_id, error = %e, "scancel failed; retrying on the next poll");
    }
}

/// The worker is stopping: the Slurm job goes on, and the next start of a
/// worker with this name takes it back.
async fn detach(exec: &SlurmExecutor, tracked: &Tracked) {
    exec.poller.untrack(tracked.slurm_id);
    note(
        &tracked.log,
        &format!(
            "worker {} stopped; Slurm job {} goes on and the worker takes it back when it starts again",
            exec.worker, tracked.slurm_id
        ),
    )
    .await;
}

/// The exit file; with `wait`, waiting up to [`super::EXIT_FILE_GRACE`] for
/// it to show.
async fn read_exit_file(
    exec: &SlurmExecutor,
    id: JobId,
    wait: bool,
    stop: &CancellationToken,
) -> Option<ExitRecord> {
    let give_up = Instant::now()
        + if wait {
            super::EXIT_FILE_GRACE
        } else {
            Duration::ZERO
        };
    let mut warned = false;
    loop {
        let state = exec.state.clone();
        match blocking(move || state.read_exit(id)).await {
            Ok(Some(text)) => match ExitRecord::parse(&text) {
                Some(record) => return Some(record),
                None => tracing::warn!(job = %id, text, "unreadable exit file"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(job = %id, error = %e, "cannot read the exit file"),
        }
        // A job Slurm ended itself (node failure, preemption) may never
        // have written one; neither may one that vanished.
        if Instant::now() >= give_up || stop.is_cancelled() {
            return None;
        }
        if !warned {
            tracing::debug!(job = %id, "Slurm says the job ended; waiting for its exit file");
            warned = true;
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Fails a job that never ran, with its reason in the log.
async fn could_not_start(
    ctx: &WorkerContext,
    record: &JobRecord,
    log: &Arc<LogFile>,
    taken: Instant,
    reason: String,
) {
    note(log, &reason).await;
    note(
        log,
        &format!(
            "finished: failed (could not start) after {}",
            format_duration(taken.elapsed())
        ),
    )
    .await;
    report(
        ctx,
        record.job_id,
        &record.lease_token,
        failed(None, reason),
    )
    .await;
}

/// Slurm could not take the job, through no fault of the job: it goes back
/// to pending for any worker, its log file removed so the next claimer can
/// create it afresh.
async fn hand_back(
    exec: &SlurmExecutor,
    ctx: &WorkerContext,
    record: &JobRecord,
    log_path: &Path,
    log: Arc<LogFile>,
    why: &str,
) {
    drop(log);
    let path = log_path.to_path_buf();
    if let Err(e) = blocking(move || std::fs::remove_file(&path)).await {
        tracing::warn!(job = %record.job_id, error = %e, "cannot remove the log file of a job handed back");
    }
    forget(exec, record.job_id).await;
    let back = Ending {
        status: JobStatus::Pending,
        exit_code: None,
        failure_reason: Some(fit_reason(format!(
            "handed back by worker {}: Slurm could not take the job: {why}",
            exec.worker
        ))),
    };
    report(ctx, record.job_id, &record.lease_token, back).await;
}

fn failed(exit_code: Option<i32>, reason: String) -> Ending {
    Ending {
        status: JobStatus::Failed,
        exit_code,
        failure_reason: Some(fit_reason(reason)),
    }
}

async fn save(exec: &SlurmExecutor, record: &JobRecord) -> std::io::Result<()> {
    let state = exec.state.clone();
    let record = record.clone();
    blocking(move || state.save(&record)).await
}

/// Removes the job's record and exit file: it is over for this worker.
async fn forget(exec: &SlurmExecutor, id: JobId) {
    let state = exec.state.clone();
    if let Err(e) = blocking(move || state.remove(id)).await {
        tracing::warn!(job = %id, error = %e, "cannot remove the job's Slurm record");
    }
}

/// Writes a `[jobctl]` line into the log at `path`, if it can be opened.
pub(super) async fn note_path(path: &Path, message: &str) {
    let path = path.to_path_buf();
    match blocking(move || open_log(&path)).await {
        Ok(log) => note(&Arc::new(log), message).await,
        Err(e) => tracing::warn!(error = %e, "cannot open a job's log to note {message:?}"),
    }
}

/// Opens an existing log for the worker's notes; creates it if it is gone.
fn open_log(path: &Path) -> std::io::Result<LogFile> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .read(true)
        .create(true)
        .mode(0o640)
        .open(path)
}

/// Runs filesystem work off the async threads: the logs dir may be a hung
/// NFS mount, and heartbeats must go on.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}
