//! `GET /metrics` and the middleware that counts every request.

use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::extract::Admin;
use crate::protocol::ErrorBody;

/// Prometheus metrics of this api; the job and worker gauges come from the
/// database and are the same on every replica.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, description = "Missing, unknown or revoked token (unless --metrics-public)", body = ErrorBody),
        (status = 403, description = "Not an admin token (unless --metrics-public)", body = ErrorBody),
        (status = 404, description = "This api records no metrics", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn scrape(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if !state.metrics_public {
        let (mut parts, _) = request.into_parts();
        Admin::from_request_parts(&mut parts, &state).await?;
    }
    let Some(handle) = &state.metrics else {
        return Err(ApiError::NotFound("this api records no metrics".into()));
    };
    let jobs = state.store.count_jobs().await?;
    let workers: Vec<_> = state
        .store
        .list_workers()
        .await?
        .into_iter()
        .map(|w| super::fleet::worker_info(w, state.lease_timeout).state)
        .collect();
    crate::metrics::set_fleet(&jobs, &workers);
    Ok((
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        handle.render(),
    )
        .into_response())
}

/// The route template a request matched, handed from the inner layer (which
/// sees it) to [`count_request`] (which also sees unrouted requests).
#[derive(Clone)]
struct Route(String);

/// Inside the router: notes the matched route template on the response.
pub async fn note_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| Route(p.as_str().to_string()));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Outermost: counts the request by route template (never the raw path,
/// which would make one series per job), method and status; times log
/// reads and counts the bytes they send.
pub async fn count_request(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<Route>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_owned();
    metrics::counter!(
        "jobctl_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    if !route.starts_with("/jobs/{id}/logs") || !response.status().is_success() {
        return response;
    }
    metrics::histogram!("jobctl_log_read_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    let bytes = metrics::counter!("jobctl_log_read_bytes_total", "route" => route);
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(length) = length {
        bytes.increment(length);
        return response;
    }
    // A streamed download: count each chunk as it goes out.
    use futures_util::StreamExt;
    let (parts, body) = response.into_parts();
    let counted = body.into_data_stream().inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            bytes.increment(chunk.len() as u64);
        }
    });
    Response::from_parts(parts, axum::body::Body::from_stream(counted))
}
