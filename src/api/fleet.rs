//! The worker fleet: workers register when they start and when they begin
//! to drain (`POST /workers/register`), are seen again on every claim and
//! heartbeat, and admins list them (`GET /workers`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, ApiJson, Worker};
use crate::protocol::{ErrorBody, WorkerInfo, WorkerList, WorkerRegistration, WorkerState};
use crate::store::WorkerRecord;

/// Longest name, executor, version or host accepted, in characters.
const MAX_FIELD: usize = 256;

/// Announce a worker (at start), or that it has begun to drain.
#[utoipa::path(
    post, path = "/workers/register", tag = "workers",
    request_body = WorkerRegistration,
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Not a worker token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn register_worker(
    State(state): State<AppState>,
    _: Worker,
    ApiJson(mut body): ApiJson<WorkerRegistration>,
) -> Result<StatusCode, ApiError> {
    for (what, value) in [
        ("name", &mut body.name),
        ("executor", &mut body.executor),
        ("version", &mut body.version),
        ("host", &mut body.host),
    ] {
        *value = value.trim().to_string();
        if value.is_empty()
            || value.chars().count() > MAX_FIELD
            || value.chars().any(char::is_control)
        {
            return Err(ApiError::BadRequest(format!(
                "{what} must be a non-empty text of at most {MAX_FIELD} characters, without control characters"
            )));
        }
    }
    if body.slots == 0 {
        return Err(ApiError::BadRequest("slots must be at least 1".into()));
    }
    state.store.register_worker(&body).await?;
    tracing::info!(
        worker = body.name,
        executor = body.executor,
        slots = body.slots,
        draining = body.draining,
        "worker registered"
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Every known worker: what it offers, when it was last seen, what it runs.
#[utoipa::path(
    get, path = "/workers", tag = "fleet",
    responses(
        (status = 200, description = "The fleet, by name", body = WorkerList),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_workers(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<WorkerList>, ApiError> {
    let workers = state
        .store
        .list_workers()
        .await?
        .into_iter()
        .map(|w| worker_info(w, state.lease_timeout))
        .collect();
    Ok(Json(WorkerList { workers }))
}

/// A stored worker as the api shows it.
pub fn worker_info(w: WorkerRecord, lease: Duration) -> WorkerInfo {
    let state = worker_state(w.registration.draining, w.silent_for, lease);
    let r = w.registration;
    WorkerInfo {
        name: r.name,
        executor: r.executor,
        slots: r.slots,
        gpus: r.gpus,
        cpus: r.cpus,
        version: r.version,
        host: r.host,
        started_at: w.started_at,
        last_seen: w.last_seen,
        state,
        running: w.running,
    }
}

/// A worker unheard of for longer than a lease is gone — the same bound
/// after which its jobs count as lost; otherwise draining once it said so.
pub fn worker_state(draining: bool, silent_for: Duration, lease: Duration) -> WorkerState {
    if silent_for > lease {
        WorkerState::Gone
    } else if draining {
        WorkerState::Draining
    } else {
        WorkerState::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_past_a_lease_is_gone_whatever_was_said_before() {
        let lease = Duration::from_secs(60);
        let s = Duration::from_secs;
        assert_eq!(worker_state(false, s(0), lease), WorkerState::Active);
        assert_eq!(worker_state(false, s(60), lease), WorkerState::Active);
        assert_eq!(worker_state(true, s(10), lease), WorkerState::Draining);
        assert_eq!(worker_state(false, s(61), lease), WorkerState::Gone);
        assert_eq!(worker_state(true, s(61), lease), WorkerState::Gone);
    }
}
