//! The browser tests' harness: jobctl's api, a real worker and the web UI on
//! loopback, and a headless Chromium driven through chromedriver.
//!
//! The api and the web server run in the test's own runtime on port 0; the
//! worker is the real binary as a child process, so jobs run exactly as in
//! production and their logs grow on disk while the page watches. Chromium
//! runs with a fresh profile per test. Every child is killed when its owner
//! is dropped, panicking tests included.
//!
//! When Chromium or chromedriver is missing, [`Browser::launch`] prints a
//! loud `SKIPPED` line and the test returns — unless `CI=true`, where a
//! missing browser is a failure: CI must run these tests.

use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use jobctl::api::{ApiConfig, ApiServer};
use jobctl::client::ApiClient;
use jobctl::cmd::token;
use jobctl::domain::{JobId, JobStatus, Role};
use jobctl::protocol::{Job, SubmitJob};
use jobctl::web::{WebConfig, WebServer};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long any one thing may take to happen: generous, for a loaded
/// two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `check` until it answers `Ok`, failing the test with the last
/// `Err` after [`DEADLINE`].
pub async fn wait_for<T, Fut>(what: &str, mut check: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {DEADLINE:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The largest N such that `prefix` followed by N occurs in `text`.
pub fn max_number_after(text: &str, prefix: &str) -> Option<u64> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let digits: String = text[i + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .max()
}

/// A child process that dies with its owner.
pub struct ChildProcess {
    child: Child,
    name: &'static str,
    /// Kill its whole process group (chromedriver's Chromium lives there).
    group: bool,
}

impl ChildProcess {
    fn spawn(name: &'static str, command: &mut Command, group: bool) -> Self {
        if group {
            command.process_group(0);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        ChildProcess { child, name, group }
    }

    fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        if self.group {
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        }
        // InvalidInput: it has already exited.
        if let Err(e) = self.child.kill()
            && e.kind() != std::io::ErrorKind::InvalidInput
        {
            eprintln!("cannot kill {}: {e}", self.name);
        }
        let _ = self.child.wait();
    }
}

/// The api running in this process, and how to stop it.
struct RunningApi {
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// api + worker + web UI, each on a port of its own.
pub struct Stack {
    // Dropped first: the worker and its jobs stop before their dir goes.
    _worker: ChildProcess,
    pub dir: TempDir,
    /// The web UI, e.g. `http://127.0.0.1:40123`.
    pub web_url: String,
    pub api_url: String,
    /// A user token, owner `alice`.
    pub alice: String,
    /// An admin token, owner `admin`.
    pub admin: String,
    api_addr: SocketAddr,
    api_config: ApiConfig,
    api: Option<RunningApi>,
    web_stop: CancellationToken,
}

impl Stack {
    /// Starts everything; the page refreshes every `refresh`.
    pub async fn start(refresh: Duration) -> Stack {
        Stack::start_with_slots(refresh, 4).await
    }

    /// Starts everything with a worker that runs `slots` jobs at once.
    pub async fn start_with_slots(refresh: Duration, slots: u32) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let api_config = ApiConfig::new(
            format!("sqlite://{}", dir.path().join("jobctl.db").display()),
            dir.path().join("logs"),
        );
        let api = ApiServer::build(api_config.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the api starts");
        let api_addr = api.local_addr();
        let api_url = format!("http://{api_addr}");
        let (alice, admin, worker_token) = {
            let store = api.store();
            (
                token::create(store.as_ref(), "alice", Role::User)
                    .await
                    .unwrap(),
                token::create(store.as_ref(), "admin", Role::Admin)
                    .await
                    .unwrap(),
                token::create(store.as_ref(), "test-worker", Role::Worker)
                    .await
                    .unwrap(),
            )
        };
        let api = Some(RunningApi::spawn(api));

        let mut web_config = WebConfig::new(api_url.clone());
        web_config.refresh_interval = refresh;
        let web = WebServer::build(web_config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("the web UI starts");
        let web_url = format!("http://{}", web.local_addr());
        let web_stop = CancellationToken::new();
        tokio::spawn(web.run_until_stopped(web_stop.clone()));

        // The worker must not pick up the settings of whoever runs the tests.
        let config_file = dir.path().join("config.toml");
        std::fs::write(&config_file, "").unwrap();
        let worker_log = File::create(dir.path().join("worker.log")).unwrap();
        let worker = ChildProcess::spawn(
            "jobctl worker",
            Command::new(env!("CARGO_BIN_EXE_jobctl"))
                .args(["worker", "--api-url", &api_url, "--token", &worker_token])
                .arg("--logs-dir")
                .arg(dir.path().join("logs"))
                .arg("--data-dir")
                .arg(dir.path())
                .args(["--name", "test-worker", "--kill-grace", "1s"])
                .args(["--slots", &slots.to_string()])
                .env("JOBCTL_CONFIG", &config_file)
                .stdin(Stdio::null())
                .stdout(worker_log.try_clone().unwrap())
                .stderr(worker_log),
            false,
        );
        Stack {
            _worker: worker,
            dir,
            web_url,
            api_url,
            alice,
            admin,
            api_addr,
            api_config,
            api,
            web_stop,
        }
    }

    /// A client of the api with `token`.
    pub fn client(&self, token: &str) -> ApiClient {
        ApiClient::new(&self.api_url, token).unwrap()
    }

    /// Submits `sh -c script` as the owner of `token`.
    pub async fn submit(&self, token: &str, name: &str, script: &str) -> Job {
        let job = SubmitJob {
            command: vec!["sh".into(), "-c".into(), script.into()],
            name: Some(name.into()),
            timeout_seconds: Some(600),
            ..SubmitJob::default()
        };
        self.client(token).submit(&job).await.expect("submit")
    }

    /// Writes `body` to `file` in the test's dir and submits `sh FILE ARGS…`
    /// run there, as the owner of `token`.
    pub async fn submit_script(
        &self,
        token: &str,
        name: &str,
        file: &str,
        body: &str,
        args: &[&str],
    ) -> Job {
        std::fs::write(self.dir.path().join(file), body).unwrap();
        let mut command = vec!["sh".to_string(), file.to_string()];
        command.extend(args.iter().map(|a| a.to_string()));
        let job = SubmitJob {
            command,
            name: Some(name.into()),
            cwd: Some(self.dir.path().display().to_string()),
            timeout_seconds: Some(600),
            ..SubmitJob::default()
        };
        self.client(token).submit(&job).await.expect("submit")
    }

    /// Waits until the job is in `status`, as the api says.
    pub async fn wait_status(&self, id: JobId, status: JobStatus) -> Job {
        let client = self.client(&self.admin);
        wait_for(&format!("job {id} to be {status}"), || {
            let client = client.clone();
            async move {
                let job = client.job(id).await.map_err(|e| e.to_string())?;
                if job.status == status {
                    Ok(job)
                } else {
                    Err(format!("status {}", job.status))
                }
            }
        })
        .await
    }

    /// The job's log as the worker wrote it.
    pub fn log_on_disk(&self, id: JobId) -> String {
        let path = self.dir.path().join("logs").join(format!("{id}.log"));
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    }

    /// A path a job can wait for: `while [ ! -e PATH ]`.
    pub fn flag(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.flag"))
    }

    /// Creates a flag file, letting the jobs waiting for it go on.
    pub fn raise(&self, flag: &Path) {
        std::fs::write(flag, "").unwrap();
    }

    /// Puts `count` finished (cancelled) jobs of `owner` straight into the
    /// store, oldest first, named `{prefix}{n:04}`: a lab's history in a few
    /// seconds, without a worker running any of them.
    pub async fn seed_finished(&self, owner: &str, prefix: &str, count: usize) -> Vec<JobId> {
        let store = jobctl::store::open(&self.api_config.database_url)
            .await
            .unwrap();
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let spec = jobctl::domain::JobSpec::try_from(SubmitJob {
                command: vec!["true".into()],
                name: Some(format!("{prefix}{n:04}")),
                ..SubmitJob::default()
            })
            .unwrap();
            let job = store.insert_job(owner, &spec).await.unwrap();
            // Cancelled while pending: finished at once. Should the worker
            // claim one first, it runs `true` and finishes anyway.
            let _ = store.request_cancel(job.id).await;
            ids.push(job.id);
        }
        ids
    }

    /// Revokes the token named `name`, as `jobctl token revoke` does.
    pub async fn revoke(&self, name: &str) {
        let store = jobctl::store::open(&self.api_config.database_url)
            .await
            .unwrap();
        assert!(store.revoke_token(name).await.unwrap(), "no token {name}");
    }

    /// Stops the api (the worker and the web UI keep running).
    pub async fn stop_api(&mut self) {
        let api = self.api.take().expect("the api is running");
        api.stop.cancel();
        tokio::time::timeout(DEADLINE, api.task)
            .await
            .expect("the api stops in time")
            .unwrap()
            .unwrap();
    }

    /// Starts the api again on the same address and database.
    pub async fn start_api(&mut self) {
        assert!(self.api.is_none(), "the api is already running");
        let config = self.api_config.clone();
        let addr = self.api_addr;
        let server = wait_for("the api's port to be free again", || {
            let config = config.clone();
            async move {
                ApiServer::build(config, addr)
                    .await
                    .map_err(|e| format!("{e:#}"))
            }
        })
        .await;
        self.api = Some(RunningApi::spawn(server));
    }
}

impl RunningApi {
    fn spawn(server: ApiServer) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(server.run_until_stopped(stop.clone()));
        RunningApi { stop, task }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.web_stop.cancel();
        if let Some(api) = &self.api {
            api.stop.cancel();
        }
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self.dir.path().join("worker.log")).unwrap_or_default();
            eprintln!("--- worker log ---\n{log}--- end of worker log ---");
        }
    }
}

