//! `jobctl logs ID [--tail N] [--follow]`: print a job's log, or follow it.
//!
//! Following prints the tail, then polls with the byte offset the api gave,
//! so each byte is written exactly once, raw — `\r` progress bars redraw in
//! a terminal. It stops after the api reports the job ended *and* the log has
//! been read to its end: the status is read before the file on the server, so
//! that last read holds every byte. Transient failures are retried; Ctrl-C
//! stops following and leaves the job alone.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;

use super::{ClientArgs, resolve_job};
use crate::client::{ApiClient, ClientError};
use crate::config::ConfigFile;
use crate::domain::{JobId, JobStatus, format_duration, parse_duration};
use crate::exit;
use crate::logs::{DEFAULT_TAIL_LINES, MAX_TAIL_LINES};
use crate::protocol::LogChunk;

/// Flags of `jobctl logs`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit status with --follow: 0 the job completed, 1 it failed, \
    3 it was cancelled, 2 usage or API error, 130 interrupted.\n\
    Ctrl-C stops following; it never cancels the job (use `jobctl cancel`)."
)]
pub struct Args {
    /// Job id, or a unique prefix of at least 4 hex digits
    pub id: String,
    /// Start with the last N lines
    #[arg(long, short = 'n', default_value_t = DEFAULT_TAIL_LINES as u32,
          value_parser = clap::value_parser!(u32).range(0..=MAX_TAIL_LINES as i64))]
    pub tail: u32,
    /// Keep printing new output until the job ends (Ctrl-C stops following, not the job)
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// How often to poll for new output while following
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    pub interval: Duration,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Between 50 ms and 10 min.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(50) || d > Duration::from_secs(600) {
        return Err("interval must be between 50ms and 10m".into());
    }
    Ok(d)
}

/// Where following starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// The last N lines.
    Tail(u32),
    /// The very first byte (a job just submitted: nothing may be missed).
    Beginning,
}

