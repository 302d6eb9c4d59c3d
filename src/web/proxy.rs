//! The page's JSON routes under `/ui/api/`: each one calls the API with the
//! session's token and hands the answer back.
//!
//! The bodies are the API's own types ([`crate::protocol`]), so the page
//! reads exactly what `jobctl list --json` would print. Only submitting has
//! a shape of its own ([`SubmitForm`]): the page sends what the user typed,
//! and the command line and timeout are parsed here, in Rust, where they can
//! be tested.
//!
//! A path, query or body that does not parse is refused by the API's own
//! extractors ([`ApiPath`], [`ApiQuery`], [`ApiJson`]), with the same
//! `{"error": …}` answer the API would give, before the API is asked.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::WebState;
use super::error::WebError;
use super::session::{Session, session_id};
use crate::api::{ApiJson, ApiPath, ApiQuery};
use crate::client::ClientError;
use crate::domain::{JobId, Role, parse_duration};
use crate::protocol::{
    Job, JobList, ListQuery, LogChunk, LogSearch, LogSearchQuery, LogsQuery, SubmitJob,
};

/// Lines of a tail when the page does not say.
const DEFAULT_TAIL: u32 = 1000;

/// A request with a live session.
pub struct SignedIn {
    id: String,
    /// The session the cookie names.
    pub session: Session,
}

impl FromRequestParts<WebState> for SignedIn {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        let id = session_id(&parts.headers).ok_or(WebError::NotSignedIn)?;
        let session = state.sessions.get(&id).ok_or(WebError::NotSignedIn)?;
        Ok(SignedIn { id, session })
    }
}

impl SignedIn {
    /// Maps an API failure, ending the session when the API no longer
    /// accepts its token (revoked): the page then sends the user to sign in.
    pub fn api<T>(&self, state: &WebState, result: Result<T, ClientError>) -> Result<T, WebError> {
        result.map_err(|e| {
            let e = WebError::from(e);
            if matches!(e, WebError::TokenRefused) {
                state.sessions.remove(&self.id);
            }
            e
        })
    }
}

/// `GET /ui/api/session`: who is signed in, and how often the page polls.
#[derive(Debug, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The token's name, which is the owner of the jobs it submits.
    pub name: String,
    /// `admin` sees every job (and the page shows owners).
    pub role: Role,
    /// Between two refreshes of a live log or of the job list.
    pub refresh_interval_ms: u64,
}

/// `GET /ui/api/session`.
pub async fn session_info(State(state): State<WebState>, signed: SignedIn) -> Json<SessionInfo> {
    Json(SessionInfo {
        name: signed.session.user.name,
        role: signed.session.user.role,
        refresh_interval_ms: state
            .refresh_interval
            .as_millis()
            .try_into()
            .unwrap_or(u64::MAX),
    })
}