/// A headless Chromium under chromedriver, with a fresh profile.
pub struct Browser {
    pub client: Client,
    _driver: ChildProcess,
    _profile: TempDir,
}

impl Browser {
    /// Starts Chromium, or returns `None` after a loud `SKIPPED` line when it
    /// is not installed (outside CI; in CI that fails the test).
    pub async fn launch(test: &str) -> Option<Browser> {
        let chrome = find_program(
            "CHROME_BIN",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let driver = find_program("CHROMEDRIVER", &["chromedriver"]);
        let (chrome, driver) = match (chrome, driver) {
            (Some(c), Some(d)) => (c, d),
            (c, d) => {
                let missing = [("chromium", c.is_none()), ("chromedriver", d.is_none())]
                    .iter()
                    .filter(|(_, m)| *m)
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(" and ");
                let message = format!(
                    "{missing} not found on PATH (or in $CHROME_BIN / $CHROMEDRIVER): \
                     install them with `apt-get install -y chromium chromium-driver`"
                );
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!("the browser tests must run in CI: {message}");
                }
                // Straight to stderr: the test harness would swallow an
                // eprintln! of a passing test, and a skip must be seen.
                let _ = writeln!(std::io::stderr(), "\n*** SKIPPED {test}: {message} ***\n");
                return None;
            }
        };
        let profile = tempfile::tempdir().unwrap();
        let (driver, url) = start_driver(&driver, profile.path()).await;
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--no-first-run".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-extensions".into(),
            "--disable-sync".into(),
            "--password-store=basic".into(),
            "--force-device-scale-factor=1".into(),
            "--window-size=1280,1100".into(),
            "--lang=en-US".into(),
            format!(
                "--user-data-dir={}",
                profile.path().join("chrome").display()
            ),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            // Leave any alert open, so a test can see that none was raised.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": { "binary": chrome, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("chromedriver starts a Chromium session");
        Some(Browser {
            client,
            _driver: driver,
            _profile: profile,
        })
    }

