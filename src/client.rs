//! The HTTP client for the REST API, shared by the CLI, the worker and the
//! web UI. It speaks the very types of [`crate::protocol`], so client and
//! server cannot disagree, and turns failures into messages that say what to
//! do.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::{JobId, JobStatus};
use crate::protocol::{
    ClaimRequest, ClaimedJob, ClaimedJobs, ErrorBody, Heartbeat, HeartbeatAck, Job, JobList,
    JobReports, ListQuery, LogChunk, LogSearch, LogSearchQuery, ReportResults, StatusReport,
    SubmitJob, WhoAmI, WorkerList, WorkerRegistration,
};

/// What an unreachable api's message suggests, by where its address came from.
pub const HINT_API: &str = "is `jobctl api` running?";
/// The address `jobctl up` wrote in the data dir.
pub const HINT_UP: &str = "this is the address `jobctl up` last used here: is it still running? Start it with `jobctl up`";
/// No address configured, and no `jobctl up` on this machine.
pub const HINT_NOTHING_CONFIGURED: &str = "no API address is configured and `jobctl up` has not run here: \
     start everything on this machine with `jobctl up`, or point --api-url (JOBCTL_API_URL) at your api";
/// A flag, variable or config file named the address.
pub const HINT_CONFIGURED: &str = "is `jobctl api` running there? (the address comes from --api-url, JOBCTL_API_URL or the config file)";

/// The longest a log download may stream.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// Why a call to the api failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// No answer at all: refused, reset, timed out, DNS.
    #[error("cannot reach the API at {url}: {reason} — {hint}")]
    Unreachable {
        url: String,
        reason: String,
        /// What to check or run, for where this address came from.
        hint: &'static str,
    },
    /// An error answer from the api.
    #[error("{message} (HTTP {status})")]
    Api { status: StatusCode, message: String },
    /// An answer that is not what the protocol says.
    #[error("unexpected answer from the API at {url}: {reason}")]
    Protocol { url: String, reason: String },
}

impl ClientError {
    /// Worth retrying: the api may be restarting or overloaded.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } => true,
            ClientError::Api { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            ClientError::Protocol { .. } => false,
        }
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client bound to one api and one token.
#[derive(Clone)]
pub struct ApiClient {
    base: Url,
    token: String,
    start_hint: &'static str,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client for the api at `base_url` (e.g. `http://127.0.0.1:8765`).
    pub fn new(base_url: &str, token: &str) -> anyhow::Result<Self> {
        let mut base = Url::parse(base_url.trim()).map_err(|e| {
            anyhow::anyhow!(
                "invalid API URL {base_url:?}: {e}; expected e.g. http://127.0.0.1:8765"
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            anyhow::bail!("invalid API URL {base_url:?}: use http:// or https://");
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // Well inside the server's 60 s keep-alive idle timeout, so a
            // pooled connection is never reused just as the server closes it.
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("jobctl/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ApiClient {
            base,
            start_hint: HINT_API,
            token: token.trim().to_string(),
            http,
        })
    }

    /// The same client, whose "cannot reach" errors suggest `hint`
    /// (one of the `HINT_*` texts) instead of `jobctl api`.
    pub fn with_start_hint(mut self, hint: &'static str) -> Self {
        self.start_hint = hint;
        self
    }

    /// The same api and connection pool, speaking with another token: the
    /// web UI holds one client per signed-in session without one pool each.
    pub fn with_token(&self, token: &str) -> ApiClient {
        ApiClient {
            base: self.base.clone(),
            token: token.trim().to_string(),
            http: self.http.clone(),
            start_hint: self.start_hint,
        }
    }

    /// The api's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .expect("relative API paths always join")
    }

    async fn send<B: Serialize + ?Sized, Q: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<reqwest::Response, ClientError> {
        self.execute(self.request(method, path, query, body)).await
    }

    fn request<B: Serialize + ?Sized, Q: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(q) = query {
            req = req.query(q);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req
    }

    async fn execute(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|e| unreachable(&self.base, self.start_hint, &e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let message = match resp.json::<ErrorBody>().await {
            Ok(body) => body.error,
            Err(_) => status.canonical_reason().unwrap_or("error").to_lowercase(),
        };
        let message = match status {
            StatusCode::UNAUTHORIZED => format!(
                "the API at {} refused the token: {message}; check --token / JOBCTL_TOKEN",
                self.base
            ),
            _ => message,
        };
        Err(ClientError::Api { status, message })
    }

    async fn call<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let resp = self.send::<B, ()>(method, path, None, body).await?;
        self.decode(resp).await
    }

    async fn decode<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, ClientError> {
        let url = resp.url().to_string();
        resp.json::<T>().await.map_err(|e| {
            if e.is_decode() {
                ClientError::Protocol {
                    url,
                    reason: e.to_string(),
                }
            } else {
                unreachable(&self.base, self.start_hint, &e)
            }
        })
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<(), ClientError> {
        self.send::<(), ()>(Method::GET, "healthz", None, None)
            .await
            .map(drop)
    }

    /// `GET /whoami`.
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.call::<_, ()>(Method::GET, "whoami", None).await
    }

    /// `POST /jobs`.
    pub async fn submit(&self, job: &SubmitJob) -> Result<Job, ClientError> {
        self.call(Method::POST, "jobs", Some(job)).await
    }

    /// `GET /jobs`: the jobs of one page.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Job>, ClientError> {
        Ok(self.list_page(query).await?.jobs)
    }

