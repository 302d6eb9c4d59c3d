//! The Workers view for admins: the page at `/workers` and its data at
//! `/ui/api/workers`, the API's `GET /workers` through the session.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::WebState;
use super::error::WebError;
use super::proxy::SignedIn;
use super::session;
use crate::protocol::WorkerList;

const WORKERS_HTML: &str = include_str!("assets/workers.html");

/// `GET /workers`: the page (its script asks for the data, and says so when
/// the signed-in token is not an admin's).
pub async fn page(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let signed_in =
        session::session_id(&headers).is_some_and(|id| state.sessions.get(&id).is_some());
    if signed_in {
        Html(WORKERS_HTML).into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

/// `GET /ui/api/workers`: the fleet (admins; others get the API's 403).
pub async fn list(
    State(state): State<WebState>,
    signed: SignedIn,
) -> Result<Json<WorkerList>, WebError> {
    Ok(Json(
        signed.api(&state, signed.session.client.workers().await)?,
    ))
}