    /// Resizes the window (CSS pixels: the device scale factor is 1).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    /// Ends the session (Chromium quits); chromedriver dies with `self`.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The current page's path.
    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    /// Runs a script in the page; `arguments[0]`… are `args`.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The text of the first element matching `css`, or `None` when none does.
    pub async fn text(&self, css: &str) -> Option<String> {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
                vec![json!(css)],
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// The lines on screen in the log box matching `css`.
    pub async fn log_lines(&self, css: &str) -> Vec<String> {
        let v = self
            .js(
                "return [...document.querySelectorAll(arguments[0] + ' .ln')].map(l => l.textContent);",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(v).unwrap()
    }

    /// Whether the first element matching `css` is rendered and visible.
    pub async fn visible(&self, css: &str) -> bool {
        self.js(
            "const e = document.querySelector(arguments[0]); return !!e && e.checkVisibility();",
            vec![json!(css)],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// A DOM property of the first element matching `css`.
    pub async fn prop(&self, css: &str, name: &str) -> Value {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e[arguments[1]] : null;",
            vec![json!(css), json!(name)],
        )
        .await
    }

    /// Waits until a DOM property of the element has `value`.
    pub async fn wait_prop(&self, css: &str, name: &str, value: Value) {
        wait_for(&format!("{css}.{name} to be {value}"), || async {
            match self.prop(css, name).await {
                v if v == value => Ok(()),
                v => Err(v.to_string()),
            }
        })
        .await
    }

    /// Clicks like a user: the element must be visible and not covered.
    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Replaces an input's text by typing.
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self.client.find(Locator::Css(css)).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Waits until the element is visible.
    pub async fn wait_visible(&self, css: &str) {
        wait_for(&format!("{css} to show"), || async {
            if self.visible(css).await {
                Ok(())
            } else {
                Err("not visible".into())
            }
        })
        .await
    }

    /// Waits until the element's text satisfies `ok`; returns that text.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        wait_for(&format!("{css} to show {what}"), || async {
            match self.text(css).await {
                Some(t) if ok(&t) => Ok(t),
                Some(t) => Err(format!("text {:?}", tail(&t, 300))),
                None => Err("no such element".into()),
            }
        })
        .await
    }

