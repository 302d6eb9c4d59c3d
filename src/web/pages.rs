//! The HTML side: the login page, the jobs page, sign-in and sign-out, and
//! the embedded static files.
//!
//! Everything the browser loads is compiled into the binary from
//! `src/web/assets/`: no CDN, no build step, nothing fetched at run time.
//! Sign-in is a plain form POST, so the token goes from the input field to
//! this server without passing through any script.

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::WebState;
use super::session::{self, Session};
use crate::client::ClientError;
use crate::domain::Role;

const LOGIN_HTML: &str = include_str!("assets/login.html");
const JOBS_HTML: &str = include_str!("assets/jobs.html");

/// One embedded file under `/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("assets/app.css"),
    },
    Asset {
        name: "jobs.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/jobs.js"),
    },
    Asset {
        name: "workers.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/workers.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("assets/favicon.svg"),
    },
];

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                // Revalidate each time: a new binary may bring new files
                // under the same names.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            a.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

/// `GET /`: the jobs page, or the way to sign in.
pub async fn index(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let session = session::session_id(&headers).and_then(|id| state.sessions.get(&id));
    if let Some(session) = session {
        if session.user.role == Role::Admin {
            // The Workers view is for admins: only they see its link.
            return Html(JOBS_HTML.replace(r#"id="nav-workers" hidden"#, r#"id="nav-workers""#))
                .into_response();
        }
        Html(JOBS_HTML).into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

/// `GET /login` query.
#[derive(Debug, Deserialize)]
pub struct LoginPageQuery {
    /// Set by the page when a request found the session gone.
    expired: Option<String>,
}

/// `GET /login`.
pub async fn login_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    query: Result<Query<LoginPageQuery>, QueryRejection>,
) -> Response {
    if signed_in(&state, &headers) {
        return Redirect::to("/").into_response();
    }
    let expired = query.is_ok_and(|Query(q)| q.expired.is_some());
    let notice = expired.then_some(Notice::Info(
        "Your session has ended. Sign in again to go on.".into(),
    ));
    login_html(StatusCode::OK, notice)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /login`: checks the token with the API and starts a session.
pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let token = match &form {
        Ok(Form(f)) => f.token.trim(),
        Err(_) => "",
    };
    if token.is_empty() {
        return login_html(
            StatusCode::BAD_REQUEST,
            Some(Notice::Error("Enter a token to sign in.".into())),
        );
    }
    let client = state.api.with_token(token);
    let user = match client.whoami().await {
        Ok(user) => user,
        Err(e) if e.status() == Some(StatusCode::UNAUTHORIZED) => {
            return login_html(
                StatusCode::UNAUTHORIZED,
                Some(Notice::Error(
                    "The API did not accept this token: it is unknown or has been revoked. \
                     Check for a typo, or create one with `jobctl token create`."
                        .into(),
                )),
            );
        }
        Err(e) => {
            let status = match e {
                ClientError::Api { status, .. } if status.is_client_error() => status,
                _ => StatusCode::BAD_GATEWAY,
            };
            return login_html(
                status,
                Some(Notice::Error(format!("Cannot check the token: {e}"))),
            );
        }
    };
    if user.role == Role::Worker {
        return login_html(
            StatusCode::FORBIDDEN,
            Some(Notice::Error(
                "This is a worker token: it runs jobs but cannot see them. \
                 Sign in with a user or admin token."
                    .into(),
            )),
        );
    }
    tracing::info!(user = %user.name, role = %user.role, "signed in");
    let id = state.sessions.create(Session { client, user });
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(&id, session::is_https(&headers)),
    );
    response
}

/// `POST /logout`: ends the session here and in the browser.
pub async fn logout(State(state): State<WebState>, headers: HeaderMap) -> Response {
    if let Some(id) = session::session_id(&headers) {
        state.sessions.remove(&id);
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::clear_cookie(session::is_https(&headers)),
    );
    response
}

/// `GET /healthz`, for load balancers and scripts.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Pages that are neither a route nor a file.
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Html(NOT_FOUND_HTML)).into_response()
}

const NOT_FOUND_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>Not found · jobctl</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\
    <body class=\"login-page\"><main class=\"login-card\"><h1 class=\"brand\">jobctl</h1>\
    <p>There is no page here. <a href=\"/\">Go to the jobs</a>.</p></main></body></html>";

fn signed_in(state: &WebState, headers: &HeaderMap) -> bool {
    session::session_id(headers).is_some_and(|id| state.sessions.get(&id).is_some())
}

/// A message on the login page.
enum Notice {
    Info(String),
    Error(String),
}

fn login_html(status: StatusCode, notice: Option<Notice>) -> Response {
    let block = match notice {
        None => String::new(),
        Some(Notice::Info(text)) => {
            format!(
                "<p class=\"notice notice-info\" role=\"status\">{}</p>",
                escape_html(&text)
            )
        }
        Some(Notice::Error(text)) => format!(
            "<p class=\"notice notice-error\" id=\"login-error\" role=\"alert\">{}</p>",
            escape_html(&text)
        ),
    };
    let mut response = (status, Html(LOGIN_HTML.replace("{{notice}}", &block))).into_response();
    // A failed sign-in answered 401 is still a page to show, not a prompt
    // for HTTP authentication.
    response.headers_mut().remove(header::WWW_AUTHENTICATE);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Text made safe to put between HTML tags or in a quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `onclick=`-like attribute anywhere in the page.
    fn has_event_handler(page: &str) -> bool {
        page.match_indices(" on").any(|(i, _)| {
            let rest = &page[i + 3..];
            let name_len = rest.chars().take_while(char::is_ascii_lowercase).count();
            name_len > 0 && rest[name_len..].starts_with('=')
        })
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<img src=x onerror="alert('1')">&"#),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn the_login_page_has_a_slot_for_its_notice_and_no_inline_script() {
        assert!(LOGIN_HTML.contains("{{notice}}"));
        for page in [LOGIN_HTML, JOBS_HTML, NOT_FOUND_HTML] {
            // The CSP forbids inline code; it must not be needed.
            assert!(!page.contains("<script>"), "inline script");
            assert!(!page.contains("<style"), "inline style element");
            assert!(!page.contains(" style="), "inline style attribute");
            assert!(!has_event_handler(page), "inline event handler");
            assert!(
                !page.contains("http://") && !page.contains("https://"),
                "external URL"
            );
        }
    }
}
