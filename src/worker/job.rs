//! Running one claimed job: its log file, its supervisor process, its
//! heartbeats, timeout and cancel, and the report of how it ended.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::WorkerContext;
use super::shim::{JobExit, ShimEvent, os_error_text};
use crate::client::ClientError;
use crate::domain::{JobId, JobStatus, format_duration};
use crate::logs;
use crate::protocol::{ClaimedJob, Job, StatusReport};

/// How often a running job's log is flushed to the server when the logs dir
/// is on a network filesystem, so readers on other machines see it.
const SYNC_INTERVAL: Duration = Duration::from_secs(2);

/// Why the worker is stopping a job that has not ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    TimedOut(u64),
    Cancelled,
    WorkerShutdown,
    /// The api no longer recognises our lease: the job was given up as
    /// `worker lost` (or deleted). Stop it and report nothing.
    LeaseLost,
}

impl StopReason {
    fn note(self) -> String {
        match self {
            StopReason::TimedOut(secs) => format!(
                "timed out after {}; sending SIGTERM to the job's process group",
                format_duration(Duration::from_secs(secs))
            ),
            StopReason::Cancelled => {
                "cancelled; sending SIGTERM to the job's process group".to_string()
            }
            StopReason::WorkerShutdown => {
                "worker shut down; sending SIGTERM to the job's process group".to_string()
            }
            StopReason::LeaseLost => {
                "lease lost: the API has given this job up; stopping it".to_string()
            }
        }
    }
}

/// What the heartbeat task tells the supervising loop.
pub(super) enum LeaseEvent {
    CancelRequested,
    Lost(String),
}

/// Runs a claimed job to its end and reports the end to the api. `stop`
/// fires when the worker shuts down and the drain time is over.
pub async fn run(ctx: Arc<WorkerContext>, claimed: ClaimedJob, stop: CancellationToken) {
    let job = claimed.job;
    let lease = claimed.lease_token;
    let heartbeat_every = ctx
        .heartbeat_interval
        .min(Duration::from_secs(claimed.lease_timeout_seconds.max(1)) / 3);
    let end = match execute(&ctx, &job, &lease, heartbeat_every, &stop).await {
        Some(end) => end,
        None => return, // lease lost: the api has already ended the job
    };
    report(&ctx, job.id, &lease, end).await;
}

/// What the worker reports.
pub(super) struct Ending {
    pub(super) status: JobStatus,
    pub(super) exit_code: Option<i32>,
    pub(super) failure_reason: Option<String>,
}

impl Ending {
    fn failed(reason: String) -> Self {
        let reason = fit_reason(reason);
        Ending {
            status: JobStatus::Failed,
            exit_code: None,
            failure_reason: Some(reason),
        }
    }
}

