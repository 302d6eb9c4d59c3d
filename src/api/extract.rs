//! Request extractors whose failures are [`ApiError`]s, so a malformed body,
//! a bad query or a missing token gets the same `{"error": …}` shape as
//! everything else.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::auth::{self, Caller};
use crate::domain::{JobId, Role};

/// A JSON body; syntax and shape errors answer 400, oversize 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    let text = match &rejection {
        JsonRejection::JsonDataError(e) => format!("invalid request body: {}", source_text(e)),
        JsonRejection::JsonSyntaxError(e) => format!("malformed JSON: {}", source_text(e)),
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with Content-Type: application/json".to_string()
        }
        _ => rejection.body_text(),
    };
    ApiError::from_rejection(rejection.status(), text)
}

/// serde's message without axum's prefix.
fn source_text(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        last = s.to_string();
        cur = s.source();
    }
    last
}

/// A query string; anything that does not parse answers 400.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_error(rejection)),
        }
    }
}

fn query_error(rejection: QueryRejection) -> ApiError {
    let text = match &rejection {
        QueryRejection::FailedToDeserializeQueryString(e) => {
            format!("invalid query: {}", source_text(e))
        }
        _ => rejection.body_text(),
    };
    ApiError::BadRequest(text)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "missing token: send Authorization: Bearer TOKEN (create one with `jobctl token create`)"
                        .into(),
                )
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "malformed Authorization header: expected Bearer TOKEN".into(),
                )
            })?;
        auth::authenticate(state.store.as_ref(), token)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("invalid or revoked token".into()))
    }
}

impl Caller {
    /// Users and admins: the job routes.
    pub fn require_client(&self) -> Result<(), ApiError> {
        match self.role {
            Role::User | Role::Admin => Ok(()),
            Role::Worker => Err(ApiError::Forbidden(
                "worker tokens may only claim jobs, heartbeat them and report their status".into(),
            )),
        }
    }

    /// Workers: claim, heartbeat, status.
    pub fn require_worker(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Worker => Ok(()),
            _ => Err(ApiError::Forbidden(
                "only worker tokens may claim jobs or report on them".into(),
            )),
        }
    }

    /// Whether this caller may see a job owned by `owner`.
    pub fn can_see(&self, owner: &str) -> bool {
        self.role == Role::Admin || self.name == owner
    }
}

/// Parses a path segment as a job id: 400 for anything but a UUID.
pub fn job_id(raw: &str) -> Result<JobId, ApiError> {
    JobId::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}
