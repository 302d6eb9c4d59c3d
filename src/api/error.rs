//! The one place where failures become HTTP answers.
//!
//! Every error answer has the body `{"error": "…"}`. A 401 also carries
//! `WWW-Authenticate: Bearer`. A 500 says nothing about its cause to the
//! client; the cause chain goes to the api's log instead.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::protocol::ErrorBody;
use crate::store::StoreError;

/// What a 503 says: nothing was recorded; the cause is in the api's log.
pub const UNAVAILABLE: &str = "the database cannot be written right now (full, read-only or \
     unreachable); nothing was recorded — try again later (the api's log has the details)";

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too much is going on (downloads streaming): 503, try again.
    #[error("{0}")]
    Busy(String),
    /// The database cannot be written right now (full, read-only,
    /// unreachable): 503, with the cause in the api's log.
    #[error("service unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Busy(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the caller is told; an internal cause is logged here instead.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                "internal server error; the api's log has the details".to_string()
            }
            ApiError::Unavailable(cause) => {
                tracing::error!(error = format!("{cause:#}"), "the database is unavailable");
                UNAVAILABLE.to_string()
            }
            other => other.to_string(),
        }
    }

    /// Builds the error for a rejected extractor from its status and text.
    pub fn from_rejection(status: StatusCode, text: String) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(text),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
            s if s.is_server_error() => ApiError::Internal(anyhow::anyhow!(text)),
            // 422 included: a body that parses but does not fit is a bad request.
            _ => ApiError::BadRequest(text),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::JobNotFound(id) => ApiError::NotFound(format!("job {id} not found")),
            StoreError::Conflict(msg) => ApiError::Conflict(msg),
            StoreError::TokenExists(_) => ApiError::Conflict(e.to_string()),
            other if other.is_unavailable() => ApiError::Unavailable(other.into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.public_message();
        let mut response = (status, Json(ErrorBody { error: message })).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"jobctl\""),
            );
        }
        response
    }
}