async fn execute(
    ctx: &WorkerContext,
    job: &Job,
    lease: &str,
    heartbeat_every: Duration,
    stop: &CancellationToken,
) -> Option<Ending> {
    let path = logs::log_path(&ctx.logs_dir, job.id);
    // Exclusive create: a worker never writes into a log it did not create.
    let log = match create_log(&path) {
        Ok(log) => Arc::new(log),
        Err(e) => {
            tracing::error!(job = %job.id, error = %e, "cannot create the log file");
            return Some(Ending::failed(format!(
                "could not start: cannot create log file {}: {}",
                path.display(),
                os_error_text(&e)
            )));
        }
    };
    let started = Instant::now();
    let mut process = match Supervised::spawn(ctx, job, &log).await {
        Ok(p) => p,
        Err(reason) => {
            note(&log, &format!("could not start: {reason}")).await;
            note(
                &log,
                &format!(
                    "finished: failed (could not start) after {}",
                    format_duration(started.elapsed())
                ),
            )
            .await;
            return Some(Ending::failed(format!("could not start: {reason}")));
        }
    };
    tracing::info!(job = %job.id, pid = process.pid, "job started");

    let lease_watch = CancellationToken::new();
    let (lease_tx, mut lease_rx) = mpsc::channel(4);
    let heartbeats = tokio::spawn(heartbeat_loop(
        ctx.client.clone(),
        job.id,
        lease.to_string(),
        tokio::sync::watch::channel(None).1,
        heartbeat_every,
        lease_tx,
        lease_watch.clone(),
    ));
    let syncer = ctx
        .sync_logs
        .then(|| tokio::spawn(sync_loop(log.clone(), lease_watch.clone())));

    let timeout_at = job
        .timeout_seconds
        .map(|t| tokio::time::Instant::from_std(started) + Duration::from_secs(t));
    let mut stopping: Option<StopReason> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let exit = loop {
        tokio::select! {
            event = process.next_event() => match event {
                Some(ShimEvent::Exited(exit)) => break Some(exit),
                Some(_) => continue,
                None => break None,
            },
            _ = sleep_until_opt(timeout_at), if stopping.is_none() => {
                stopping = Some(StopReason::TimedOut(job.timeout_seconds.unwrap_or_default()));
            }
            _ = stop.cancelled(), if stopping.is_none() => {
                stopping = Some(StopReason::WorkerShutdown);
            }
            Some(event) = lease_rx.recv(), if stopping.is_none() => {
                stopping = Some(match event {
                    LeaseEvent::CancelRequested => StopReason::Cancelled,
                    LeaseEvent::Lost(why) => {
                        tracing::warn!(job = %job.id, "{why}; stopping the job");
                        StopReason::LeaseLost
                    }
                });
            }
            _ = sleep_until_opt(kill_at) => {
                note(&log, &format!(
                    "still running {} after SIGTERM; sending SIGKILL",
                    format_duration(ctx.kill_grace)
                )).await;
                process.signal("kill").await;
                kill_at = None;
            }
        }
        // A stop was just decided: SIGTERM now, SIGKILL after the grace.
        if let Some(reason) = stopping
            && kill_at.is_none()
            && !process.term_sent
        {
            tracing::info!(job = %job.id, ?reason, "stopping job");
            note(&log, &reason.note()).await;
            process.signal("term").await;
            process.term_sent = true;
            kill_at = Some(tokio::time::Instant::now() + ctx.kill_grace);
        }
    };
    lease_watch.cancel();
    let _ = heartbeats.await;
    if let Some(syncer) = syncer {
        let _ = syncer.await;
    }
    let elapsed = started.elapsed();
    let ending = match (exit, stopping) {
        (_, Some(StopReason::LeaseLost)) => None,
        (exit, Some(StopReason::TimedOut(secs))) => Some(Ending {
            status: JobStatus::Failed,
            exit_code: exit_code(exit),
            // Whole seconds, as the job asked for them: "timed out after 90s".
            failure_reason: Some(format!("timed out after {secs}s")),
        }),
        (exit, Some(StopReason::Cancelled)) => Some(Ending {
            status: JobStatus::Cancelled,
            exit_code: exit_code(exit),
            failure_reason: None,
        }),
        (exit, Some(StopReason::WorkerShutdown)) => Some(Ending {
            status: JobStatus::Failed,
            exit_code: exit_code(exit),
            failure_reason: Some("worker shut down".into()),
        }),
        (Some(JobExit::Code(0)), None) => Some(Ending {
            status: JobStatus::Completed,
            exit_code: Some(0),
            failure_reason: None,
        }),
        (Some(JobExit::Code(code)), None) => Some(Ending {
            status: JobStatus::Failed,
            exit_code: Some(code),
            failure_reason: Some(format!("exit code {code}")),
        }),
        (Some(JobExit::Signal(sig)), None) => Some(Ending {
            status: JobStatus::Failed,
            exit_code: None,
            failure_reason: Some(format!("killed by signal {sig}")),
        }),
        (None, None) => {
            // The supervisor died (OOM killer, a stray kill): PDEATHSIG took
            // the job's leader, but not the rest of its group. The group id
            // cannot be reused while any member lives, so this hits only them.
            if process.pid > 0 {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(process.pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            Some(Ending::failed(process.lost_reason().await))
        }
    };
    let closing = match &ending {
        Some(e) => format!(
            "finished: {}{} after {}",
            e.status,
            match (&e.failure_reason, exit) {
                (Some(r), _) => format!(" ({r})"),
                (None, Some(JobExit::Code(c))) => format!(" (exit code {c})"),
                (None, _) => String::new(),
            },
            format_duration(elapsed)
        ),
        None => format!(
            "stopped after {}; the API had already marked the job failed",
            format_duration(elapsed)
        ),
    };
    note(&log, &closing).await;
    if ctx.sync_logs {
        let log = log.clone();
        let _ = tokio::task::spawn_blocking(move || log.sync_data()).await;
    }
    process.reap().await;
    tracing::info!(job = %job.id, "{closing}");
    ending
}

/// A failure reason the api accepts: cut at a character boundary with `…`
/// when too long (a long cwd or program name). The log keeps the whole text.
pub(super) fn fit_reason(reason: String) -> String {
    use crate::protocol::MAX_FAILURE_REASON_BYTES as MAX;
    if reason.len() <= MAX {
        return reason;
    }
    let cut = reason.floor_char_boundary(MAX - '…'.len_utf8());
    format!("{}…", &reason[..cut])
}

fn exit_code(exit: Option<JobExit>) -> Option<i32> {
    match exit {
        Some(JobExit::Code(c)) => Some(c),
        _ => None,
    }
}

pub(super) async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The log file, created exclusively and locked (`flock`) for the job's
/// lifetime. The lock belongs to the open file description, which the job's
/// stdout and stderr share, so it lasts as long as anything can still write.
pub(super) type LogFile = File;

pub(super) fn create_log(path: &Path) -> std::io::Result<LogFile> {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .read(true)
        .create_new(true)
        .mode(0o640)
        .open(path)?;
    // SAFETY: flock on an fd we own has no memory-safety preconditions.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            // Some NFS set-ups have no lock manager; the exclusive create
            // already guarantees that no other worker writes here.
            Some(libc::ENOLCK) | Some(libc::EOPNOTSUPP) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot lock the log file; running the job without the lock");
            }
            _ => return Err(e),
        }
    }
    Ok(file)
}

