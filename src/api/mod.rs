//! `jobctl api`: the REST API, the only owner of job state.
//!
//! [`ApiServer::build`] opens the store and binds the listener (port 0 works,
//! which is how the tests run it); [`ApiServer::run_until_stopped`] serves
//! until the shutdown token fires, with the lease reaper and the retention
//! sweep running beside it. Nothing here keeps state between requests apart
//! from the store (and token rows trusted for a second, see
//! [`crate::auth::TokenCache`]), so replicas can share one PostgreSQL.

mod error;
mod extract;
mod fleet;
mod jobs;
mod logs;
mod maintenance;
mod metrics;
mod workers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use extract::{Admin, ApiJson, ApiPath, ApiQuery, User, Worker};

use crate::protocol::ErrorBody;
use crate::store::{self, JobStore};

/// Largest request body accepted (a job spec is far smaller).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a request's body may take to arrive.
pub const REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an oversized body is read and dropped before answering 413.
const DRAIN_CAP: u64 = 16 * 1024 * 1024;

/// How the api runs.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: String,
    /// Where job logs live; the same path on every worker.
    pub logs_dir: PathBuf,
    /// Finished jobs and their logs are deleted after this long.
    pub retention: Duration,
    /// How often the retention sweep runs.
    pub sweep_interval: Duration,
    /// A running job whose worker has not heartbeated for this long is failed.
    pub lease_timeout: Duration,
    /// How often expired leases are looked for.
    pub reap_interval: Duration,
    /// How long after the api starts the first look for expired leases
    /// comes: see [`default_reap_grace`].
    pub reap_grace: Duration,
    /// Connections served at once (fewer if the open-file limit is lower;
    /// see [`crate::server`]).
    pub max_connections: usize,
    /// Record Prometheus metrics and serve them at `/metrics`.
    pub metrics: bool,
    /// `/metrics` answers without a token (a scraper inside a private
    /// network); otherwise it takes an admin token.
    pub metrics_public: bool,
}

/// Connections the api serves at once unless told otherwise. The shipped
/// systemd unit's `LimitNOFILE` leaves room for these and
/// [`crate::server::RESERVED_FDS`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

impl ApiConfig {
    /// Production defaults for everything but the locations.
    pub fn new(database_url: String, logs_dir: PathBuf) -> Self {
        let lease_timeout = Duration::from_secs(60);
        ApiConfig {
            database_url,
            logs_dir,
            retention: Duration::from_secs(90 * 24 * 3600),
            sweep_interval: Duration::from_secs(3600),
            lease_timeout,
            reap_interval: default_reap_interval(lease_timeout),
            reap_grace: default_reap_grace(lease_timeout),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            metrics: true,
            metrics_public: false,
        }
    }
}

/// After the api (re)starts, no job counts as lost before every worker has
/// had the chance to reach it again: a full lease to heartbeat, and time
/// for a final report held back by the outage to arrive — a worker retries
/// those at most [`crate::retry::REPORT`]'s longest delay apart. Without
/// this, a job that completed during an outage longer than its lease would
/// be recorded `worker lost`.
pub fn default_reap_grace(lease_timeout: Duration) -> Duration {
    lease_timeout.max(crate::retry::REPORT.max_delay() + Duration::from_secs(5))
}

/// Looks for expired leases several times per lease, so a lost worker's jobs
/// end within a little more than one lease.
pub fn default_reap_interval(lease_timeout: Duration) -> Duration {
    (lease_timeout / 6).clamp(Duration::from_millis(100), Duration::from_secs(10))
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn JobStore>,
    /// Token rows read lately: most requests authenticate without a store
    /// query (see [`crate::auth::TokenCache`]).
    pub tokens: Arc<crate::auth::TokenCache>,
    /// When claiming workers were last noted as seen.
    pub seen_workers: Arc<workers::SeenWorkers>,
    pub logs_dir: PathBuf,
    pub lease_timeout: Duration,
    /// Log reads in flight at once: the file read and the encoding of the
    /// answer, never the sending of it (a slow reader must not hold a
    /// permit). The bound keeps blocking threads flat however many
    /// followers poll at the same moment. Reads are short, so waiting for a
    /// permit costs little.
    pub log_reads: Arc<tokio::sync::Semaphore>,
    /// The memory that encoded log answers may hold while they wait for
    /// their clients to take them, in KiB: the bound on what slow readers
    /// can pin, each for at most the server's write-stall timeout.
    pub answer_kib: Arc<tokio::sync::Semaphore>,
    /// Log downloads streaming at once; beyond it, 503.
    pub downloads: Arc<tokio::sync::Semaphore>,
    /// Renders the metrics at `/metrics`; `None` when none are recorded.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// `/metrics` without a token.
    pub metrics_public: bool,
}

