//! The one place where the web server's failures become HTTP answers.
//!
//! The page's JSON routes answer errors as `{"error": "…"}`, like the API.
//! An API error keeps its status when it is the user's (400, 404, 409…);
//! an API that cannot be reached or fails itself becomes 502, so the page can
//! tell "you asked for something wrong" from "the API is down".

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::client::ClientError;
use crate::protocol::ErrorBody;

/// An error answer of the web server.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No session, or one that has ended.
    #[error("not signed in (or the session has ended): sign in again")]
    NotSignedIn,
    /// The API no longer accepts the session's token (revoked).
    #[error("the API no longer accepts your token: sign in again")]
    TokenRefused,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    CrossSite(String),
    #[error("{0}")]
    NotFound(String),
    /// The API answered or failed to; see [`WebError::status`].
    #[error(transparent)]
    Api(ClientError),
}

impl WebError {
    /// The status the browser gets.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotSignedIn | WebError::TokenRefused => StatusCode::UNAUTHORIZED,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::CrossSite(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Api(e) => match e.status() {
                Some(s) if s.is_client_error() => s,
                // Unreachable, a 5xx, or an answer that is not the protocol:
                // the gateway's upstream failed.
                _ => StatusCode::BAD_GATEWAY,
            },
        }
    }
}

impl From<ClientError> for WebError {
    fn from(e: ClientError) -> Self {
        if e.status() == Some(StatusCode::UNAUTHORIZED) {
            WebError::TokenRefused
        } else {
            WebError::Api(e)
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "API call failed");
        }
        let message = match &self {
            WebError::Api(ClientError::Api { status, message }) if status.is_server_error() => {
                format!("the API failed: {message} (HTTP {})", status.as_u16())
            }
            other => other.to_string(),
        };
        (status, Json(ErrorBody { error: message })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_client_errors_keep_their_status_and_failures_are_bad_gateway() {
        let not_found = WebError::from(ClientError::Api {
            status: StatusCode::NOT_FOUND,
            message: "job x not found".into(),
        });
        assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
        let broken = WebError::from(ClientError::Api {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal".into(),
        });
        assert_eq!(broken.status(), StatusCode::BAD_GATEWAY);
        let down = WebError::from(ClientError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
            hint: crate::client::HINT_API,
        });
        assert_eq!(down.status(), StatusCode::BAD_GATEWAY);
        assert!(down.to_string().contains("cannot reach the API"));
        let revoked = WebError::from(ClientError::Api {
            status: StatusCode::UNAUTHORIZED,
            message: "invalid or revoked token".into(),
        });
        assert!(matches!(revoked, WebError::TokenRefused));
    }
}