    /// `GET /jobs`: one page, with the cursor of the next.
    pub async fn list_page(&self, query: &ListQuery) -> Result<JobList, ClientError> {
        let resp = self
            .send::<(), _>(Method::GET, "jobs", Some(query), None)
            .await?;
        self.decode::<JobList>(resp).await
    }

    /// `GET /jobs/{id}`.
    pub async fn job(&self, id: JobId) -> Result<Job, ClientError> {
        self.call::<_, ()>(Method::GET, &format!("jobs/{id}"), None)
            .await
    }

    /// `POST /jobs/{id}/cancel`.
    pub async fn cancel(&self, id: JobId) -> Result<Job, ClientError> {
        self.call::<_, ()>(Method::POST, &format!("jobs/{id}/cancel"), None)
            .await
    }

    /// `GET /jobs/{id}/logs?tail=N`.
    pub async fn logs_tail(&self, id: JobId, lines: u32) -> Result<LogChunk, ClientError> {
        let resp = self
            .send::<(), _>(
                Method::GET,
                &format!("jobs/{id}/logs"),
                Some(&[("tail", lines as u64)]),
                None,
            )
            .await?;
        self.decode(resp).await
    }

    /// `GET /jobs/{id}/logs?offset=N`.
    pub async fn logs_from(&self, id: JobId, offset: u64) -> Result<LogChunk, ClientError> {
        let resp = self
            .send::<(), _>(
                Method::GET,
                &format!("jobs/{id}/logs"),
                Some(&[("offset", offset)]),
                None,
            )
            .await?;
        self.decode(resp).await
    }

    /// `GET /jobs/{id}/logs?before=B&tail=N`: the lines above byte `before`.
    pub async fn logs_before(
        &self,
        id: JobId,
        before: u64,
        lines: u32,
    ) -> Result<LogChunk, ClientError> {
        let resp = self
            .send::<(), _>(
                Method::GET,
                &format!("jobs/{id}/logs"),
                Some(&[("before", before), ("tail", lines as u64)]),
                None,
            )
            .await?;
        self.decode(resp).await
    }

    /// `GET /jobs/{id}/logs/search`.
    pub async fn logs_search(
        &self,
        id: JobId,
        query: &LogSearchQuery,
    ) -> Result<LogSearch, ClientError> {
        let resp = self
            .send::<(), _>(
                Method::GET,
                &format!("jobs/{id}/logs/search"),
                Some(query),
                None,
            )
            .await?;
        self.decode(resp).await
    }

