//! The HTML side: the login page, the jobs page, sign-in and sign-out, and
//! the embedded static files.
//!
//! Everything the browser loads is compiled into the binary from
//! `src/web/assets/`: no CDN, no build step, nothing fetched at run time.
//! Sign-in is a plain form POST, so the token goes from the input field to
//! this server without passing through any script.

use std::sync::LazyLock;

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::WebState;
use super::session::{self, Session};
use crate::client::ClientError;
use crate::domain::{JobId, Role};

const LOGIN_HTML: &str = include_str!("assets/login.html");
/// The log panel both the jobs page (a running job's expander) and a job's
/// own page show, kept in one file and put in at each `{{log-panel}}`.
const LOG_PANEL_HTML: &str = include_str!("assets/log-panel.html");

/// The jobs page, its log panel in place.
static JOBS_HTML: LazyLock<String> =
    LazyLock::new(|| with_log_panel(include_str!("assets/jobs.html")));
/// A job's own page, its log panel in place.
static JOB_HTML: LazyLock<String> =
    LazyLock::new(|| with_log_panel(include_str!("assets/job.html")));

fn with_log_panel(page: &str) -> String {
    assert!(
        page.contains("{{log-panel}}"),
        "a page without its log panel"
    );
    page.replace("{{log-panel}}", LOG_PANEL_HTML.trim_end())
}

/// One embedded file under `/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// A JavaScript module under `/assets/`.
const fn module(name: &'static str, body: &'static [u8]) -> Asset {
    Asset {
        name,
        content_type: "text/javascript; charset=utf-8",
        body,
    }
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("assets/app.css"),
    },
    // The page's code, as ES modules (same-origin, so the CSP allows them).
    module("list.js", include_bytes!("assets/list.js")),
    module("jobpage.js", include_bytes!("assets/jobpage.js")),
    module("common.js", include_bytes!("assets/common.js")),
    module("http.js", include_bytes!("assets/http.js")),
    module("format.js", include_bytes!("assets/format.js")),
    module("ansi.js", include_bytes!("assets/ansi.js")),
    module("lines.js", include_bytes!("assets/lines.js")),
    module("logview.js", include_bytes!("assets/logview.js")),
    module("logpanel.js", include_bytes!("assets/logpanel.js")),
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
        Html(JOBS_HTML.as_str()).into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

/// `GET /jobs/{id}`: a job's own page. A signed-out visitor goes through the
/// login page and comes back here.
pub async fn job_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<JobId>() else {
        return not_found().await;
    };
    if signed_in(&state, &headers) {
        Html(JOB_HTML.as_str()).into_response()
    } else {
        // A job id is hex digits and dashes: nothing to escape in a query.
        Redirect::to(&format!("/login?next=/jobs/{id}")).into_response()
    }
}

/// `GET /login` query.
#[derive(Debug, Deserialize)]
pub struct LoginPageQuery {
    /// Set by the page when a request found the session gone.
    expired: Option<String>,
    /// Where to go once signed in: a path of this site.
    next: Option<String>,
}

/// `GET /login`.
pub async fn login_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    query: Result<Query<LoginPageQuery>, QueryRejection>,
) -> Response {
    let query = query.ok().map(|Query(q)| q);
    let expired = query.as_ref().is_some_and(|q| q.expired.is_some());
    let next = safe_next(query.as_ref().and_then(|q| q.next.as_deref()));
    if signed_in(&state, &headers) {
        return Redirect::to(next.unwrap_or("/")).into_response();
    }
    let notice = expired.then_some(Notice::Info(
        "Your session has ended. Sign in again to go on.".into(),
    ));
    login_html(StatusCode::OK, notice, next)
}

