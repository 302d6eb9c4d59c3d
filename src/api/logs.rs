//! The log routes: a JSON tail or offset chunk, a search, and a streamed
//! download.
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

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery, User};
use super::jobs::visible_job;
use super::{ANSWER_BUDGET_KIB, AppState};
use crate::domain::JobId;
use crate::log_search;
use crate::logs::{self, LogSlice};
use crate::protocol::{ErrorBody, LogChunk, LogMatch, LogSearch, LogSearchQuery, LogsQuery};

/// Read a job's log: the last lines, the bytes from an offset, or the lines
/// before an offset.
#[utoipa::path(
    get, path = "/jobs/{id}/logs", tag = "logs",
    params(("id" = uuid::Uuid, Path, description = "Job id (UUID)"), LogsQuery),
    responses(
        (status = 200, description = "A piece of the log; empty when the job has not written yet", body = LogChunk),
        (status = 400, description = "Not a UUID, or a bad tail/offset/before, or offset with tail or before", body = ErrorBody),
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
            LogRead::Before { before, lines } => {
                logs::read_tail_before_file(&path, before, lines, logs::MAX_TAIL_BYTES, complete)
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
            LogRead::Tail(_) | LogRead::Before { .. } => 0,
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
    // The read is done: the next one may start while this answer waits for
    // its client. Its memory counts against the answer budget instead,
    // until the client has taken it (or the server has dropped a client
    // that stalled).
    drop(permit);
    let kib = u32::try_from(json.len().div_ceil(1024))
        .unwrap_or(u32::MAX)
        .min(ANSWER_BUDGET_KIB as u32);
    let memory = state
        .answer_kib
        .clone()
        .acquire_many_owned(kib)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(json_holding(json, memory))
}

/// Search a job's log for a literal string: the matching lines of up to
/// 64 MiB of it per request, and where to go on.
#[utoipa::path(
    get, path = "/jobs/{id}/logs/search", tag = "logs",
    params(("id" = uuid::Uuid, Path, description = "Job id (UUID)"), LogSearchQuery),
    responses(
        (status = 200, description = "Matching lines, and where the next request starts; none when the job has no log yet", body = LogSearch),
        (status = 400, description = "Not a UUID, an empty or over-long q or one with a line break, a bad limit or after", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "A worker token", body = ErrorBody),
        (status = 404, description = "No such job, or not the caller's", body = ErrorBody),
        (status = 500, description = "The log file exists but cannot be read", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn search_logs(
    State(state): State<AppState>,
    User(caller): User,
    ApiPath(id): ApiPath<JobId>,
    ApiQuery(query): ApiQuery<LogSearchQuery>,
) -> Result<Response, ApiError> {
    let (needle, after, limits) = search_request(&query)?;
    let job = visible_job(&state, &caller, id).await?;
    let path = logs::log_path(&state.logs_dir, id);
    let permit = state
        .log_reads
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let found = tokio::task::spawn_blocking({
        let path = path.clone();
        move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let size = file.metadata()?.len();
            log_search::search(&mut file, size, &needle, after, &limits).map(Some)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot search {}: {e}", path.display())))?
    .unwrap_or_default();
    let answer = LogSearch {
        job_id: id,
        status: job.status,
        matches: found
            .matches
            .into_iter()
            .map(|m| LogMatch {
                offset: m.offset,
                match_offset: m.match_offset,
                text_offset: m.text_offset,
                text: String::from_utf8(m.text)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                truncated: m.truncated,
            })
            .collect(),
        next_after: found.next_after,
        scanned_bytes: found.scanned_bytes,
        size: found.size,
    };
    let json = serde_json::to_vec(&answer).map_err(|e| ApiError::Internal(e.into()))?;
    drop(permit);
    let kib = u32::try_from(json.len().div_ceil(1024))
        .unwrap_or(u32::MAX)
        .min(ANSWER_BUDGET_KIB as u32);
    let memory = state
        .answer_kib
        .clone()
        .acquire_many_owned(kib)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(json_holding(json, memory))
}

/// A search query, checked: the string, where to start, how much to do.
fn search_request(
    query: &LogSearchQuery,
) -> Result<(log_search::Needle, u64, log_search::SearchLimits), ApiError> {
    let bad = |msg: String| ApiError::BadRequest(msg);
    let needle = log_search::Needle::new(&query.q, query.ignore_case.unwrap_or(false))
        .map_err(|e| bad(e.to_string()))?;
    let limit = query
        .limit
        .map_or(log_search::DEFAULT_MATCHES, |n| n as usize);
    if limit == 0 || limit > log_search::MAX_MATCHES {
        return Err(bad(format!(
            "limit must be between 1 and {}, got {limit}",
            log_search::MAX_MATCHES
        )));
    }
    let after = query.after.unwrap_or(0);
    if after > i64::MAX as u64 {
        return Err(bad(format!("after {after} is beyond any file")));
    }
    Ok((
        needle,
        after,
        log_search::SearchLimits {
            max_matches: limit,
            ..log_search::SearchLimits::default()
        },
    ))
}

/// A JSON answer whose body keeps `permit` until it has been handed on
/// whole: the encoded chunk (up to a few MiB for a log of control bytes)
/// counts against the answer budget until a slow client has taken it.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogRead {
    Tail(usize),
    From(u64),
    Before { before: u64, lines: usize },
}

impl LogRead {
    fn from_query(query: &LogsQuery) -> Result<Self, ApiError> {
        let bad = |msg: String| Err(ApiError::BadRequest(msg));
        if let Some(n) = query.tail
            && n as usize > logs::MAX_TAIL_LINES
        {
            return bad(format!(
                "tail must be at most {} lines, got {n}",
                logs::MAX_TAIL_LINES
            ));
        }
        for (name, value) in [("offset", query.offset), ("before", query.before)] {
            if let Some(v) = value
                && v > i64::MAX as u64
            {
                return bad(format!("{name} {v} is beyond any file"));
            }
        }
        let lines = query.tail.map_or(logs::DEFAULT_TAIL_LINES, |n| n as usize);
        match (query.tail, query.offset, query.before) {
            (_, Some(_), Some(_)) => bad("give either offset or before, not both".into()),
            (Some(_), Some(_), None) => bad("give either tail or offset, not both".into()),
            (_, None, Some(before)) => Ok(LogRead::Before { before, lines }),
            (None, Some(offset), None) => Ok(LogRead::From(offset)),
            (_, None, None) => Ok(LogRead::Tail(lines)),
        }
    }
}

/// Download the whole log as plain text, streamed.
#[utoipa::path(
    get, path = "/jobs/{id}/logs/download", tag = "logs",
    params(("id" = uuid::Uuid, Path, description = "Job id (UUID)")),
    responses(
        (status = 200, description = "The log as it is now", content_type = "text/plain", body = String),
        (status = 400, description = "Not a UUID", body = ErrorBody),
        (status = 401, description = "Missing, unknown or revoked token", body = ErrorBody),
        (status = 403, description = "A worker token", body = ErrorBody),
        (status = 404, description = "No such job, or not the caller's", body = ErrorBody),
        (status = 503, description = "Too many downloads streaming at once; try again", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn download_logs(
    State(state): State<AppState>,
    User(caller): User,
    ApiPath(id): ApiPath<JobId>,
) -> Result<Response, ApiError> {
    visible_job(&state, &caller, id).await?;
    // Each download holds a file and a blocking thread while it streams.
    let permit = state.downloads.clone().try_acquire_owned().map_err(|_| {
        ApiError::Busy(format!(
            "{} log downloads are already streaming; try again in a moment",
            super::CONCURRENT_DOWNLOADS
        ))
    })?;
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
            // The permit goes when the stream does: sent, or dropped with a
            // client that stalled.
            let stream = futures_util::StreamExt::map(stream, move |chunk| {
                let _held = &permit;
                chunk
            });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(tail: Option<u32>, offset: Option<u64>, before: Option<u64>) -> Option<LogRead> {
        LogRead::from_query(&LogsQuery {
            tail,
            offset,
            before,
        })
        .ok()
    }

    #[test]
    fn log_queries_are_one_of_three_reads() {
        let default = logs::DEFAULT_TAIL_LINES;
        assert_eq!(read(None, None, None), Some(LogRead::Tail(default)));
        assert_eq!(read(Some(5), None, None), Some(LogRead::Tail(5)));
        assert_eq!(read(None, Some(7), None), Some(LogRead::From(7)));
        assert_eq!(
            read(Some(5), None, Some(9)),
            Some(LogRead::Before {
                before: 9,
                lines: 5
            })
        );
        assert_eq!(
            read(None, None, Some(9)),
            Some(LogRead::Before {
                before: 9,
                lines: default
            })
        );
        assert_eq!(read(Some(5), Some(7), None), None);
        assert_eq!(read(None, Some(7), Some(9)), None);
        assert_eq!(read(Some(10_001), None, Some(9)), None);
        assert_eq!(read(None, None, Some(u64::MAX)), None);
    }
}
