//! The routes only worker tokens may call: claim, heartbeat, status.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, Worker};
use crate::domain::{JobId, JobStatus};
use crate::logs;
use crate::protocol::{
    ClaimRequest, ClaimedJob, ClaimedJobs, ErrorBody, Heartbeat, HeartbeatAck, Job, JobReports,
    MAX_FAILURE_REASON_BYTES, MAX_FINISHED_MS_AGO, ReportResult, ReportResults, StatusReport,
};
use crate::store::{ClaimOffer, JobEnd};

/// Longest worker name accepted, in characters (host names have at most 253).
const MAX_WORKER_NAME: usize = 256;
/// Longest `pending_reason` a heartbeat may carry.
const MAX_PENDING_REASON_BYTES: usize = 1024;

/// Claim the oldest pending job that fits what the worker has free.
#[utoipa::path(
    post, path = "/workers/claim", tag = "workers",
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "A job, now running, with its lease", body = ClaimedJob),
        (status = 204, description = "No pending job fits what the worker has free"),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Not a worker token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn claim_job(
    State(state): State<AppState>,
    _: Worker,
    ApiJson(body): ApiJson<ClaimRequest>,
) -> Result<Response, ApiError> {
    match claim(&state, &body, 1).await?.pop() {
        Some(claimed) => Ok(Json(claimed).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Claim several jobs at once: each the oldest pending job that fits what
/// the ones claimed before it left free, up to `max_jobs` (and the free
/// slots), in one transaction.
#[utoipa::path(
    post, path = "/workers/claims", tag = "workers",
    request_body = ClaimRequest,
    responses(
        (status = 200, description = "The jobs, now running, each with its lease; none when no pending job fits", body = ClaimedJobs),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Not a worker token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn claim_jobs(
    State(state): State<AppState>,
    _: Worker,
    ApiJson(body): ApiJson<ClaimRequest>,
) -> Result<Json<ClaimedJobs>, ApiError> {
    // Checked with the rest of the offer, in `claim_offer`.
    let max = body.max_jobs.unwrap_or(1);
    let jobs = claim(&state, &body, max).await?;
    Ok(Json(ClaimedJobs { jobs }))
}

/// Most jobs one `POST /workers/claims` hands out.
const MAX_CLAIM_BATCH: u32 = 1024;

/// Up to `max` claims for the worker of `body`, in one store transaction.
async fn claim(
    state: &AppState,
    body: &ClaimRequest,
    max: u32,
) -> Result<Vec<ClaimedJob>, ApiError> {
    let worker = body.worker.trim();
    if worker.is_empty()
        || worker.chars().count() > MAX_WORKER_NAME
        || worker.chars().any(char::is_control)
    {
        return Err(ApiError::BadRequest(
            "worker must be a non-empty name of at most 256 characters, without control characters"
                .into(),
        ));
    }
    if state.seen_workers.due(worker, std::time::Instant::now()) {
        see_worker(state.store.touch_worker(worker).await, worker);
    }
    let offer = claim_offer(body)?;
    let started = std::time::Instant::now();
    let claimed = state
        .store
        .claim_jobs(worker, state.lease_timeout, &offer, max)
        .await?;
    crate::metrics::claim_answered(started.elapsed());
    let mut answer = Vec::with_capacity(claimed.len());
    for (job, lease_token) in claimed {
        tracing::info!(job = %job.id, worker, "job claimed");
        crate::metrics::job_claimed(&job);
        let secrets = if job.secret_names.is_empty() {
            Default::default()
        } else {
            state.store.claimed_secrets(job.id, &lease_token).await?
        };
        answer.push(ClaimedJob {
            job,
            secrets,
            lease_token,
            lease_timeout_seconds: state.lease_timeout.as_secs().max(1),
        });
    }
    Ok(answer)
}

/// Longest GPU device id accepted (MIG UUIDs are about 40 characters).
const MAX_GPU_ID_BYTES: usize = 128;

/// What the worker has free, checked: device ids are what
/// `CUDA_VISIBLE_DEVICES` takes (letters, digits, `-`, `_`, `:`, `.`),
/// never repeated.
fn claim_offer(body: &ClaimRequest) -> Result<ClaimOffer, ApiError> {
    // On either claim route: a value the OpenAPI document refuses is refused.
    if body
        .max_jobs
        .is_some_and(|max| !(1..=MAX_CLAIM_BATCH).contains(&max))
    {
        return Err(ApiError::BadRequest(format!(
            "max_jobs must be 1 to {MAX_CLAIM_BATCH}"
        )));
    }
    if let Some(ids) = &body.free_gpu_ids {
        if ids.len() > 1024 {
            return Err(ApiError::BadRequest(
                "free_gpu_ids holds at most 1024 device ids".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if id.is_empty()
                || id.len() > MAX_GPU_ID_BYTES
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
            {
                return Err(ApiError::BadRequest(format!(
                    "invalid GPU device id {:?}: use 1 to {MAX_GPU_ID_BYTES} letters, digits, \
                     '-', '_', ':' or '.'",
                    id.chars().take(60).collect::<String>()
                )));
            }
            if !seen.insert(id) {
                return Err(ApiError::BadRequest(format!(
                    "GPU device id {id:?} is offered twice"
                )));
            }
        }
    }
    Ok(ClaimOffer {
        free_gpu_ids: body.free_gpu_ids.clone(),
        free_cpus: body.free_cpus,
        free_slots: body.free_slots.unwrap_or(1),
        total_gpus: body.total_gpus,
        total_cpus: body.total_cpus,
    })
}

/// Extend a running job's lease; learn whether it should be cancelled.
#[utoipa::path(
    post, path = "/jobs/{id}/heartbeat", tag = "workers",
    params(("id" = uuid::Uuid, Path, description = "Job id (UUID)")),
    request_body = Heartbeat,
    responses(
        (status = 200, description = "Lease extended", body = HeartbeatAck),
        (status = 400, description = "Not a UUID, or a malformed body", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Not a worker token", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The lease is no longer this worker's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn heartbeat(
    State(state): State<AppState>,
    _: Worker,
    ApiPath(id): ApiPath<JobId>,
    ApiJson(body): ApiJson<Heartbeat>,
) -> Result<Json<HeartbeatAck>, ApiError> {
    let pending_reason = match body.pending_reason.as_deref().map(str::trim) {
        Some(r) if r.len() > MAX_PENDING_REASON_BYTES || r.contains('\0') => {
            return Err(ApiError::BadRequest(format!(
                "pending_reason must be at most {MAX_PENDING_REASON_BYTES} bytes, without NUL"
            )));
        }
        Some("") | None => None,
        Some(r) => Some(r),
    };
    let cancel_requested = state
        .store
        .heartbeat(id, &body.lease_token, state.lease_timeout, pending_reason)
        .await?;
    see_worker(state.store.touch_worker_of_job(id).await, &id.to_string());
    Ok(Json(HeartbeatAck { cancel_requested }))
}

/// Report how a running job ended, or hand back (`pending`) one this
/// worker could not start.
#[utoipa::path(
    post, path = "/jobs/{id}/status", tag = "workers",
    params(("id" = uuid::Uuid, Path, description = "Job id (UUID)")),
    request_body = StatusReport,
    responses(
        (status = 200, description = "The job, ended (or pending again after a hand-back)", body = Job),
        (status = 400, description = "Not a UUID, or a malformed or inconsistent report", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Not a worker token", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "Illegal transition, or a stale lease", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn report_status(
    State(state): State<AppState>,
    _: Worker,
    ApiPath(id): ApiPath<JobId>,
    ApiJson(body): ApiJson<StatusReport>,
) -> Result<Json<Job>, ApiError> {
    apply_report(&state, id, body).await.map(Json)
}

/// Report how several running jobs ended, in one request: each report is
/// taken as `POST /jobs/{id}/status` would take it, and the reports are
/// committed together. A report's own error (a stale lease, an unknown job)
/// is its result's and does not touch the others.
#[utoipa::path(
    post, path = "/workers/reports", tag = "workers",
    request_body = JobReports,
    responses(
        (status = 200, description = "One result per report, in order", body = ReportResults),
        (status = 400, description = "Malformed body (a report against its schema), more than 256 reports, or one job twice", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Not a worker token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn report_jobs(
    State(state): State<AppState>,
    _: Worker,
    ApiJson(body): ApiJson<JobReports>,
) -> Result<Json<ReportResults>, ApiError> {
    if body.reports.len() > MAX_REPORT_BATCH {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_REPORT_BATCH} reports per request, not {}",
            body.reports.len()
        )));
    }
    // What the schema says of each report refuses the whole request, like a
    // malformed body; the rest (lease, consistency) is each report's own.
    if let Some((i, _)) = body.reports.iter().enumerate().find(|(_, r)| {
        r.report
            .finished_ms_ago
            .is_some_and(|ms| ms > MAX_FINISHED_MS_AGO)
    }) {
        return Err(ApiError::BadRequest(format!(
            "reports[{i}]: finished_ms_ago must be at most {MAX_FINISHED_MS_AGO}"
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(body.reports.len());
    if let Some(twice) = body.reports.iter().find(|r| !seen.insert(r.job_id)) {
        return Err(ApiError::BadRequest(format!(
            "job {} is reported twice",
            twice.job_id
        )));
    }
    // Side by side, so that the store commits them as one group.
    let results = futures_util::future::join_all(body.reports.into_iter().map(|r| {
        let state = &state;
        async move {
            match apply_report(state, r.job_id, r.report).await {
                Ok(job) => ReportResult {
                    job_id: r.job_id,
                    status: StatusCode::OK.as_u16(),
                    job_status: Some(job.status),
                    error: None,
                },
                Err(e) => ReportResult {
                    job_id: r.job_id,
                    status: e.status().as_u16(),
                    job_status: None,
                    error: Some(e.public_message()),
                },
            }
        }
    }))
    .await;
    Ok(Json(ReportResults { results }))
}

/// Most reports one `POST /workers/reports` takes.
pub const MAX_REPORT_BATCH: usize = 256;

/// Takes one job's final report or hand-back.
async fn apply_report(state: &AppState, id: JobId, body: StatusReport) -> Result<Job, ApiError> {
    if body.status == JobStatus::Pending {
        if body.exit_code.is_some() {
            return Err(ApiError::BadRequest(
                "a job handed back (pending) has no exit code".into(),
            ));
        }
        check_reason(&body.failure_reason)?;
        let before = state.store.get_job(id).await?;
        let job = state.store.hand_back(id, &body.lease_token).await?;
        // A retried hand-back changes nothing and notes nothing.
        let Some(worker) = before
            .filter(|b| b.status == JobStatus::Running)
            .and_then(|b| b.worker)
        else {
            return Ok(job);
        };
        if job.status == JobStatus::Cancelled {
            crate::metrics::job_finished(&job);
        }
        let reason = body.failure_reason.as_deref().unwrap_or("no reason given");
        tracing::warn!(
            job = %id,
            worker,
            reason,
            status = %job.status,
            "a worker could not start the job and handed it back"
        );
        let note = format!(
            "worker {worker} could not start the job ({reason}); it is {} again",
            job.status
        );
        let path = logs::log_path(&state.logs_dir, id);
        let written =
            tokio::task::spawn_blocking(move || logs::append_jobctl_line(&path, &note)).await;
        if let Ok(Err(e)) | Err(e) = written.map_err(std::io::Error::other) {
            tracing::warn!(job = %id, error = %e, "cannot note the hand-back in the log");
        }
        return Ok(job);
    }
    let end = job_end(&body)?;
    let ended = state.store.finish_job(id, &body.lease_token, &end).await?;
    let job = ended.job;
    // A retried report (after a lost answer) is not counted twice.
    if ended.recorded_now {
        crate::metrics::job_finished(&job);
    }
    tracing::info!(job = %id, status = %job.status, reason = ?job.failure_reason, "job ended");
    Ok(job)
}

/// When this api last noted each worker as seen by a claim. The store
/// writes `last_seen` at most once a second per worker anyway; asking it
/// only that often spares a busy worker's claims a statement each (on
/// SQLite, one that queues for the write lock behind the commits).
#[derive(Default)]
pub struct SeenWorkers {
    /// A std `Mutex`: held for a map lookup, never across an `.await`.
    noted: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// How often a claiming worker's `last_seen` is written.
const SEEN_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Workers remembered at most; past it the map starts over (each worker
/// then costs one more statement).
const SEEN_CAP: usize = 10_000;

impl SeenWorkers {
    /// Whether `worker`'s claim at `now` should note it as seen: its first,
    /// or the first a second after the last one noted.
    pub fn due(&self, worker: &str, now: std::time::Instant) -> bool {
        let mut noted = self.noted.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = noted.get_mut(worker) {
            if now.saturating_duration_since(*at) < SEEN_EVERY {
                return false;
            }
            *at = now;
            return true;
        }
        if noted.len() >= SEEN_CAP {
            noted.clear();
        }
        noted.insert(worker.to_string(), now);
        true
    }
}

/// Noting when a worker was last seen is best effort: a claim or heartbeat
/// must not fail for it.
fn see_worker(touched: Result<(), crate::store::StoreError>, who: &str) {
    if let Err(e) = touched {
        tracing::warn!(error = %e, who, "cannot note that the worker was seen");
    }
}

fn check_reason(reason: &Option<String>) -> Result<(), ApiError> {
    match reason {
        Some(r) if r.len() > MAX_FAILURE_REASON_BYTES || r.is_empty() => Err(ApiError::BadRequest(
            format!("failure_reason must be 1 to {MAX_FAILURE_REASON_BYTES} bytes"),
        )),
        _ => Ok(()),
    }
}

/// Checks that a report of a job's end is self-consistent. Whether the
/// move is legal from the job's current state is the store's call (409).
fn job_end(report: &StatusReport) -> Result<JobEnd, ApiError> {
    let (status, exit_code, failure_reason) = (
        report.status,
        report.exit_code,
        report.failure_reason.clone(),
    );
    check_reason(&failure_reason)?;
    let ago = report.finished_ms_ago.unwrap_or(0);
    if ago > MAX_FINISHED_MS_AGO {
        return Err(ApiError::BadRequest(format!(
            "finished_ms_ago must be at most {MAX_FINISHED_MS_AGO}"
        )));
    }
    let ago = std::time::Duration::from_millis(ago);
    match status {
        JobStatus::Completed if exit_code.is_some_and(|c| c != 0) => Err(ApiError::BadRequest(
            "completed means exit code 0; report a non-zero exit as failed".into(),
        )),
        JobStatus::Completed if failure_reason.is_some() => Err(ApiError::BadRequest(
            "a completed job has no failure_reason".into(),
        )),
        JobStatus::Failed if failure_reason.is_none() => Err(ApiError::BadRequest(
            "a failed job needs a failure_reason, e.g. \"exit code 3\"".into(),
        )),
        _ => Ok(JobEnd {
            status,
            exit_code,
            failure_reason,
            ago,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_claiming_worker_is_noted_once_a_second() {
        let seen = SeenWorkers::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(seen.due("gpu01", t0));
        assert!(!seen.due("gpu01", at(500)));
        assert!(seen.due("gpu02", at(500)), "each worker on its own");
        assert!(seen.due("gpu01", at(1000)));
        assert!(!seen.due("gpu01", at(1999)));
        assert!(seen.due("gpu01", at(2000)));
    }
}