/// Appends a `[jobctl]` line through the worker's own handle. `O_APPEND`
/// keeps it whole between the job's writes.
pub(super) async fn note(log: &Arc<LogFile>, message: &str) {
    let log = log.clone();
    let message = message.to_string();
    let written = tokio::task::spawn_blocking(move || logs::append_note(&log, &message)).await;
    if let Ok(Err(e)) = written {
        tracing::warn!(error = %e, "cannot write to the job's log");
    }
}

/// The supervisor process of one job and its control socket.
struct Supervised {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    commands: tokio::net::unix::OwnedWriteHalf,
    pid: u32,
    term_sent: bool,
}

impl Supervised {
    /// Starts the supervisor and waits until the job has started (or could
    /// not). `Err` carries the reason, without the `could not start:` prefix.
    async fn spawn(ctx: &WorkerContext, job: &Job, log: &LogFile) -> Result<Self, String> {
        if let Some(cwd) = &job.cwd {
            match std::fs::metadata(cwd) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(format!("working directory {cwd}: Not a directory")),
                Err(e) => return Err(format!("working directory {cwd}: {}", os_error_text(&e))),
            }
        }
        // Both ends are close-on-exec: only the supervisor's end is made
        // inheritable, in the child alone, just before exec.
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| format!("cannot create the control socket: {e}"))?;
        let out = log
            .try_clone()
            .map_err(|e| format!("cannot share the log file: {e}"))?;
        let err = log
            .try_clone()
            .map_err(|e| format!("cannot share the log file: {e}"))?;
        let theirs_fd = theirs.as_raw_fd();
        let mut command = tokio::process::Command::new(&ctx.shim_program);
        command
            .arg("__run-job")
            .arg("--control-fd")
            .arg(theirs_fd.to_string())
            .arg("--")
            .args(&job.command)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .env("PYTHONUNBUFFERED", "1")
            // Its own group: a Ctrl-C meant for the worker must not reach
            // the supervisor, which outlives the worker's drain.
            .process_group(0)
            .kill_on_drop(false);
        // The worker's own settings (its token above all) are not the job's
        // business; a `jobctl` run inside a job should use the job's env.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("JOBCTL_") {
                command.env_remove(key);
            }
        }
        command
            .env("JOBCTL_JOB_ID", job.id.to_string())
            .envs(&job.env);
        if let Some(cwd) = &job.cwd {
            command.current_dir(cwd);
        }
        // SAFETY: fcntl is async-signal-safe; it clears close-on-exec on the
        // supervisor's copy of its end of the socket, so it survives exec.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(theirs_fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| {
            format!(
                "cannot run the job supervisor {}: {}",
                ctx.shim_program.display(),
                os_error_text(&e)
            )
        })?;
        drop(theirs);
        let stream = ours;
        stream
            .set_nonblocking(true)
            .map_err(|e| format!("control socket: {e}"))?;
        let stream = UnixStream::from_std(stream).map_err(|e| format!("control socket: {e}"))?;
        let (read, write) = stream.into_split();
        let mut supervised = Supervised {
            child,
            lines: BufReader::new(read).lines(),
            commands: write,
            pid: 0,
            term_sent: false,
        };
        match supervised.next_event().await {
            Some(ShimEvent::Started(pid)) => {
                supervised.pid = pid;
                Ok(supervised)
            }
            Some(ShimEvent::SpawnError(e)) => {
                supervised.reap().await;
                Err(format!("{e} (program {:?})", job.command[0]))
            }
            _ => Err(supervised.lost_reason().await),
        }
    }

    /// The next control line; `None` when the supervisor has gone.
    async fn next_event(&mut self) -> Option<ShimEvent> {
        loop {
            match self.lines.next_line().await {
                Ok(Some(line)) => match ShimEvent::parse(&line) {
                    Some(event) => return Some(event),
                    None => tracing::warn!(line, "unknown line from the job supervisor"),
                },
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Asks the supervisor to signal the job's process group.
    async fn signal(&mut self, command: &str) {
        let _ = self
            .commands
            .write_all(format!("{command}\n").as_bytes())
            .await;
    }

    /// Why the supervisor vanished without reporting an exit.
    async fn lost_reason(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => match (
                status.code(),
                std::os::unix::process::ExitStatusExt::signal(&status),
            ) {
                (_, Some(sig)) => format!("job supervisor killed by signal {sig}"),
                (Some(code), _) => format!("job supervisor exited with code {code}"),
                _ => "job supervisor ended unexpectedly".into(),
            },
            Err(e) => format!("job supervisor lost: {e}"),
        }
    }

    async fn reap(&mut self) {
        let _ = self.child.wait().await;
    }
}

/// Heartbeats until `done`; reports a cancel request or a lost lease.
/// Transient failures (api down) are retried on the next beat: the job keeps
/// running through an outage. Each beat carries the job's current
/// `pending_reason` (why it still waits, for an executor that queues it).
pub(super) async fn heartbeat_loop(
    client: crate::client::ApiClient,
    id: JobId,
    lease: String,
    pending_reason: watch::Receiver<Option<String>>,
    every: Duration,
    events: mpsc::Sender<LeaseEvent>,
    done: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the claim itself just set the lease
    let mut failing_since: Option<Instant> = None;
    let mut cancel_sent = false;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let reason = pending_reason.borrow().clone();
        let beat = tokio::select! {
            _ = done.cancelled() => return,
            beat = client.heartbeat(id, &lease, reason) => beat,
        };
        match beat {
            Ok(ack) => {
                if let Some(since) = failing_since.take() {
                    tracing::info!(job = %id, "heartbeats reach the API again after {}", format_duration(since.elapsed()));
                }
                if ack.cancel_requested && !cancel_sent {
                    cancel_sent = true;
                    let _ = events.send(LeaseEvent::CancelRequested).await;
                }
            }
            Err(e) if e.is_transient() => {
                if failing_since.is_none() {
                    failing_since = Some(Instant::now());
                    tracing::warn!(job = %id, error = %e, "heartbeat failed; the job keeps running and heartbeats are retried");
                }
            }
            Err(e) if lease_is_gone(&e) => {
                let _ = events.send(LeaseEvent::Lost(e.to_string())).await;
                return;
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "heartbeat refused; retrying");
            }
        }
    }
}