    /// `GET /jobs/{id}/logs/download`, the raw response to stream from.
    ///
    /// The client's 30 s limit covers a whole exchange, body included, which
    /// would cut a large log off mid-stream; a download gets an hour.
    pub async fn logs_download(&self, id: JobId) -> Result<reqwest::Response, ClientError> {
        let req = self
            .request::<(), ()>(Method::GET, &format!("jobs/{id}/logs/download"), None, None)
            .timeout(DOWNLOAD_TIMEOUT);
        self.execute(req).await
    }

    /// `POST /workers/claim`: `None` when nothing is pending.
    pub async fn claim(&self, body: &ClaimRequest) -> Result<Option<ClaimedJob>, ClientError> {
        let resp = self
            .send::<_, ()>(Method::POST, "workers/claim", None, Some(body))
            .await?;
        if resp.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        self.decode(resp).await.map(Some)
    }

    /// `POST /workers/claims`: up to `body.max_jobs` jobs at once (none
    /// when nothing fits). An api older than this route answers 404.
    pub async fn claim_many(&self, body: &ClaimRequest) -> Result<Vec<ClaimedJob>, ClientError> {
        let answer: ClaimedJobs = self
            .call(Method::POST, "workers/claims", Some(body))
            .await?;
        Ok(answer.jobs)
    }

    /// `POST /jobs/{id}/heartbeat`, with why the job still waits, if it does.
    pub async fn heartbeat(
        &self,
        id: JobId,
        lease_token: &str,
        pending_reason: Option<String>,
    ) -> Result<HeartbeatAck, ClientError> {
        let body = Heartbeat {
            lease_token: lease_token.to_string(),
            pending_reason,
        };
        self.call(Method::POST, &format!("jobs/{id}/heartbeat"), Some(&body))
            .await
    }

    /// `POST /workers/register`: this worker starts, or begins to drain.
    pub async fn register(&self, worker: &WorkerRegistration) -> Result<(), ClientError> {
        self.send::<_, ()>(Method::POST, "workers/register", None, Some(worker))
            .await
            .map(drop)
    }

    /// `GET /workers` (admins).
    pub async fn workers(&self) -> Result<WorkerList, ClientError> {
        self.call::<_, ()>(Method::GET, "workers", None).await
    }

    /// `POST /jobs/{id}/status`.
    pub async fn report(&self, id: JobId, report: &StatusReport) -> Result<Job, ClientError> {
        self.call(Method::POST, &format!("jobs/{id}/status"), Some(report))
            .await
    }

    /// `POST /workers/reports`: several final reports in one request, each
    /// with its own result, in order. An api older than this route answers
    /// 404 as a whole.
    pub async fn report_many(
        &self,
        reports: &JobReports,
    ) -> Result<Vec<Result<JobStatus, ClientError>>, ClientError> {
        let answer: ReportResults = self
            .call(Method::POST, "workers/reports", Some(reports))
            .await?;
        if answer.results.len() != reports.reports.len() {
            return Err(ClientError::Protocol {
                url: self.url("workers/reports").to_string(),
                reason: format!(
                    "{} results for {} reports",
                    answer.results.len(),
                    reports.reports.len()
                ),
            });
        }
        Ok(answer
            .results
            .into_iter()
            .map(|r| match (StatusCode::from_u16(r.status), r.job_status) {
                (Ok(StatusCode::OK), Some(status)) => Ok(status),
                (Ok(status), _) if status != StatusCode::OK => Err(ClientError::Api {
                    status,
                    message: r.error.unwrap_or_default(),
                }),
                _ => Err(ClientError::Protocol {
                    url: self.url("workers/reports").to_string(),
                    reason: format!("a result with status {} for job {}", r.status, r.job_id),
                }),
            })
            .collect())
    }
}

/// Names the root cause of a transport failure in a few words.
fn unreachable(base: &Url, hint: &'static str, e: &reqwest::Error) -> ClientError {
    let reason = if e.is_timeout() {
        "timed out".to_string()
    } else {
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let text = cause.to_string();
        // "Connection refused (os error 111)" reads better without the number.
        match text.find(" (os error") {
            Some(i) => text[..i].to_lowercase(),
            None => text,
        }
    };
    ClientError::Unreachable {
        url: base.as_str().trim_end_matches('/').to_string(),
        reason,
        hint,
    }
}
