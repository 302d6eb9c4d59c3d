//! A claimed job's lease: the heartbeats that keep it, and the final report
//! that ends it.
//!
//! The api fails a running job as `worker lost` once its lease runs out
//! without a heartbeat. The heartbeat task renews it every few seconds and
//! tells the job task what it learns: a cancel request, a lease the api no
//! longer recognises, a refused token, and each renewal (which the executor
//! uses to fence the job when renewals stop reaching the api).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::outcome::Ending;
use crate::client::{ApiClient, ClientError};
use crate::domain::{JobId, JobStatus, format_duration};
use crate::protocol::{ClaimedJob, JobReport, JobReports, StatusReport};

/// The lease on one claimed job.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job_id: JobId,
    pub token: String,
    /// How long the lease lasts without a renewal.
    pub timeout: Duration,
    /// When the claim's answer arrived: the lease holds at most `timeout`
    /// from then.
    pub claimed_at: Instant,
}

impl Lease {
    /// The lease of a claim that has just been answered.
    pub fn of(claimed: &ClaimedJob) -> Self {
        Lease {
            job_id: claimed.job.id,
            token: claimed.lease_token.clone(),
            timeout: Duration::from_secs(claimed.lease_timeout_seconds.max(1)),
            claimed_at: Instant::now(),
        }
    }