/// 409/404: the lease or the job is gone. 401/403: this worker's token was
/// revoked, so it can never report on the job again.
pub(super) fn lease_is_gone(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { status, .. } if matches!(status.as_u16(), 401 | 403 | 404 | 409))
}

/// fdatasyncs the log every few seconds while the job runs.
async fn sync_loop(log: Arc<LogFile>, done: CancellationToken) {
    let mut ticker = tokio::time::interval(SYNC_INTERVAL);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let log = log.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || log.sync_data()).await {
            tracing::warn!(error = %e, "cannot sync the job's log");
        }
    }
}

/// Reports the end, retrying with backoff while the api is unreachable, so
/// no final status is lost to an outage.
pub(super) async fn report(ctx: &WorkerContext, id: JobId, lease: &str, end: Ending) {
    let report = StatusReport {
        lease_token: lease.to_string(),
        status: end.status,
        exit_code: end.exit_code,
        failure_reason: end.failure_reason,
    };
    let mut delay = Duration::from_millis(500);
    let mut warned = false;
    loop {
        match ctx.client.report(id, &report).await {
            Ok(job) => {
                if warned {
                    tracing::info!(job = %job.id, "final status delivered");
                }
                return;
            }
            Err(e) if e.is_transient() => {
                if !warned {
                    tracing::warn!(job = %id, error = %e, "cannot report the job's end; retrying until the API answers");
                    warned = true;
                }
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "the API refused the job's final status");
                return;
            }
        }
        tokio::select! {
            _ = ctx.give_up.cancelled() => {
                tracing::error!(job = %id, status = %report.status, "giving up reporting the job's end: the worker is stopping now");
                return;
            }
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_failure_reasons_are_cut_to_what_the_api_takes() {
        let short = "could not start: No such file or directory".to_string();
        assert_eq!(fit_reason(short.clone()), short);
        let long = format!(
            "could not start: working directory /{}: No such file",
            "é".repeat(2000)
        );
        let fit = fit_reason(long);
        assert!(fit.len() <= crate::protocol::MAX_FAILURE_REASON_BYTES);
        assert!(fit.ends_with('…') && fit.starts_with("could not start: working directory /é"));
    }
}
