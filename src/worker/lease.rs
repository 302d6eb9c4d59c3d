//! A claimed job's lease: the heartbeats that keep it, and the final report
//! that ends it.
//!
//! The api fails a running job as `worker lost` once its lease runs out
//! without a heartbeat. The heartbeat task renews it every few seconds and
//! tells the job task what it learns: a cancel request, a lease the api no
//! longer recognises, a refused token, and each renewal (which the executor
//! uses to fence the job when renewals stop reaching the api).

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::outcome::Ending;
use crate::client::{ApiClient, ClientError};
use crate::domain::{JobId, format_duration};
use crate::protocol::{ClaimedJob, StatusReport};

/// The lease on one claimed job.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job_id: JobId,
    pub token: String,
    /// How long the lease lasts without a renewal.
    pub timeout: Duration,
}

impl Lease {
    pub fn of(claimed: &ClaimedJob) -> Self {
        Lease {
            job_id: claimed.job.id,
            token: claimed.lease_token.clone(),
            timeout: Duration::from_secs(claimed.lease_timeout_seconds.max(1)),
        }
    }

    /// How often to heartbeat: at the worker's pace, but at least three
    /// times per lease, so one lost beat never costs the job.
    pub fn heartbeat_every(&self, preferred: Duration) -> Duration {
        preferred.min(self.timeout / 3)
    }
}

/// What the heartbeat task tells the job task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseEvent {
    /// The api accepted a heartbeat; the lease holds for this much longer.
    Renewed(Duration),
    /// A user asked to cancel the job.
    CancelRequested,
    /// The api no longer recognises the lease (409) or the job (404).
    Lost(String),
    /// The api refused this worker's token (401/403).
    TokenRefused(String),
}

/// Heartbeats until `done`. Transient failures (the api is down) are tried
/// again on the next beat: the job keeps running through a short outage.
pub async fn heartbeat(
    client: ApiClient,
    lease: Lease,
    every: Duration,
    events: mpsc::Sender<LeaseEvent>,
    done: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the claim itself just set the lease
    let mut failing_since: Option<Instant> = None;
    let mut cancel_sent = false;
    let id = lease.job_id;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let sent = Instant::now();
        let beat = tokio::select! {
            _ = done.cancelled() => return,
            beat = client.heartbeat(id, &lease.token) => beat,
        };
        match beat {
            Ok(ack) => {
                if let Some(since) = failing_since.take() {
                    tracing::info!(job = %id, "heartbeats reach the API again after {}", format_duration(since.elapsed()));
                }
                // Counted from when the beat was sent: the api extended the
                // lease at some moment after that.
                let valid_for = lease.timeout.saturating_sub(sent.elapsed());
                let _ = events.send(LeaseEvent::Renewed(valid_for)).await;
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
            Err(ClientError::Api { status, message }) if matches!(status.as_u16(), 404 | 409) => {
                let _ = events.send(LeaseEvent::Lost(message)).await;
                return;
            }
            Err(ClientError::Api { status, message }) if matches!(status.as_u16(), 401 | 403) => {
                let _ = events.send(LeaseEvent::TokenRefused(message)).await;
                return;
            }
            Err(e) => {
                tracing::error!(job = %id, error = %e, "heartbeat refused; retrying");
            }
        }
    }
}

/// Reports the end, retrying with backoff while the api is unreachable, so
/// no final status is lost to an outage. Gives up when `give_up` fires.
pub async fn report(client: &ApiClient, lease: &Lease, end: Ending, give_up: &CancellationToken) {
    let id = lease.job_id;
    let report = StatusReport {
        lease_token: lease.token.clone(),
        status: end.status,
        exit_code: end.exit_code,
        failure_reason: end.failure_reason,
    };
    let mut delay = Duration::from_millis(500);
    let mut warned = false;
    loop {
        match client.report(id, &report).await {
            Ok(_) => {
                if warned {
                    tracing::info!(job = %id, "final status delivered");
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
            _ = give_up.cancelled() => {
                tracing::error!(job = %id, status = %report.status, "giving up reporting the job's end: the worker is stopping now");
                return;
            }
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