    /// How much longer the claim's lease holds without a renewal.
    pub fn left_since_claim(&self) -> Duration {
        self.timeout.saturating_sub(self.claimed_at.elapsed())
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
///
/// Each beat carries the job's current `pending_reason`: why a job that an
/// executor queues (Slurm) does not run yet, `None` once it does.
pub async fn heartbeat(
    client: ApiClient,
    lease: Lease,
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
    let id = lease.job_id;
    loop {
        tokio::select! {
            _ = done.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let sent = Instant::now();
        let reason = pending_reason.borrow().clone();
        let beat = tokio::select! {
            _ = done.cancelled() => return,
            beat = client.heartbeat(id, &lease.token, reason) => beat,
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

/// What became of a final report.
#[derive(Debug)]
pub enum Delivery {
    Delivered,
    /// The api answered with an error that retrying cannot change.
    Refused(ClientError),
    /// The worker stopped retrying (it is shutting down) before the api
    /// took the report.
    GaveUp(ClientError),
}

/// Reports the end the worker saw at `ended`, retrying with back-off while
/// the api is unreachable, so no final status is lost to an outage. Each
/// attempt says how long ago the job ended, so the api records when it
/// ended, not when the report got through. Stops retrying when `give_up`
/// fires. Reports of jobs that end together travel together ([`Reports`]).
pub async fn report(
    reports: &Reports,
    lease: &Lease,
    end: Ending,
    ended: Instant,
    give_up: &CancellationToken,
) -> Delivery {
    let report = StatusReport {
        lease_token: lease.token.clone(),
        status: end.status,
        exit_code: end.exit_code,
        failure_reason: end.failure_reason,
        finished_ms_ago: None,
    };
    let id = lease.job_id;
    deliver(id, give_up, || reports.send(id, report.clone(), ended)).await
}

/// Hands a job this worker could not start back to the queue (`pending`),
/// retrying like [`report`].
pub async fn hand_back(
    client: &ApiClient,
    lease: &Lease,
    reason: String,
    give_up: &CancellationToken,
) -> Delivery {
    let report = StatusReport {
        lease_token: lease.token.clone(),
        status: JobStatus::Pending,
        exit_code: None,
        failure_reason: Some(reason),
        finished_ms_ago: None,
    };
    let id = lease.job_id;
    deliver(id, give_up, || async {
        client.report(id, &report).await.map(drop)
    })
    .await
}

/// Sends with `attempt` until the api takes the report, refuses it for good,
/// or `give_up` fires.
async fn deliver<F: Future<Output = Result<(), ClientError>>>(
    id: JobId,
    give_up: &CancellationToken,
    mut attempt: impl FnMut() -> F,
) -> Delivery {
    let mut backoff = crate::retry::REPORT.backoff();
    let mut warned = false;
    loop {
        let error = match attempt().await {
            Ok(_) => {
                if warned {
                    tracing::info!(job = %id, "final status delivered");
                }
                return Delivery::Delivered;
            }
            Err(e) if e.is_transient() => e,
            Err(e) => return Delivery::Refused(e),
        };
        crate::metrics::worker_report_retried();
        if !warned {
            tracing::warn!(job = %id, error = %error, "cannot report the job's end; retrying until the API answers");
            warned = true;
        }
        tokio::select! {
            _ = give_up.cancelled() => return Delivery::GaveUp(error),
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

/// Most final reports sent in one request.
const MAX_REPORTS_PER_REQUEST: usize = 64;
/// How long the next report request waits for the previous one's answer:
/// reports that arrive meanwhile go together, and a request that hangs
/// (until the client's timeout) holds up the others no longer than this.
const NEXT_REPORT_REQUEST_AFTER: Duration = Duration::from_secs(1);
/// Most report requests on their way at once (when some hang).
const REPORT_REQUESTS_IN_FLIGHT: usize = 8;

/// Final reports on their way to the api. Reports of jobs that end while
/// the previous request is on its way wait and then go together, in one
/// `POST /workers/reports` that the api commits as one group: with many
/// short jobs, one request and one commit serve several. Each report still
/// gets its own answer, and [`report`] retries each on its own. An api
/// older than that route (404) gets them one by one, as before.
#[derive(Clone)]
pub struct Reports {
    client: ApiClient,
    queue: mpsc::UnboundedSender<Queued>,
}

struct Queued {
    id: JobId,
    report: StatusReport,
    /// When the worker saw the job end: `finished_ms_ago` is counted when
    /// the report leaves, however long it waited.
    ended: Instant,
    answer: oneshot::Sender<Result<(), ClientError>>,
}

impl Queued {
    fn report(&self) -> StatusReport {
        aged(&self.report, self.ended)
    }
}

/// `report` as it leaves now, for a job that ended at `ended`.
fn aged(report: &StatusReport, ended: Instant) -> StatusReport {
    StatusReport {
        finished_ms_ago: Some(ended.elapsed().as_millis() as u64),
        ..report.clone()
    }
}

impl Reports {
    /// Starts the sender task, which ends with the last handle.
    pub fn start(client: ApiClient) -> Self {
        let (queue, queued) = mpsc::unbounded_channel();
        tokio::spawn(send_reports(client.clone(), queued));
        Reports { client, queue }
    }

    /// Sends the report of a job that ended at `ended`, with whatever
    /// others are waiting.
    pub async fn send(
        &self,
        id: JobId,
        report: StatusReport,
        ended: Instant,
    ) -> Result<(), ClientError> {
        let (answer, answered) = oneshot::channel();
        let queued = Queued {
            id,
            report: report.clone(),
            ended,
            answer,
        };
        if self.queue.send(queued).is_ok()
            && let Ok(result) = answered.await
        {
            return result;
        }
        // The sender task is gone (it panicked): this report goes on its
        // own.
        self.client
            .report(id, &aged(&report, ended))
            .await
            .map(drop)
    }
}

async fn send_reports(client: ApiClient, mut queued: mpsc::UnboundedReceiver<Queued>) {
    let batches = Arc::new(AtomicBool::new(true));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(REPORT_REQUESTS_IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut group = Vec::with_capacity(MAX_REPORTS_PER_REQUEST);
        if queued.recv_many(&mut group, MAX_REPORTS_PER_REQUEST).await == 0 {
            return;
        }
        let (client, batches) = (client.clone(), batches.clone());
        let (answered, answer) = oneshot::channel::<()>();
        tokio::spawn(async move {
            send_group(&client, &batches, group).await;
            drop(permit);
            drop(answered);
        });
        let _ = tokio::time::timeout(NEXT_REPORT_REQUEST_AFTER, answer).await;
    }
}

/// Sends one group of reports and answers each.
async fn send_group(client: &ApiClient, batches: &AtomicBool, mut group: Vec<Queued>) {
    if batches.load(Ordering::Relaxed) {
        let body = JobReports {
            reports: group
                .iter()
                .map(|q| JobReport {
                    job_id: q.id,
                    report: q.report(),
                })
                .collect(),
        };
        match client.report_many(&body).await {
            Ok(results) => {
                for (q, result) in group.drain(..).zip(results) {
                    let _ = q.answer.send(result.map(drop));
                }
                return;
            }
            Err(ClientError::Api { status, .. }) if status == StatusCode::NOT_FOUND => {
                if batches.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        "the API has no POST /workers/reports (an older version); reporting jobs one at a time"
                    );
                }
            }
            Err(e) => {
                for q in group.drain(..) {
                    let _ = q.answer.send(Err(e.clone()));
                }
                return;
            }
        }
    }
    futures_util::future::join_all(group.drain(..).map(|q| async move {
        let result = client.report(q.id, &q.report()).await.map(drop);
        let _ = q.answer.send(result);
    }))
    .await;
}
