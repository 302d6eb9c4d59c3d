//! `jobctl web`: the browser UI, a thin client of the REST API.
//!
//! It never touches the database or the log files: every job and every byte
//! of log comes from the API, called with the token of the signed-in user.
//! That token lives only in a server-side session ([`session`]); the page
//! holds an `HttpOnly` cookie and talks to the JSON routes under `/ui/api/`
//! ([`proxy`]). The page itself — HTML, CSS and plain JavaScript — is
//! embedded in the binary ([`pages`]). Security headers and the same-origin
//! check on state-changing requests are in [`security`].
//!
//! [`WebServer::build`] binds (port 0 works, which is how the tests run it)
//! and [`WebServer::run_until_stopped`] serves until its shutdown token fires.

mod error;
mod fleet;
mod pages;
mod proxy;
mod security;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::set_header::SetResponseHeaderLayer;

pub use error::WebError;
pub use proxy::{SessionInfo, SubmitForm};
pub use security::CONTENT_SECURITY_POLICY;
pub use session::COOKIE_NAME;

use crate::client::ApiClient;
use session::Sessions;

/// Largest request body accepted: a sign-in form or a job to submit.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// How the web UI runs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The API's base URL, as this server reaches it.
    pub api_url: String,
    /// How often the page refreshes a live log and, while a job is pending
    /// or running, the job list.
    pub refresh_interval: Duration,
    /// A session ends after this long without a request.
    pub session_idle_timeout: Duration,
    /// Browser connections served at once (see [`crate::server`]).
    pub max_connections: usize,
}

impl WebConfig {
    /// Production defaults: a 5 s refresh, sessions that end after 12 idle
    /// hours, up to 1024 connections.
    pub fn new(api_url: String) -> Self {
        WebConfig {
            api_url,
            refresh_interval: Duration::from_secs(5),
            session_idle_timeout: Duration::from_secs(12 * 3600),
            max_connections: 1024,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct WebState {
    api_url: Arc<str>,
    /// Signed out; each session speaks through it with its own token.
    api: ApiClient,
    refresh_interval: Duration,
    sessions: Sessions,
}

impl WebState {
    /// State for `config`; fails on an API URL that cannot be used.
    pub fn new(config: &WebConfig) -> anyhow::Result<Self> {
        // Checks the URL once here rather than at every sign-in.
        let api = ApiClient::new(&config.api_url, "")?;
        Ok(WebState {
            api_url: config.api_url.as_str().into(),
            api,
            refresh_interval: config.refresh_interval,
            sessions: Sessions::new(config.session_idle_timeout),
        })
    }
}

/// The whole HTTP surface: testable with `tower::ServiceExt::oneshot`.
pub fn router(state: WebState) -> Router {
    let ui_api = Router::new()
        .route("/session", get(proxy::session_info))
        .route("/jobs", get(proxy::list_jobs).post(proxy::submit_job))
        .route("/jobs/{id}", get(proxy::get_job))
        .route("/jobs/{id}/cancel", post(proxy::cancel_job))
        .route("/jobs/{id}/logs", get(proxy::job_logs))
        .route("/jobs/{id}/logs/download", get(proxy::download_logs))
        .route("/jobs/{id}/logs/search", get(proxy::search_logs))
        .route("/workers", get(fleet::list))
        .fallback(any(proxy::no_route));
    let [csp, nosniff, referrer, frames] = security::header_layers();
    Router::new()
        .route("/", get(pages::index))
        .route("/jobs/{id}", get(pages::job_page))
        .route("/workers", get(fleet::page))
        .route("/login", get(pages::login_page).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/assets/{name}", get(pages::asset))
        .route("/healthz", get(pages::healthz))
        .nest("/ui/api", ui_api)
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(security::refuse_cross_site))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            crate::api::REQUEST_BODY_TIMEOUT,
        ))
        // Pages and data are per user and change all the time: never stored
        // by a browser or proxy. Assets say otherwise for themselves.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(csp)
        .layer(nosniff)
        .layer(referrer)
        .layer(frames)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// A bound, ready-to-serve web UI.
pub struct WebServer {
    listener: TcpListener,
    state: WebState,
    max_connections: usize,
}

impl WebServer {
    /// Checks the configuration and binds `listen`.
    pub async fn build(config: WebConfig, listen: SocketAddr) -> anyhow::Result<Self> {
        let state = WebState::new(&config)?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        Ok(WebServer {
            listener,
            state,
            max_connections: config.max_connections,
        })
    }

    /// The address actually bound (the port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` fires, then finishes in-flight requests
    /// (for a few seconds at most).
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), api = %self.state.api_url, "web UI listening");
        let limits =
            crate::server::ServeLimits::new(crate::api::connection_cap(self.max_connections));
        crate::server::serve(self.listener, router(self.state), limits, shutdown)
            .await
            .context("the web server failed")
    }
}

/// The URL a browser on this machine opens for a server bound to `addr`:
/// a wildcard address is reached through loopback.
pub fn browse_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(ip, addr.port()))
}

#[cfg(test)]
mod tests;