impl AppState {
    /// The state of an api on `store`.
    pub fn new(store: Arc<dyn JobStore>, logs_dir: PathBuf, lease_timeout: Duration) -> Self {
        AppState {
            store,
            tokens: Arc::new(crate::auth::TokenCache::default()),
            seen_workers: Arc::new(workers::SeenWorkers::default()),
            logs_dir,
            lease_timeout,
            log_reads: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_LOG_READS)),
            answer_kib: Arc::new(tokio::sync::Semaphore::new(ANSWER_BUDGET_KIB)),
            downloads: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_DOWNLOADS)),
            metrics: None,
            metrics_public: false,
        }
    }
}

/// See [`AppState::log_reads`].
pub const CONCURRENT_LOG_READS: usize = 16;

/// See [`AppState::answer_kib`]: 128 MiB.
pub const ANSWER_BUDGET_KIB: usize = 128 * 1024;

/// See [`AppState::downloads`].
pub const CONCURRENT_DOWNLOADS: usize = 32;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "jobctl",
        description = "Run long jobs on worker machines and read their logs while they run."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "jobs", description = "Submit, list, show and cancel jobs"),
        (name = "logs", description = "Read job logs, live"),
        (name = "workers", description = "Worker tokens only: register, claim, heartbeat, status"),
        (name = "fleet", description = "Admins: the workers and what they run"),
        (name = "service", description = "Health and this description")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_default()
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// Answers every route of a kind may give, declared once here rather than
/// on each route: a JSON body can be too large (413) or not JSON (415);
/// anything that reaches the database can meet one that cannot be written
/// (503).
fn add_common_responses(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Content, Ref, ResponseBuilder};
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build()
    };
    for item in openapi.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            let responses = &mut op.responses.responses;
            if op.request_body.is_some() {
                responses
                    .entry("413".into())
                    .or_insert_with(|| error("Body too large").into());
                responses.entry("415".into()).or_insert_with(|| {
                    error("Not a JSON body (Content-Type: application/json)").into()
                });
            }
            if op.security.is_some() {
                responses.entry("503".into()).or_insert_with(|| {
                    error("The database cannot be written right now; try again").into()
                });
            }
        }
    }
}

/// Health check for load balancers: the api answers and can write to its
/// database (a full disk or a read-only database still answers reads).
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "The api is up and its database takes writes", body = String, content_type = "text/plain"),
        (status = 503, description = "The database cannot be written (full, read-only or unreachable)", body = ErrorBody),
    ))]
async fn healthz(State(state): State<AppState>) -> axum::response::Response {
    match state.store.ping().await {
        Ok(()) => "ok\n".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: the database cannot be written");
            let mut response = (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(ErrorBody {
                    error: format!("the database cannot be written: {e}"),
                }),
            )
                .into_response();
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
            response
        }
    }
}

/// The routes and the OpenAPI description built from the same list, so the
/// description cannot miss a route.
fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(jobs::submit_job, jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(logs::job_logs))
        .routes(routes!(logs::download_logs))
        .routes(routes!(logs::search_logs))
        .routes(routes!(workers::claim_job))
        .routes(routes!(workers::claim_jobs))
        .routes(routes!(workers::heartbeat))
        .routes(routes!(workers::report_status))
        .routes(routes!(workers::report_jobs))
        .routes(routes!(fleet::register_worker))
        .routes(routes!(fleet::list_workers))
        .routes(routes!(jobs::whoami))
        .routes(routes!(healthz))
        .routes(routes!(metrics::scrape))
        .split_for_parts()
}

/// The OpenAPI 3 description of every route, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = routes();
    add_common_responses(&mut doc);
    let serve_doc = utoipa::openapi::path::OperationBuilder::new()
        .tag("service")
        .summary(Some("This OpenAPI description"))
        .response(
            "200",
            utoipa::openapi::ResponseBuilder::new().description("OpenAPI 3 document"),
        )
        .build();
    doc.paths.add_path_operation(
        "/openapi.json",
        vec![utoipa::openapi::HttpMethod::Get],
        serve_doc,
    );
    doc
}