/// Prints the log once, or follows it.
pub async fn run(
    args: Args,
    file: &ConfigFile,
    interrupt: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let client = args.client.client(file)?;
    if args.follow {
        // Following rides out API outages from the very first request.
        let mut outage: Option<Instant> = None;
        let mut backoff = outage_retry(args.interval).backoff();
        let job = loop {
            let resolved = tokio::select! {
                _ = interrupt.cancelled() => return Ok(ExitCode::from(exit::INTERRUPTED)),
                resolved = resolve_job(&client, &args.id) => resolved,
            };
            match resolved {
                Ok(job) => break job,
                Err(e) if is_transient(&e) => {
                    if outage.is_none() {
                        eprintln!("jobctl: {e:#}; retrying until it answers");
                        outage = Some(Instant::now());
                    }
                    tokio::select! {
                        _ = interrupt.cancelled() => return Ok(ExitCode::from(exit::INTERRUPTED)),
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
                Err(e) => return Err(e),
            }
        };
        if let Some(since) = outage {
            eprintln!(
                "jobctl: the API answers again (after {})",
                format_duration(since.elapsed())
            );
        }
        return follow(
            &client,
            job.id,
            Start::Tail(args.tail),
            args.interval,
            interrupt,
        )
        .await;
    }
    let job = resolve_job(&client, &args.id).await?;
    let chunk = client.logs_tail(job.id, args.tail).await?;
    write_raw(&chunk.logs)?;
    Ok(ExitCode::SUCCESS)
}

fn is_transient(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ClientError>()
        .is_some_and(ClientError::is_transient)
}

/// Follows job `id` until it ends; the exit status says how it ended.
pub async fn follow(
    client: &ApiClient,
    id: JobId,
    start: Start,
    interval: Duration,
    interrupt: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let mut spinner = PendingSpinner::new();
    let mut outage: Option<Instant> = None;
    let mut backoff = outage_retry(interval).backoff();
    let mut offset: Option<u64> = match start {
        Start::Tail(_) => None,
        Start::Beginning => Some(0),
    };
    loop {
        if interrupt.is_cancelled() {
            return Ok(stop_following(&mut spinner, id));
        }
        let request = async {
            match offset {
                None => client.logs_tail(id, start_lines(start)).await,
                Some(at) => client.logs_from(id, at).await,
            }
        };
        let fetched = tokio::select! {
            _ = interrupt.cancelled() => return Ok(stop_following(&mut spinner, id)),
            fetched = request => fetched,
        };
        let wait = match fetched {
            Ok(chunk) => {
                backoff.reset();
                if let Some(since) = outage.take() {
                    spinner.suspend(|| {
                        eprintln!(
                            "jobctl: the API answers again (after {})",
                            format_duration(since.elapsed())
                        )
                    });
                }
                spinner.update(chunk.status);
                if !chunk.logs.is_empty() {
                    spinner.suspend(|| write_raw(&chunk.logs))?;
                }
                offset = Some(chunk.next_offset);
                if done(&chunk) {
                    spinner.clear();
                    return Ok(exit::for_job(chunk.status));
                }
                caught_up(&chunk).then_some(interval)
            }
            Err(e) if e.is_transient() => {
                if outage.is_none() {
                    outage = Some(Instant::now());
                    spinner.suspend(|| eprintln!("jobctl: {e}; retrying until it answers"));
                }
                Some(backoff.next_delay())
            }
            Err(e) => {
                spinner.clear();
                return Err(match e.status() {
                    Some(reqwest::StatusCode::NOT_FOUND) => {
                        anyhow::anyhow!("job {id} no longer exists (deleted by retention?)")
                    }
                    _ => e.into(),
                });
            }
        };
        if let Some(wait) = wait {
            tokio::select! {
                _ = interrupt.cancelled() => return Ok(stop_following(&mut spinner, id)),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Polls during an api outage: from one poll interval, backing off to
/// half a minute (or the interval, if longer), with jitter so a crowd of
/// followers does not hit a restarting api all at once.
fn outage_retry(interval: Duration) -> crate::retry::Policy {
    crate::retry::Policy::new(interval, interval.max(Duration::from_secs(30)))
}

/// Ctrl-C while following: say that the job goes on, exit 130.
fn stop_following(spinner: &mut PendingSpinner, id: JobId) -> ExitCode {
    spinner.clear();
    eprintln!("jobctl: stopped following; job {id} goes on (`jobctl cancel` stops it)");
    ExitCode::from(exit::INTERRUPTED)
}

fn start_lines(start: Start) -> u32 {
    match start {
        Start::Tail(n) => n,
        Start::Beginning => 0,
    }
}

/// Whether to wait before the next poll. A chunk short of the end was capped
/// and more is there already — unless it brought nothing: then the rest is
/// an unfinished UTF-8 character that the API holds back until the job
/// writes the remaining bytes, and asking again at once would only spin.
fn caught_up(chunk: &LogChunk) -> bool {
    chunk.next_offset >= chunk.size || chunk.logs.is_empty()
}

/// The job has ended and everything it wrote has been read.
fn done(chunk: &LogChunk) -> bool {
    chunk.status.is_terminal() && chunk.next_offset >= chunk.size
}

/// Writes job output to stdout as it came, and flushes it.
fn write_raw(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// "pending 12s…" on stderr while the job waits for a worker, only when
/// stderr is a terminal.
struct PendingSpinner {
    bar: Option<ProgressBar>,
    since: Instant,
    enabled: bool,
}

impl PendingSpinner {
    fn new() -> Self {
        PendingSpinner {
            bar: None,
            since: Instant::now(),
            enabled: std::io::stderr().is_terminal(),
        }
    }

    fn update(&mut self, status: JobStatus) {
        if status != JobStatus::Pending {
            self.clear();
            return;
        }
        if !self.enabled {
            return;
        }
        let since = self.since;
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let waited = since.elapsed().as_secs();
        let waited = if waited < 60 {
            format!("{waited}s")
        } else {
            format_duration(Duration::from_secs(waited))
        };
        bar.set_message(format!("pending {waited}… waiting for a free worker"));
    }

    fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for PendingSpinner {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(logs: &str, next_offset: u64, size: u64) -> LogChunk {
        LogChunk {
            job_id: JobId::new(),
            status: JobStatus::Running,
            logs: logs.into(),
            offset: 0,
            next_offset,
            size,
            truncated: false,
        }
    }

    #[test]
    fn a_held_back_character_is_waited_for_not_polled_for() {
        assert!(caught_up(&chunk("abc", 3, 3)), "read to the end");
        assert!(
            !caught_up(&chunk("x", 1_048_576, 5_000_000)),
            "capped: read on at once"
        );
        assert!(
            caught_up(&chunk("", 3, 5)),
            "only an unfinished character left"
        );
    }
}