    /// Signs in through the login form and waits for the jobs page.
    pub async fn sign_in(&self, web_url: &str, token: &str) {
        self.goto(&format!("{web_url}/login")).await;
        self.type_into("#token", token).await;
        self.click("#sign-in").await;
        self.wait_text("#who-name", "the user's name", |t| !t.is_empty())
            .await;
    }

    /// The value of the session cookie.
    pub async fn session_cookie(&self) -> fantoccini::cookies::Cookie<'static> {
        self.client
            .get_named_cookie(jobctl::web::COOKIE_NAME)
            .await
            .expect("a session cookie")
    }
}

/// The end of a long text, for messages.
pub fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

/// A program named by `env`, else the first of `names` on the PATH.
fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| {
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    })
}

/// Starts chromedriver on a free port; its URL once it is ready.
async fn start_driver(program: &Path, dir: &Path) -> (ChildProcess, String) {
    let http = reqwest::Client::new();
    for _ in 0..3 {
        // Another process may take the port between here and chromedriver's
        // bind: then chromedriver exits, and another port is tried.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = File::create(dir.join("chromedriver.log")).unwrap();
        let mut driver = ChildProcess::spawn(
            "chromedriver",
            Command::new(program)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
            true,
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline && !driver.has_exited() {
            let ready = http.get(format!("{url}/status")).send().await;
            if let Ok(resp) = ready
                && let Ok(status) = resp.json::<Value>().await
                && status["value"]["ready"] == json!(true)
            {
                return (driver, url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!(
        "chromedriver did not start; see {}",
        dir.join("chromedriver.log").display()
    );
}
