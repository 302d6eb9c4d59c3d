//! Shared test harness: the api in-process on port 0, real worker processes,
//! fresh databases, and polling with deadlines.
//!
//! Every suite that touches state runs against both stores through
//! [`backend_tests!`]: SQLite in a temp dir always, PostgreSQL in a fresh
//! schema when `JOBCTL_TEST_DATABASE_URL` is set (in CI it must be).

#![allow(dead_code)]

use std::future::Future;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobctl::api::{ApiConfig, ApiServer};
use jobctl::domain::{JobId, Role};
use jobctl::protocol::Job;
use jobctl::store::JobStore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generates one test per backend for each named `async fn(Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(backend) = $crate::common::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// Which store a test runs against.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The base URL from `JOBCTL_TEST_DATABASE_URL`.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when configured. In CI a missing URL is a failure; on a
    /// developer machine it is a loud skip.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("JOBCTL_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!(
                    "JOBCTL_TEST_DATABASE_URL must be set in CI (e.g. postgres://postgres@127.0.0.1:5432/test)"
                )
            }
            _ => {
                eprintln!(
                    "SKIPPED: PostgreSQL test (set JOBCTL_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test to run it)"
                );
                None
            }
        }
    }

    /// A fresh, empty database for one test: a file in `dir`, or a new
    /// PostgreSQL schema that is dropped with the returned guard.
    pub async fn fresh_database(&self, dir: &Path) -> (String, Option<SchemaGuard>) {
        match self {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.join("jobctl.db").display()),
                None,
            ),
            Backend::Postgres(base) => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let pool = sqlx::PgPool::connect(base)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&pool)
                    .await
                    .expect("create a test schema");
                pool.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                (
                    format!("{base}{sep}options[search_path]={schema}"),
                    Some(SchemaGuard {
                        base: base.clone(),
                        schema,
                    }),
                )
            }
        }
    }
}

/// Drops a test's PostgreSQL schema when the test ends.
pub struct SchemaGuard {
    pub base: String,
    pub schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let base = self.base.clone();
        let schema = self.schema.clone();
        // Drop runs inside the test's runtime; a fresh one on another thread
        // can block on the query.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&base).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                    )))
                    .execute(&pool)
                    .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

/// Knobs for a test api.
#[derive(Clone)]
pub struct ApiOptions {
    pub lease_timeout: Duration,
    /// When the first look for expired leases comes after start; `None`:
    /// the production default for the lease.
    pub reap_grace: Option<Duration>,
    pub retention: Duration,
    pub sweep_interval: Duration,
}

impl ApiOptions {
    /// A short lease whose expiry the api acts on from its start — for
    /// tests of lost workers that involve no api restart.
    pub fn short_lease(lease: Duration) -> Self {
        ApiOptions {
            lease_timeout: lease,
            reap_grace: Some(lease),
            ..ApiOptions::default()
        }
    }
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            lease_timeout: Duration::from_secs(60),
            reap_grace: None,
            retention: Duration::from_secs(90 * 24 * 3600),
            sweep_interval: Duration::from_secs(3600),
        }
    }
}

/// A running api with its own database and logs dir.
pub struct TestApi {
    pub addr: SocketAddr,
    pub url: String,
    pub database_url: String,
    pub logs_dir: PathBuf,
    pub store: Arc<dyn JobStore>,
    pub options: ApiOptions,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _schema: Option<SchemaGuard>,
    pub dir: tempfile::TempDir,
}

impl TestApi {
    pub async fn start(backend: &Backend) -> TestApi {
        Self::start_with(backend, ApiOptions::default()).await
    }

    pub async fn start_with(backend: &Backend, options: ApiOptions) -> TestApi {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, schema) = backend.fresh_database(dir.path()).await;
        Self::start_on(database_url, schema, dir, options).await
    }

    /// An api on a given database (the logs in `dir`).
    pub async fn start_on(
        database_url: String,
        schema: Option<SchemaGuard>,
        dir: tempfile::TempDir,
        options: ApiOptions,
    ) -> TestApi {
        let logs_dir = dir.path().join("logs");
        let config = api_config(&database_url, &logs_dir, &options);
        let server = ApiServer::build(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = server.local_addr();
        let store = server.store();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run_until_stopped(shutdown.clone()));
        TestApi {
            addr,
            url: format!("http://{addr}"),
            database_url,
            logs_dir,
            store,
            options,
            // A hung api fails the test instead of hanging it.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            shutdown,
            task: Some(task),
            _schema: schema,
            dir,
        }
    }

    /// Stops serving (the port is kept for [`TestApi::restart`]).
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Serves again on the same address and database.
    pub async fn restart(&mut self) {
        let config = api_config(&self.database_url, &self.logs_dir, &self.options);
        let server = ApiServer::build(config, self.addr).await.unwrap();
        self.store = server.store();
        self.shutdown = CancellationToken::new();
        self.task = Some(tokio::spawn(
            server.run_until_stopped(self.shutdown.clone()),
        ));
    }

    /// A new token with this name and role.
    pub async fn token(&self, name: &str, role: Role) -> String {
        jobctl::cmd::token::create(self.store.as_ref(), name, role)
            .await
            .unwrap()
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
    }

    /// Submits `command` as `token`'s owner; panics unless 201.
    pub async fn submit(&self, token: &str, command: &[&str]) -> Job {
        self.submit_json(token, serde_json::json!({ "command": command }))
            .await
    }

    pub async fn submit_json(&self, token: &str, body: serde_json::Value) -> Job {
        let resp = self.post("/jobs", token).json(&body).send().await.unwrap();
        assert_eq!(
            resp.status(),
            201,
            "submit answered {}",
            resp.text().await.unwrap()
        );
        resp.json().await.unwrap()
    }

    /// `GET path` for a job list (`/jobs?…`); panics unless 200.
    pub async fn list(&self, token: &str, path: &str) -> jobctl::protocol::JobList {
        let resp = self.get(path, token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    pub async fn job(&self, token: &str, id: JobId) -> Job {
        let resp = self
            .get(&format!("/jobs/{id}"), token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Waits until the job is terminal, then returns it.
    pub async fn wait_finished(&self, token: &str, id: JobId, within: Duration) -> Job {
        wait_for(within, || async {
            let job = self.job(token, id).await;
            job.status.is_terminal().then_some(job)
        })
        .await
        .unwrap_or_else(|| panic!("job {id} did not finish within {within:?}"))
    }

    pub fn log_path(&self, id: JobId) -> PathBuf {
        self.logs_dir.join(format!("{id}.log"))
    }

    /// Starts `jobctl worker` against this api.
    pub fn worker(&self, token: &str, extra: &[&str]) -> ChildGuard {
        ChildGuard::spawn_quiet(self.worker_command(token, &self.logs_dir, extra))
    }

    /// The command line of a worker against this api writing its logs
    /// into `logs_dir`.
    pub fn worker_command(&self, token: &str, logs_dir: &Path, extra: &[&str]) -> Command {
        self.worker_command_via(&self.url, token, logs_dir, extra)
    }

    /// Like [`TestApi::worker_command`], with the worker talking to `url`
    /// (a proxy in front of this api) instead.
    pub fn worker_command_via(
        &self,
        url: &str,
        token: &str,
        logs_dir: &Path,
        extra: &[&str],
    ) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
        cmd.arg("worker")
            .arg("--api-url")
            .arg(url)
            .arg("--token")
            .arg(token)
            .arg("--logs-dir")
            .arg(logs_dir)
            .args(["--kill-grace", "2s"])
            .args(extra)
            .env_remove("JOBCTL_CONFIG")
            // As under systemd's EnvironmentFile; the job must not see it.
            .env("JOBCTL_TOKEN", token)
            .env("JOBCTL_DATA_DIR", self.dir.path().join("worker-data"))
            .stdin(Stdio::null());
        cmd
    }
}

fn api_config(database_url: &str, logs_dir: &Path, options: &ApiOptions) -> ApiConfig {
    let mut config = ApiConfig::new(database_url.to_string(), logs_dir.to_path_buf());
    config.lease_timeout = options.lease_timeout;
    config.reap_interval = jobctl::api::default_reap_interval(options.lease_timeout);
    config.reap_grace = options
        .reap_grace
        .unwrap_or_else(|| jobctl::api::default_reap_grace(options.lease_timeout));
    config.retention = options.retention;
    config.sweep_interval = options.sweep_interval;
    config
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
pub struct ChildGuard {
    pub child: Option<Child>,
    /// What the process wrote on stdout and stderr, when started with
    /// [`ChildGuard::spawn_quiet`]: printed only if the test fails.
    captured: Option<Captured>,
}

/// A quiet child's output so far, and the threads reading its pipes.
struct Captured {
    buf: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// The most of a quiet child's output kept for a failing test (the end).
const CAPTURE_LIMIT: usize = 4 << 20;

impl ChildGuard {
    pub fn spawn(mut cmd: Command) -> ChildGuard {
        let child = cmd.spawn().expect("spawn jobctl");
        ChildGuard {
            child: Some(child),
            captured: None,
        }
    }

    /// Spawns with stdout and stderr captured, so a passing test prints
    /// nothing of the service's log; a failing one prints it (the last
    /// 4 MiB) under the test's name.
    pub fn spawn_quiet(mut cmd: Command) -> ChildGuard {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn jobctl");
        let buf = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let out: Option<Box<dyn std::io::Read + Send>> =
            child.stdout.take().map(|s| Box::new(s) as _);
        let err: Option<Box<dyn std::io::Read + Send>> =
            child.stderr.take().map(|s| Box::new(s) as _);
        for mut pipe in [out, err].into_iter().flatten() {
            let buf = buf.clone();
            readers.push(std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
                    b.extend_from_slice(&chunk[..n]);
                    if b.len() > CAPTURE_LIMIT {
                        let cut = b.len() - CAPTURE_LIMIT;
                        b.drain(..cut);
                    }
                }
            }));
        }
        ChildGuard {
            child: Some(child),
            captured: Some(Captured { buf, readers }),
        }
    }

    /// What a quiet child wrote so far.
    pub fn output(&self) -> String {
        self.captured
            .as_ref()
            .map(|Captured { buf, .. }| {
                String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
            })
            .unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig);
    }

    /// Waits for the process to exit, at most `within`.
    pub fn wait(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        let child = self.child.as_mut()?;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
        }
        if let Some(Captured { buf, readers }) = self.captured.take() {
            // The pipes close with the process (and any job it left behind
            // that still holds them is not waited for).
            for reader in readers {
                if reader.is_finished() {
                    let _ = reader.join();
                }
            }
            if std::thread::panicking() {
                let out = buf.lock().unwrap_or_else(|e| e.into_inner());
                eprintln!(
                    "---- output of the service process ----\n{}---- end ----",
                    String::from_utf8_lossy(&out)
                );
            }
        }
    }
}

/// Polls `check` every 25 ms until it yields `Some`, or `within` passes.
pub async fn wait_for<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether a process exists (and is not a zombie).
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

/// Waits until process `pid` is gone (or a zombie); whether it went
/// within `within`.
pub async fn wait_gone(pid: i32, within: Duration) -> bool {
    wait_for(within, || async { (!process_alive(pid)).then_some(()) })
        .await
        .is_some()
}

/// The value of the sample `series` in a Prometheus text (name and labels
/// exactly as rendered, e.g. `jobctl_jobs{status="completed"}`), 0 when
/// absent.
pub fn metric_sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().unwrap())
        })
        .unwrap_or(0.0)
}

/// Sends a raw HTTP/1.1 request, so paths reach the server unnormalised.
/// The status is 0 when no answer came.
pub async fn raw_request(addr: SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut response))
        .await
        .expect("the server answers or closes within 30 s")
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether this test may mount filesystems (it runs as root). Outside CI a
/// test that needs it prints SKIPPED and passes; in CI (`CI=true`, where
/// the suite runs as root) being unable to is a failure.
pub fn can_mount(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} needs root to mount a tmpfs, and CI runs the suite as root");
    }
    eprintln!("SKIPPED: {test} (needs root to mount a tmpfs)");
    false
}

/// A small tmpfs mounted for one test, unmounted when dropped.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `"2m"`) at `path`, which must exist.
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        mount(
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ],
            path,
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    /// Makes it read-only (or writable again), keeping its files.
    pub fn set_read_only(&self, read_only: bool) {
        let opts = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        mount(&["-o", opts], &self.path);
    }
}

fn mount(args: &[&str], path: &Path) {
    let out = Command::new("mount")
        .args(args)
        .arg(path)
        .output()
        .expect("run mount");
    assert!(
        out.status.success(),
        "mount {args:?} {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process still holding a file there must not keep the
        // mount (and the test's temp dir) around.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