/// `GET /ui/api/jobs` query: passed on to the API, which checks it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    status: Option<String>,
    owner: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /ui/api/jobs`: a page of the caller's jobs (an admin's: everyone's),
/// newest first, with the API's `next_cursor`.
pub async fn list_jobs(
    State(state): State<WebState>,
    signed: SignedIn,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> Result<Json<JobList>, WebError> {
    let list = ListQuery {
        status: query.status,
        owner: query.owner,
        q: query.q,
        limit: query.limit,
        cursor: query.cursor,
        id_prefix: None,
    };
    Ok(Json(signed.api(
        &state,
        signed.session.client.list_page(&list).await,
    )?))
}

/// `GET /ui/api/jobs/{id}`.
pub async fn get_job(
    State(state): State<WebState>,
    signed: SignedIn,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Json<Job>, WebError> {
    Ok(Json(
        signed.api(&state, signed.session.client.job(id).await)?,
    ))
}

/// `POST /ui/api/jobs/{id}/cancel`.
pub async fn cancel_job(
    State(state): State<WebState>,
    signed: SignedIn,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Json<Job>, WebError> {
    Ok(Json(
        signed.api(&state, signed.session.client.cancel(id).await)?,
    ))
}

/// `GET /ui/api/jobs/{id}/logs?tail=N|offset=B|before=B&tail=N`: one [`LogChunk`] as the API
/// answers it; a follower reads `next_offset` and polls from there.
pub async fn job_logs(
    State(state): State<WebState>,
    signed: SignedIn,
    ApiPath(id): ApiPath<JobId>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> Result<Json<LogChunk>, WebError> {
    let client = &signed.session.client;
    let tail = query.tail.unwrap_or(DEFAULT_TAIL);
    let chunk = match (query.offset, query.before) {
        (Some(offset), _) => client.logs_from(id, offset).await,
        (None, Some(before)) => client.logs_before(id, before, tail).await,
        (None, None) => client.logs_tail(id, tail).await,
    };
    Ok(Json(signed.api(&state, chunk)?))
}

/// `GET /ui/api/jobs/{id}/logs/search?q=…`: one [`LogSearch`] as the API
/// answers it; the page asks again with `after=next_after` to go on.
pub async fn search_logs(
    State(state): State<WebState>,
    signed: SignedIn,
    ApiPath(id): ApiPath<JobId>,
    ApiQuery(query): ApiQuery<LogSearchQuery>,
) -> Result<Json<LogSearch>, WebError> {
    let found = signed.session.client.logs_search(id, &query).await;
    Ok(Json(signed.api(&state, found)?))
}

/// The whole log, streamed through as the API sends it: never held in
/// memory here, whatever its size.
pub async fn download_logs(
    State(state): State<WebState>,
    signed: SignedIn,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Response, WebError> {
    let upstream = signed.api(&state, signed.session.client.logs_download(id).await)?;
    let content_type = upstream
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("text/plain; charset=utf-8"));
    let length = upstream.headers().get(header::CONTENT_LENGTH).cloned();
    let mut response = Body::from_stream(upstream.bytes_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, length);
    }
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"jobctl-{id}.log\""))
            .expect("a UUID makes a valid header"),
    );
    Ok(response)
}

/// What the page's submit form sends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitForm {
    /// The command line as typed.
    pub command: String,
    /// Run it as `sh -c COMMAND`; otherwise it is split on whitespace.
    #[serde(default)]
    pub shell: bool,
    /// Blank for none.
    #[serde(default)]
    pub name: Option<String>,
    /// A duration such as `90s`, `30m`, `2h`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// GPUs, as typed; blank for the default (0).
    #[serde(default)]
    pub gpus: Option<String>,
    /// CPUs, as typed; blank for the default (1).
    #[serde(default)]
    pub cpus: Option<String>,
}

/// A count typed in the form: blank is the default; the API checks bounds.
fn count(what: &str, typed: Option<&str>) -> Result<Option<u32>, String> {
    match typed.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) => n
            .parse()
            .map(Some)
            .map_err(|_| format!("{what} must be a whole number, got {n:?}")),
    }
}

impl SubmitForm {
    /// The API request this form asks for; the API checks the rest.
    pub fn to_submit_job(&self) -> Result<SubmitJob, String> {
        let line = self.command.trim();
        if line.is_empty() {
            return Err("enter a command to run".into());
        }
        let command = if self.shell {
            vec!["sh".to_string(), "-c".to_string(), line.to_string()]
        } else {
            line.split_whitespace().map(str::to_string).collect()
        };
        let name = self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        let timeout_seconds = match self.timeout.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => {
                let d = parse_duration(t)?;
                if d.as_secs() == 0 {
                    return Err("the timeout must be at least 1s".into());
                }
                Some(d.as_secs())
            }
        };
        Ok(SubmitJob {
            command,
            name,
            timeout_seconds,
            gpus: count("GPUs", self.gpus.as_deref())?,
            cpus: count("CPUs", self.cpus.as_deref())?,
            ..SubmitJob::default()
        })
    }
}

/// `POST /ui/api/jobs`: 201 and the job.
pub async fn submit_job(
    State(state): State<WebState>,
    signed: SignedIn,
    ApiJson(form): ApiJson<SubmitForm>,
) -> Result<(StatusCode, Json<Job>), WebError> {
    let job = form.to_submit_job().map_err(WebError::BadRequest)?;
    let job = signed.api(&state, signed.session.client.submit(&job).await)?;
    Ok((StatusCode::CREATED, Json(job)))
}

/// Unknown `/ui/api/` paths answer JSON like the rest of the page's API.
pub async fn no_route() -> WebError {
    WebError::NotFound("no such route".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(command: &str, shell: bool, name: Option<&str>, timeout: Option<&str>) -> SubmitForm {
        SubmitForm {
            command: command.into(),
            shell,
            name: name.map(Into::into),
            timeout: timeout.map(Into::into),
            ..SubmitForm::default()
        }
    }

    #[test]
    fn gpus_and_cpus_are_optional_whole_numbers() {
        let mut f = form("true", false, None, None);
        let job = f.to_submit_job().unwrap();
        assert_eq!((job.gpus, job.cpus), (None, None));
        f.gpus = Some(" 2 ".into());
        f.cpus = Some("8".into());
        let job = f.to_submit_job().unwrap();
        assert_eq!((job.gpus, job.cpus), (Some(2), Some(8)));
        f.gpus = Some("two".into());
        assert!(f.to_submit_job().unwrap_err().contains("GPUs"));
        f.gpus = Some("-1".into());
        assert!(f.to_submit_job().is_err());
    }

    #[test]
    fn a_command_is_split_on_whitespace_or_run_through_sh() {
        let split = form("  python  train.py --epochs 3 ", false, None, None)
            .to_submit_job()
            .unwrap();
        assert_eq!(split.command, ["python", "train.py", "--epochs", "3"]);
        let shell = form("echo a | tr a b > out", true, None, None)
            .to_submit_job()
            .unwrap();
        assert_eq!(shell.command, ["sh", "-c", "echo a | tr a b > out"]);
    }

    #[test]
    fn name_and_timeout_are_optional_and_parsed() {
        let job = form("true", false, Some(" train "), Some("1h30m"))
            .to_submit_job()
            .unwrap();
        assert_eq!(job.name.as_deref(), Some("train"));
        assert_eq!(job.timeout_seconds, Some(5400));
        let bare = form("true", false, Some(""), Some(" "))
            .to_submit_job()
            .unwrap();
        assert_eq!(bare.name, None);
        assert_eq!(bare.timeout_seconds, None);
    }

    #[test]
    fn an_empty_command_or_a_bad_timeout_is_refused() {
        assert!(form("   ", true, None, None).to_submit_job().is_err());
        let bad = form("true", false, None, Some("soon"))
            .to_submit_job()
            .unwrap_err();
        assert!(bad.contains("invalid duration"), "{bad}");
        assert!(
            form("true", false, None, Some("0"))
                .to_submit_job()
                .is_err()
        );
    }
}
