//! Request extractors that carry the API's checks, so a handler cannot
//! forget one: the caller's role is a type ([`User`], [`Admin`], [`Worker`]),
//! a job id in the path is a [`JobId`] by the time the handler runs
//! ([`ApiPath`]), and a malformed body, a bad query, a bad path or a missing
//! token answers the same `{"error": …}` body as everything else.
//!
//! Extractors run in argument order: put the caller first, so a request
//! without a token is a 401 whatever else is wrong with it.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::auth::Caller;
use crate::domain::{JobId, Role};
use serde::de::DeserializeOwned;

/// A JSON body; syntax and shape errors answer 400, oversize 413, a NUL
/// character in any string 400 (see [`NulFreeJson`]).
#[derive(FromRequest)]
#[from_request(via(NulFreeJson), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A query string; anything that does not parse answers 400, and so does a
/// NUL character in any value (see [`NulFreeQuery`]).
#[derive(FromRequestParts)]
#[from_request(via(NulFreeQuery), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Why a string with a NUL character is refused at the door: PostgreSQL
/// cannot store one in text (it would answer 500), SQLite would store it,
/// and a command line or environment cannot carry one at all. Checked here,
/// once for every string field of every body and query, present and future.
const NUL_REFUSED: &str = "strings must not contain NUL characters (\\u0000)";

/// [`axum::Json`] that first refuses any string holding a NUL character.
pub struct NulFreeJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for NulFreeJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::from_rejection(r.status(), r.body_text()))?;
        if has_escaped_nul(&bytes) {
            return Err(ApiError::BadRequest(format!(
                "invalid request body: {NUL_REFUSED}"
            )));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(NulFreeJson(value))
    }
}

/// `application/json`, or any `application/…+json`, as [`axum::Json`] takes.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether JSON text holds a `\u0000` escape — the only way a NUL can be
/// in a JSON string (a raw one is invalid JSON). An escape is a backslash
/// preceded by an even number of backslashes: in `\\u0000` the first
/// backslash escapes the second, and the `u0000` is plain text.
fn has_escaped_nul(json: &[u8]) -> bool {
    memchr::memmem::find_iter(json, b"u0000").any(|at| {
        let backslashes = json[..at].iter().rev().take_while(|&&b| b == b'\\').count();
        backslashes % 2 == 1
    })
}

/// [`axum::extract::Query`] that first refuses any value holding a NUL
/// character (`%00`).
pub struct NulFreeQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for NulFreeQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // `%00` is the only way to put a NUL in a query: `%2500` decodes to
        // the text "%00", and does not contain it.
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(ApiError::BadRequest(format!(
                "invalid query: {NUL_REFUSED}"
            )));
        }
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(NulFreeQuery(value))
    }
}

/// Path parameters, e.g. `ApiPath(id): ApiPath<JobId>`: anything that is not
/// a UUID answers 400 before the handler runs, so no lookup (and no file
/// path) is ever made from it.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::from_rejection(rejection.status(), json_rejection_text(&rejection))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(query_rejection_text(&rejection))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        // A 500 when a handler asks for parameters its route does not have.
        ApiError::from_rejection(rejection.status(), path_rejection_text(&rejection))
    }
}

/// What a rejected JSON body says, without axum's prefixes.
fn json_rejection_text(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::JsonDataError(e) => format!("invalid request body: {}", source_text(e)),
        JsonRejection::JsonSyntaxError(e) => format!("malformed JSON: {}", source_text(e)),
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with Content-Type: application/json".to_string()
        }
        _ => rejection.body_text(),
    }
}

/// What a rejected query string says; see [`json_rejection_text`].
fn query_rejection_text(rejection: &QueryRejection) -> String {
    match rejection {
        QueryRejection::FailedToDeserializeQueryString(e) => {
            format!("invalid query: {}", source_text(e))
        }
        _ => rejection.body_text(),
    }
}

/// What a rejected path says: the parser's own words, e.g. "invalid job id …".
fn path_rejection_text(rejection: &PathRejection) -> String {
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => source_text(e),
        other => other.body_text(),
    }
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

/// Any valid token, whatever its role (`GET /whoami`).
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
        state
            .tokens
            .authenticate(state.store.as_ref(), token)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("invalid or revoked token".into()))
    }
}

/// Declares a caller type that only tokens of the given roles can be: any
/// other valid token answers 403 with `$refusal`.
macro_rules! caller_with_role {
    ($(#[$doc:meta])* $name:ident: $($role:path)|+, $refusal:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                let caller = Caller::from_request_parts(parts, state).await?;
                match caller.role {
                    $($role)|+ => Ok($name(caller)),
                    _ => Err(ApiError::Forbidden($refusal.into())),
                }
            }
        }
    };
}

