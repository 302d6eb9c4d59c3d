//! The job routes users and admins call: submit, list, show, cancel.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiPath, ApiQuery, User};
use crate::auth::Caller;
use crate::domain::{JobId, JobIdPrefix, JobSpec, JobStatus, Role};
use crate::protocol::{ErrorBody, Job, JobList, ListQuery, SubmitJob, WhoAmI};
use crate::store::{JobCursor, JobFilter};

/// Jobs listed when the caller does not say how many.
const DEFAULT_LIST_LIMIT: u32 = 100;
/// The most jobs one list returns.
const MAX_LIST_LIMIT: u32 = 1000;
/// The longest `q` a list accepts.
const MAX_QUERY_CHARS: usize = 256;

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

/// List jobs, newest first, a page at a time. Users see their own; admins
/// see all.
#[utoipa::path(
    get, path = "/jobs", tag = "jobs",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of jobs, newest first, and the cursor of the next", body = JobList),
        (status = 400, description = "Bad query: an unknown status, a limit out of range, a cursor not from an earlier answer", body = ErrorBody),
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
    let mut filter = list_filter(query)?;
    if caller.role != Role::Admin {
        // A user asking for someone else's jobs sees none, as if they did not exist.
        match &filter.owner {
            Some(o) if *o != caller.name => return Ok(Json(JobList::default())),
            _ => filter.owner = Some(caller.name.clone()),
        }
    }
    let page = state.store.list_jobs(&filter).await?;
    Ok(Json(JobList {
        jobs: page.jobs,
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// The store's filter for a `GET /jobs` query, every parameter checked.
fn list_filter(query: ListQuery) -> Result<JobFilter, ApiError> {
    let bad = ApiError::BadRequest;
    let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(bad(format!(
            "limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}"
        )));
    }
    let id_prefix = query
        .id_prefix
        .map(|p| JobIdPrefix::parse(&p).map(JobIdPrefix::into_string))
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
    let statuses = match query.status.as_deref() {
        None => Vec::new(),
        Some(list) => parse_statuses(list).map_err(bad)?,
    };
    let text = match query.q {
        None => None,
        Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
            return Err(bad(format!(
                "q must be at most {MAX_QUERY_CHARS} characters"
            )));
        }
        Some(q) if q.contains('\0') => return Err(bad("q must not contain NUL".into())),
        // An empty q filters nothing, as an empty search box shows every job.
        Some(q) if q.is_empty() => None,
        Some(q) => Some(q),
    };
    let after = query
        .cursor
        .map(|c| JobCursor::decode(&c))
        .transpose()
        .map_err(|e| bad(e.to_string()))?;
    Ok(JobFilter {
        statuses,
        owner: query.owner,
        id_prefix,
        text,
        after,
        limit,
    })
}

/// `pending,running` → both statuses; each once, in the order given.
fn parse_statuses(list: &str) -> Result<Vec<JobStatus>, String> {
    let mut statuses = Vec::new();
    for word in list.split(',').map(str::trim) {
        if word.is_empty() {
            return Err(format!(
                "status must be one status or a comma-separated list, got {list:?}"
            ));
        }
        let status = word.parse::<JobStatus>().map_err(|e| e.to_string())?;
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    Ok(statuses)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_list_is_parsed_and_deduplicated() {
        assert_eq!(
            parse_statuses("pending, running,pending").unwrap(),
            [JobStatus::Pending, JobStatus::Running]
        );
        assert_eq!(parse_statuses("failed").unwrap(), [JobStatus::Failed]);
        for bad in ["", ",", "pending,", "done", "Pending", "pending,,running"] {
            assert!(parse_statuses(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn list_parameters_are_checked_before_the_store_is_asked() {
        let ok = |q: ListQuery| list_filter(q).is_ok();
        assert!(ok(ListQuery::default()));
        assert_eq!(
            list_filter(ListQuery::default()).unwrap().limit,
            DEFAULT_LIST_LIMIT
        );
        assert!(!ok(ListQuery {
            limit: Some(0),
            ..ListQuery::default()
        }));
        assert!(!ok(ListQuery {
            limit: Some(MAX_LIST_LIMIT + 1),
            ..ListQuery::default()
        }));
        assert!(!ok(ListQuery {
            cursor: Some("nope".into()),
            ..ListQuery::default()
        }));
        assert!(!ok(ListQuery {
            q: Some("x".repeat(MAX_QUERY_CHARS + 1)),
            ..ListQuery::default()
        }));
        let empty_q = list_filter(ListQuery {
            q: Some(String::new()),
            ..ListQuery::default()
        })
        .unwrap();
        assert_eq!(empty_q.text, None);
    }
}
