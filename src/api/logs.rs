//! The log routes: a JSON tail or offset chunk, and a streamed download.
//!
//! The job's status is read before the file, so when it says the job has
//! ended the bytes read afterwards are final: a follower that sees a
//! terminal status and reads to `size` has everything.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tokio::io::AsyncReadExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::io::ReaderStream;

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, User};
use super::jobs::visible_job;
use crate::domain::JobId;
use crate::logs::{self, LogSlice};
use crate::protocol::{ErrorBody, LogChunk, LogsQuery};

/// Read a job's log: the last lines, or the bytes from an offset.
#[utoipa::path(
    get, path = "/jobs/{id}/logs", tag = "logs",
    params(("id" = String, Path, description = "Job id (UUID)"), LogsQuery),
    responses(
        (status = 200, description = "A piece of the log; empty when the job has not written yet", body = LogChunk),
        (status = 400, description = "Not a UUID, or a bad tail/offset", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "A worker token", body = ErrorBody),
        (status = 404, description = "No such job, or not the caller's", body = ErrorBody),
        (status = 500, description = "The log file exists but cannot be read", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn job_logs(
    State(state): State<AppState>,
    User(caller): User,
    ApiPath(id): ApiPath<JobId>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> Result<Response, ApiError> {
    let read = LogRead::from_query(&query)?;
    let job = visible_job(&state, &caller, id).await?;
    let complete = job.status.is_terminal();
    let path = logs::log_path(&state.logs_dir, id);
    let permit = state
        .log_reads
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let slice = tokio::task::spawn_blocking({
        let path = path.clone();
        move || match read {
            LogRead::Tail(lines) => {
                logs::read_tail_file(&path, lines, logs::MAX_TAIL_BYTES, complete)
            }
            LogRead::From(offset) => {
                logs::read_file_from(&path, offset, logs::MAX_CHUNK_BYTES, complete)
            }
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot read {}: {e}", path.display())))?;
    // No file yet: the job has not been claimed, or its worker has not got
    // that far. That is an empty log, not an error.
    let slice = slice.unwrap_or_else(|| {
        let at = match read {
            LogRead::Tail(_) => 0,
            LogRead::From(offset) => offset,
        };
        LogSlice {
            offset: at,
            next_offset: at,
            ..LogSlice::default()
        }
    });
    let chunk = LogChunk {
        job_id: id,
        status: job.status,
        offset: slice.offset,
        next_offset: slice.next_offset,
        size: slice.size,
        truncated: slice.truncated,
        logs: slice.into_text(),
    };
    // Sized for the text up front: growing by doubling from a few bytes
    // would copy a 1 MiB answer several times and leave a 2 MiB buffer
    // behind it (what the api's RSS under 1000 followers was made of).
    let mut json = Vec::with_capacity(chunk.logs.len() + 256);
    serde_json::to_writer(&mut json, &chunk).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(json_holding(json, permit))
}

/// A JSON answer whose body keeps `permit` until it has been handed on
/// whole: the encoded chunk (up to a few MiB for a log of control bytes)
/// counts against the read bound until a slow client has taken it.
fn json_holding(json: Vec<u8>, permit: OwnedSemaphorePermit) -> Response {
    let length = json.len();
    enum Stage {
        Send(Bytes, OwnedSemaphorePermit),
        Sent { _permit: OwnedSemaphorePermit },
    }
    let stream = futures_util::stream::unfold(
        Some(Stage::Send(Bytes::from(json), permit)),
        |stage| async move {
            match stage? {
                Stage::Send(bytes, permit) => Some((
                    Ok::<_, std::convert::Infallible>(bytes),
                    Some(Stage::Sent { _permit: permit }),
                )),
                // Asked for more: the bytes are on their way; let go.
                Stage::Sent { .. } => None,
            }
        },
    );
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // A known length: no chunked encoding, no separate last-chunk write.
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// What a log request asks for, validated.
#[derive(Debug, Clone, Copy)]
enum LogRead {
    Tail(usize),
    From(u64),
}

impl LogRead {
    fn from_query(query: &LogsQuery) -> Result<Self, ApiError> {
        match (query.tail, query.offset) {
            (Some(_), Some(_)) => Err(ApiError::BadRequest(
                "give either tail or offset, not both".into(),
            )),
            (Some(n), None) if n as usize > logs::MAX_TAIL_LINES => {
                Err(ApiError::BadRequest(format!(
                    "tail must be at most {} lines, got {n}",
                    logs::MAX_TAIL_LINES
                )))
            }
            (Some(n), None) => Ok(LogRead::Tail(n as usize)),
            (None, Some(offset)) if offset > i64::MAX as u64 => Err(ApiError::BadRequest(format!(
                "offset {offset} is beyond any file"
            ))),
            (None, Some(offset)) => Ok(LogRead::From(offset)),
            (None, None) => Ok(LogRead::Tail(logs::DEFAULT_TAIL_LINES)),
        }
    }
}

/// Download the whole log as plain text, streamed.
#[utoipa::path(
    get, path = "/jobs/{id}/logs/download", tag = "logs",
    params(("id" = String, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The log as it is now", content_type = "text/plain", body = String),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "A worker token", body = ErrorBody),
        (status = 404, description = "No such job, or not the caller's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn download_logs(
    State(state): State<AppState>,
    User(caller): User,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Response, ApiError> {
    visible_job(&state, &caller, id).await?;
    let path = logs::log_path(&state.logs_dir, id);
    let (body, size) = match tokio::fs::File::open(&path).await {
        Ok(file) => {
            let size = file
                .metadata()
                .await
                .map_err(|e| ApiError::Internal(e.into()))?
                .len();
            // Serve the file as it is now; a running job's later output
            // belongs to the next download.
            let stream = ReaderStream::with_capacity(file.take(size), 64 * 1024);
            (Body::from_stream(stream), size)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Body::empty(), 0),
        Err(e) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "cannot open {}: {e}",
                path.display()
            )));
        }
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{id}.log\""))
            .expect("a UUID is a valid header value"),
    );
    Ok(response)
}