caller_with_role!(
    /// A user or an admin: the job routes. What the caller may see is
    /// [`Caller::can_see`]'s call (users their own jobs, admins all).
    User: Role::User | Role::Admin,
    "worker tokens may only claim jobs, heartbeat them and report their status"
);

caller_with_role!(
    /// An admin: routes about every user's jobs or the whole service.
    Admin: Role::Admin,
    "this needs an admin token (`jobctl token create --role admin`)"
);

caller_with_role!(
    /// A worker: claim, heartbeat, status.
    Worker: Role::Worker,
    "only worker tokens may claim jobs or report on them"
);

impl Caller {
    /// Whether this caller may see a job owned by `owner`.
    pub fn can_see(&self, owner: &str) -> bool {
        self.role == Role::Admin || self.name == owner
    }
}

/// Parses a path segment as a job id: 400 for anything but a UUID. For paths
/// no route matched; routed handlers take an [`ApiPath<JobId>`].
pub fn job_id(raw: &str) -> Result<JobId, ApiError> {
    JobId::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::store;

    /// A store with one token of each role, and a router whose routes each
    /// take one caller type.
    async fn app() -> (Router, [(Role, String); 3], tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("jobctl.db").display());
        let store = store::open(&url).await.unwrap();
        let mut tokens = Vec::new();
        for role in [Role::User, Role::Admin, Role::Worker] {
            let secret = crate::cmd::token::create(store.as_ref(), role.as_str(), role)
                .await
                .unwrap();
            tokens.push((role, secret));
        }
        let state = AppState::new(
            store,
            dir.path().to_path_buf(),
            std::time::Duration::from_secs(60),
        );
        let router = Router::new()
            .route("/user", get(|User(c): User| async move { c.name }))
            .route("/admin", get(|Admin(c): Admin| async move { c.name }))
            .route("/worker", get(|Worker(c): Worker| async move { c.name }))
            .route(
                "/job/{id}",
                get(|ApiPath(id): ApiPath<JobId>| async move { id.to_string() }),
            )
            .with_state(state);
        (router, tokens.try_into().unwrap(), dir)
    }

    async fn status(router: &Router, path: &str, token: Option<&str>) -> StatusCode {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let resp = router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        resp.status()
    }

    #[test]
    fn only_escaped_nuls_count() {
        assert!(has_escaped_nul(br#"{"name": "a\u0000b"}"#));
        assert!(has_escaped_nul(br#"{"a\u0000": 1}"#), "keys too");
        assert!(
            has_escaped_nul(br#"["\\\u0000"]"#),
            "an escaped backslash, then NUL"
        );
        assert!(!has_escaped_nul(br#"{"name": "a\\u0000b"}"#), "text u0000");
        assert!(!has_escaped_nul(br#"{"name": "u0000"}"#));
    }

    #[tokio::test]
    async fn each_caller_type_admits_only_its_roles() {
        let (router, tokens, _dir) = app().await;
        for (role, token) in &tokens {
            let expect = |ok: bool| {
                if ok {
                    StatusCode::OK
                } else {
                    StatusCode::FORBIDDEN
                }
            };
            assert_eq!(
                status(&router, "/user", Some(token)).await,
                expect(*role != Role::Worker),
                "{role} on a User route"
            );
            assert_eq!(
                status(&router, "/admin", Some(token)).await,
                expect(*role == Role::Admin),
                "{role} on an Admin route"
            );
            assert_eq!(
                status(&router, "/worker", Some(token)).await,
                expect(*role == Role::Worker),
                "{role} on a Worker route"
            );
        }
        for path in ["/user", "/admin", "/worker"] {
            assert_eq!(status(&router, path, None).await, StatusCode::UNAUTHORIZED);
            assert_eq!(
                status(&router, path, Some("jobctl_000000000000_00")).await,
                StatusCode::UNAUTHORIZED
            );
        }
    }

    #[tokio::test]
    async fn a_job_id_path_answers_400_with_the_error_body_unless_a_uuid() {
        let (router, _, _dir) = app().await;
        let id = JobId::new();
        assert_eq!(
            status(&router, &format!("/job/{id}"), None).await,
            StatusCode::OK
        );
        let resp = router
            .oneshot(Request::get("/job/..%2Fx").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: crate::protocol::ErrorBody = serde_json::from_slice(&body).unwrap();
        assert!(
            body.error.starts_with("invalid job id \"../x\""),
            "{}",
            body.error
        );
    }
}