/// The whole HTTP surface: testable with `tower::ServiceExt::oneshot`.
pub fn router(state: AppState) -> Router {
    let (api, _) = routes();
    let doc = Arc::new(openapi());
    api.route(
        "/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc.as_ref().clone()) }
        }),
    )
    .route_layer(axum::middleware::from_fn(metrics::note_route))
    .fallback(no_route)
    .method_not_allowed_fallback(wrong_method)
    .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
    // A body trickled in byte by byte must not hold its connection for ever.
    .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        REQUEST_BODY_TIMEOUT,
    ))
    .layer(axum::middleware::from_fn(refuse_oversized))
    .layer(tower_http::trace::TraceLayer::new_for_http())
    .layer(axum::middleware::from_fn(metrics::count_request))
    .with_state(state)
}

/// Unknown paths answer 404, except a malformed job id, which is a 400 like
/// on every routed path: `/jobs/../x` never looks like "not found".
async fn no_route(method: Method, uri: Uri) -> ApiError {
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/jobs/") {
        let id = rest.split('/').next().unwrap_or_default();
        if let Err(e) = extract::job_id(id) {
            return e;
        }
    }
    ApiError::NotFound(format!("no route for {method} {path}"))
}

/// Answers 413 to a body declared larger than [`MAX_BODY_BYTES`] — after
/// reading it (up to [`DRAIN_CAP`], for a few seconds at most). An HTTP/1.1
/// client that is still sending when the server closes gets a broken pipe
/// instead of the answer; draining lets it read the 413.
async fn refuse_oversized(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use futures_util::StreamExt;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let Some(len) = declared.filter(|&len| len > MAX_BODY_BYTES as u64) else {
        return next.run(req).await;
    };
    if len <= DRAIN_CAP {
        let mut body = req.into_body().into_data_stream();
        let drain = async { while let Some(Ok(_)) = body.next().await {} };
        let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
    }
    ApiError::PayloadTooLarge(format!(
        "request body of {len} bytes is over the limit of {MAX_BODY_BYTES} bytes"
    ))
    .into_response()
}

async fn wrong_method(method: Method, uri: Uri) -> impl IntoResponse {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

/// A bound, ready-to-serve api.
pub struct ApiServer {
    listener: TcpListener,
    state: AppState,
    config: ApiConfig,
}

impl ApiServer {
    /// Opens the store (migrating it), makes the logs dir, binds `listen`.
    pub async fn build(config: ApiConfig, listen: SocketAddr) -> anyhow::Result<Self> {
        // Logs are for their owner and the api's group, not every user.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o750)
            .create(&config.logs_dir)
            .with_context(|| format!("cannot create logs dir {}", config.logs_dir.display()))?;
        let store = store::open(&config.database_url).await.with_context(|| {
            format!("cannot open the database {}", redact(&config.database_url))
        })?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let mut state = AppState::new(store, config.logs_dir.clone(), config.lease_timeout);
        if config.metrics {
            state.metrics = crate::metrics::install();
        }
        state.metrics_public = config.metrics_public;
        Ok(ApiServer {
            listener,
            state,
            config,
        })
    }

    /// The address actually bound (the port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The store, e.g. for `jobctl up` to create its first tokens.
    pub fn store(&self) -> Arc<dyn JobStore> {
        self.state.store.clone()
    }

    /// Serves until `shutdown` fires, then finishes in-flight requests and
    /// stops the background tasks.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let tasks = TaskTracker::new();
        tasks.spawn(maintenance::reap_leases(
            self.state.clone(),
            self.config.reap_grace,
            self.config.reap_interval,
            shutdown.clone(),
        ));
        tasks.spawn(maintenance::sweep_retention(
            self.state.clone(),
            self.config.retention,
            self.config.sweep_interval,
            shutdown.clone(),
        ));
        tasks.close();
        tracing::info!(addr = %self.local_addr(), "api listening");
        let limits = crate::server::ServeLimits::new(connection_cap(self.config.max_connections));
        let served =
            crate::server::serve(self.listener, router(self.state), limits, shutdown.clone())
                .await
                .context("the api server failed");
        shutdown.cancel();
        tasks.wait().await;
        served
    }
}

/// `requested` connections, or fewer when the open-file limit cannot
/// hold them — said loudly, since clients beyond it meet 503s.
pub fn connection_cap(requested: usize) -> usize {
    let budget = crate::server::connection_budget();
    if requested > budget {
        tracing::warn!(
            requested,
            serving = budget,
            "the open-file limit leaves room for {budget} connections, not {requested}; \
             raise it (LimitNOFILE= in the systemd unit, ulimit -n) or lower --max-connections"
        );
    }
    requested.min(budget)
}

/// A database URL fit for logs: no password.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
