//! The job routes users and admins call: submit, list, show, cancel.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, User};
use crate::auth::Caller;
use crate::domain::{JobId, JobSpec, JobStatus, Role};
use crate::protocol::{ErrorBody, Job, JobList, ListQuery, SubmitJob, WhoAmI};
use crate::store::JobFilter;

/// Jobs listed when the caller does not say how many.
const DEFAULT_LIST_LIMIT: u32 = 100;
/// The most jobs one list returns.
const MAX_LIST_LIMIT: u32 = 1000;

/// The job, if it exists and the caller may see it; 404 either way otherwise,
/// so a user cannot probe for other users' job ids.
pub(super) async fn visible_job(
    state: &AppState,
    caller: &Caller,
    id: JobId,
) -> Result<Job, ApiError> {
    match state.store.get_job(id).await? {
        Some(job) if caller.can_see(&job.owner) => Ok(job),
        _ => Err(ApiError::NotFound(format!("job {id} not found"))),
    }
}

/// Submit a job.
#[utoipa::path(
    post, path = "/jobs", tag = "jobs",
    request_body = SubmitJob,
    responses(
        (status = 201, description = "The job, now pending", body = Job),
        (status = 400, description = "Malformed or invalid job", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "A worker token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn submit_job(
    State(state): State<AppState>,
    User(caller): User,
    ApiJson(body): ApiJson<SubmitJob>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let spec = JobSpec::try_from(body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let job = state.store.insert_job(&caller.name, &spec).await?;
    tracing::info!(job = %job.id, owner = %job.owner, "job submitted");
    crate::metrics::job_submitted();
    Ok((StatusCode::CREATED, Json(job)))
}

/// List jobs, newest first. Users see their own; admins see all.
#[utoipa::path(
    get, path = "/jobs", tag = "jobs",
    params(ListQuery),
    responses(
        (status = 200, description = "Jobs, newest first", body = JobList),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "A worker token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    User(caller): User,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}"
        )));
    }
    let id_prefix = query
        .id_prefix
        .map(|p| {
            let p = p.to_ascii_lowercase();
            if p.is_empty() || p.len() > 36 || !p.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            {
                Err(ApiError::BadRequest(format!(
                    "id_prefix must be 1 to 36 hex digits or hyphens, got {p:?}"
                )))
            } else {
                Ok(p)
            }
        })
        .transpose()?;
    let owner = match caller.role {
        Role::Admin => query.owner,
        // A user asking for someone else's jobs sees none, as if they did not exist.
        _ => match query.owner {
            Some(o) if o != caller.name => return Ok(Json(JobList { jobs: Vec::new() })),
            _ => Some(caller.name.clone()),
        },
    };
    let filter = JobFilter {
        status: query.status,
        owner,
        id_prefix,
        limit,
    };
    let jobs = state.store.list_jobs(&filter).await?;
    Ok(Json(JobList { jobs }))
}

/// Show one job.
#[utoipa::path(
    get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "A worker token", body = ErrorBody),
        (status = 404, description = "No such job, or not the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_job(
    State(state): State<AppState>,
    User(caller): User,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(visible_job(&state, &caller, id).await?))
}

/// Cancel a job: a pending one at once, a running one through its worker.
#[utoipa::path(
    post, path = "/jobs/{id}/cancel", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The job: cancelled, or running with cancel_requested", body = Job),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "A worker token", body = ErrorBody),
        (status = 404, description = "No such job, or not the caller's", body = ErrorBody),
        (status = 409, description = "The job has already ended", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_job(
    State(state): State<AppState>,
    User(caller): User,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Json<Job>, ApiError> {
    visible_job(&state, &caller, id).await?;
    let job = state.store.request_cancel(id).await?;
    tracing::info!(job = %id, by = %caller.name, status = %job.status, "cancel requested");
    if job.status == JobStatus::Cancelled {
        // Only a pending job is cancelled at once; a second cancel is a 409.
        crate::metrics::job_finished(&job);
    }
    Ok(Json(job))
}

/// Who the token belongs to: its name (the owner of its jobs) and role.
#[utoipa::path(
    get, path = "/whoami", tag = "service",
    responses(
        (status = 200, description = "The caller", body = WhoAmI),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: caller.name,
        role: caller.role,
    })
}