/// `next` when it is a path of this site (`/jobs/…`), never another site
/// (`//evil.example`, `https://…`, `/\\evil.example`) or anything odd.
pub fn safe_next(next: Option<&str>) -> Option<&str> {
    let next = next?;
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && !next
            .chars()
            .any(|c| c.is_control() || c == '\\' || c.is_whitespace());
    ok.then_some(next)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    /// Where to go once signed in (see [`safe_next`]).
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: checks the token with the API and starts a session.
pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let (token, next) = match &form {
        Ok(Form(f)) => (f.token.trim(), safe_next(f.next.as_deref())),
        Err(_) => ("", None),
    };
    if token.is_empty() {
        return login_html(
            StatusCode::BAD_REQUEST,
            Some(Notice::Error("Enter a token to sign in.".into())),
            next,
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
                next,
            );
        }
        Err(ClientError::Api { status, message }) if status.is_client_error() => {
            return login_html(
                status,
                Some(Notice::Error(format!("Cannot check the token: {message}"))),
                next,
            );
        }
        Err(e) => {
            // The API's address is this server's business: a visitor who is
            // not even signed in learns only that the service is down.
            tracing::warn!(api = %state.api_url, error = %e, "cannot check a token at sign-in");
            return login_html(
                StatusCode::BAD_GATEWAY,
                Some(Notice::Error(
                    "The job service is unreachable, so the token cannot be checked. \
                     Try again in a moment; if it persists, tell the operator."
                        .into(),
                )),
                next,
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
            next,
        );
    }
    tracing::info!(user = %user.name, role = %user.role, "signed in");
    let id = state.sessions.create(Session { client, user });
    let mut response = Redirect::to(next.unwrap_or("/")).into_response();
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

fn login_html(status: StatusCode, notice: Option<Notice>, next: Option<&str>) -> Response {
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
    let next = next
        .map(|n| {
            format!(
                "<input type=\"hidden\" name=\"next\" value=\"{}\">",
                escape_html(n)
            )
        })
        .unwrap_or_default();
    let page = LOGIN_HTML
        .replace("{{notice}}", &block)
        .replace("{{next}}", &next);
    let mut response = (status, Html(page)).into_response();
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
        assert!(LOGIN_HTML.contains("{{next}}"));
        for page in [LOGIN_HTML, &JOBS_HTML, &JOB_HTML, NOT_FOUND_HTML] {
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

    #[test]
    fn only_paths_of_this_site_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/jobs/abc")), Some("/jobs/abc"));
        assert_eq!(
            safe_next(Some("/?status=failed&q=x")),
            Some("/?status=failed&q=x")
        );
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "",
            "/a\nb",
            "/\\/x",
            "/ //x",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn every_module_the_pages_import_is_served() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for line in text.lines().filter(|l| l.contains(" from './")) {
                let name = line
                    .split("from './")
                    .nth(1)
                    .unwrap()
                    .split('\'')
                    .next()
                    .unwrap();
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} imports {name}, which is not served",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn both_pages_get_the_log_panel() {
        for page in [&*JOBS_HTML, &*JOB_HTML] {
            assert!(page.contains(r#"<template id="log-panel-template">"#));
            assert!(!page.contains("{{"), "a slot left unfilled");
        }
    }

    /// The colour variables of a `:root { … }` block.
    fn colour_vars(block: &str) -> std::collections::HashMap<String, String> {
        block
            .split(';')
            .filter_map(|decl| {
                let (name, value) = decl.rsplit_once(':')?;
                let name = name.trim().rsplit(char::is_whitespace).next()?;
                let value = value.trim();
                (name.starts_with("--") && value.starts_with('#') && value.len() == 7)
                    .then(|| (name.to_string(), value.to_string()))
            })
            .collect()
    }

    /// WCAG 2 contrast ratio of two `#rrggbb` colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let luminance = |hex: &str| {
            let channel = |i: usize| {
                let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
                if c <= 0.03928 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
        };
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn text_has_at_least_4_5_to_1_contrast_in_both_colour_schemes() {
        let css = include_str!("assets/app.css");
        let light_start = css.find(":root {").unwrap();
        let light_end = light_start + css[light_start..].find('}').unwrap();
        let light = colour_vars(&css[light_start..light_end]);
        let dark_at = css.find("@media (prefers-color-scheme: dark)").unwrap();
        let dark_start = dark_at + css[dark_at..].find(":root {").unwrap();
        let dark_end = dark_start + css[dark_start..].find('}').unwrap();
        let mut dark = light.clone();
        dark.extend(colour_vars(&css[dark_start..dark_end]));
        // Terminal colours on the log's background.
        let ansi: Vec<(String, String)> = (0..16)
            .map(|n| {
                let rule = format!(".fg{n} {{ color: ");
                let at = css.find(&rule).unwrap() + rule.len();
                (format!("fg{n}"), css[at..at + 7].to_string())
            })
            .collect();
        let pairs = [
            ("--text", "--surface"),
            ("--text", "--bg"),
            ("--muted", "--surface"),
            ("--muted", "--bg"),
            ("--accent", "--surface"),
            ("--accent", "--bg"),
            ("#ffffff", "--accent-bg"),
            ("#ffffff", "--accent-bg-strong"),
            ("#ffffff", "--danger-bg"),
            ("#ffffff", "--danger-bg-strong"),
            ("--danger", "--surface"),
            ("--failed-fg", "--surface"),
            ("--completed-fg", "--surface"),
            ("--pending-fg", "--surface"),
            ("--pending-fg", "--pending-bg"),
            ("--running-fg", "--running-bg"),
            ("--completed-fg", "--completed-bg"),
            ("--failed-fg", "--failed-bg"),
            ("--cancelled-fg", "--cancelled-bg"),
            ("--mark-text", "--mark-bg"),
            ("--log-text", "--log-bg"),
        ];
        for (scheme, vars) in [("light", &light), ("dark", &dark)] {
            let colour = |name: &str| {
                if name.starts_with('#') {
                    name.to_string()
                } else {
                    vars.get(name)
                        .unwrap_or_else(|| panic!("{name} is not set"))
                        .clone()
                }
            };
            for (fg, bg) in pairs {
                let ratio = contrast(&colour(fg), &colour(bg));
                assert!(ratio >= 4.5, "{scheme}: {fg} on {bg} is {ratio:.2}:1");
            }
            for (name, fg) in &ansi {
                let ratio = contrast(fg, &colour("--log-bg"));
                assert!(ratio >= 4.5, "{scheme}: .{name} on the log is {ratio:.2}:1");
            }
        }
        assert!(
            css.contains("input::placeholder { color: var(--muted); opacity: 1; }"),
            "placeholders are muted text at full strength"
        );
    }
}
