//! What an admin runs jobctl with: the worker fleet (`GET /workers`,
//! `jobctl workers`), Prometheus metrics checked by `promtool`, backups and
//! the move from SQLite to PostgreSQL — with real binaries, on both stores.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ApiOptions, Backend, TestApi, wait_for};
use jobctl::domain::{JobId, Role};
use jobctl::protocol::{WorkerInfo, WorkerList, WorkerState};
use nix::sys::signal::Signal;

backend_tests!(
    a_worker_is_active_then_draining_then_gone,
    metrics_count_a_run_of_real_jobs_and_pass_promtool,
);

/// A worker whose own log stays out of a passing test's output.
fn quiet_worker(api: &TestApi, token: &str, extra: &[&str]) -> common::ChildGuard {
    common::ChildGuard::spawn_quiet(api.worker_command(token, &api.logs_dir, extra))
}

/// `GET /workers` as `admin`; the worker called `name`, if listed.
async fn worker_named(api_url: &str, admin: &str, name: &str) -> Option<WorkerInfo> {
    let resp = reqwest::Client::new()
        .get(format!("{api_url}/workers"))
        .bearer_auth(admin)
        .send()
        .await
        .ok()?;
    assert_eq!(resp.status(), 200);
    let list: WorkerList = resp.json().await.unwrap();
    list.workers.into_iter().find(|w| w.name == name)
}

/// `jobctl workers` against `api_url`: stdout.
fn workers_cli(api_url: &str, admin: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_jobctl"))
        .arg("workers")
        .args(["--api-url", api_url, "--token", admin])
        .args(extra)
        .env_remove("JOBCTL_CONFIG")
        .env("JOBCTL_DATA_DIR", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Waits until every api in `urls` shows worker `name` in `state`.
async fn wait_state(urls: &[&str], admin: &str, name: &str, state: WorkerState) -> WorkerInfo {
    let mut last = None;
    for url in urls {
        last = wait_for(Duration::from_secs(30), || async {
            worker_named(url, admin, name)
                .await
                .filter(|w| w.state == state)
        })
        .await;
        assert!(
            last.is_some(),
            "{url}: worker {name} never became {state:?}: {:?}",
            worker_named(url, admin, name).await
        );
    }
    last.unwrap()
}

async fn a_worker_is_active_then_draining_then_gone(backend: Backend) {
    let lease = Duration::from_secs(3);
    let api = TestApi::start_with(&backend, ApiOptions::short_lease(lease)).await;
    // With PostgreSQL, a second replica on the same database must agree.
    let replica = match &backend {
        Backend::Postgres(_) => Some(
            TestApi::start_on(
                api.database_url.clone(),
                None,
                tempfile::tempdir().unwrap(),
                ApiOptions::short_lease(lease),
            )
            .await,
        ),
        Backend::Sqlite => None,
    };
    let mut urls = vec![api.url.as_str()];
    if let Some(r) = &replica {
        urls.push(r.url.as_str());
    }
    let admin = api.token("root", Role::Admin).await;
    let user = api.token("alice", Role::User).await;
    let worker_token = api.token("w", Role::Worker).await;
    let job = api.submit(&user, &["sleep", "60"]).await;

    let mut worker = quiet_worker(
        &api,
        &worker_token,
        &["--name", "w1", "--drain-timeout", "60s"],
    );
    let active = wait_for(Duration::from_secs(30), || async {
        worker_named(&api.url, &admin, "w1")
            .await
            .filter(|w| w.running == vec![job.id])
    })
    .await
    .expect("the worker registers and shows its running job");
    assert_eq!(active.state, WorkerState::Active);
    assert_eq!(active.executor, "local");
    assert_eq!(active.slots, 1);
    assert_eq!(active.version, env!("CARGO_PKG_VERSION"));
    wait_state(&urls, &admin, "w1", WorkerState::Active).await;
    let table = workers_cli(&api.url, &admin, &[]);
    let header = table.lines().next().unwrap();
    for column in ["NAME", "STATE", "EXECUTOR", "SLOTS", "RUNNING", "LAST SEEN"] {
        assert!(header.contains(column), "{table}");
    }
    let line = table.lines().find(|l| l.starts_with("w1")).expect(&table);
    assert!(line.contains("active") && line.contains("local"), "{table}");

    // Seen on heartbeats: a busy worker that claims nothing stays active
    // well past a lease.
    tokio::time::sleep(lease * 2).await;
    assert_eq!(
        worker_named(&api.url, &admin, "w1").await.unwrap().state,
        WorkerState::Active
    );

    worker.signal(Signal::SIGTERM);
    wait_state(&urls, &admin, "w1", WorkerState::Draining).await;
    let json: WorkerList =
        serde_json::from_str(&workers_cli(&api.url, &admin, &["--json"])).unwrap();
    let w1 = json.workers.iter().find(|w| w.name == "w1").unwrap();
    assert_eq!(w1.state, WorkerState::Draining);
    assert_eq!(
        w1.running,
        vec![job.id],
        "still running its job while draining"
    );

    worker.signal(Signal::SIGKILL);
    worker
        .wait(Duration::from_secs(10))
        .expect("SIGKILL ends it");
    let gone = wait_state(&urls, &admin, "w1", WorkerState::Gone).await;
    assert!(gone.last_seen < chrono::Utc::now() - chrono::Duration::from_std(lease).unwrap());
    assert!(workers_cli(&api.url, &admin, &[]).contains("gone"));

    // Only admins see the fleet.
    let resp = api.get("/workers", &user).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let _: JobId = job.id;
}

/// A `jobctl` service process and the address it logged on the first
/// stderr line containing `marker`.
fn start_service(args: &[&str], marker: &'static str) -> (String, common::ChildGuard) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("JOBCTL_CONFIG")
        .env_remove("JOBCTL_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut process = common::ChildGuard::spawn(cmd);
    let stderr = process.child.as_mut().unwrap().stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        // Keep draining after the address so the pipe never fills.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent
                && line.contains(marker)
                && let Some(addr) = line.split("addr=").nth(1)
            {
                let addr = addr
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_matches('"');
                let _ = tx.send(addr.to_string());
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{args:?} logs its address"));
    (format!("http://{addr}"), process)
}

/// `jobctl api` on `database_url`, as a process of its own (metrics are
/// per process).
fn start_api(database_url: &str, logs_dir: &Path, extra: &[&str]) -> (String, common::ChildGuard) {
    let logs = logs_dir.to_str().unwrap();
    let mut args = vec![
        "api",
        "--listen",
        "127.0.0.1:0",
        "--database",
        database_url,
        "--logs-dir",
        logs,
    ];
    args.extend_from_slice(extra);
    start_service(&args, "api listening")
}

/// Whether promtool is here: in CI it must be (test.sh installs it).
fn promtool() -> bool {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "promtool is missing (Debian's prometheus package; test.sh installs it)"
        );
        eprintln!("SKIPPED: promtool checks (install Debian's prometheus package)");
    }
    found
}

/// `promtool check metrics` on `text`; panics with its findings.
fn promtool_check_metrics(text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(format!("{url}/metrics"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn metrics_count_a_run_of_real_jobs_and_pass_promtool(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _schema) = backend.fresh_database(dir.path()).await;
    let store = jobctl::store::open(&database_url).await.unwrap();
    let create = |name: &'static str, role| {
        let store = store.clone();
        async move {
            jobctl::cmd::token::create(store.as_ref(), name, role)
                .await
                .unwrap()
        }
    };
    let admin = create("root", Role::Admin).await;
    let user = create("alice", Role::User).await;
    let worker_token = create("w", Role::Worker).await;
    let logs_dir = dir.path().join("logs");
    let (api, _api) = start_api(&database_url, &logs_dir, &[]);
    let (worker_metrics, _worker) = start_service(
        &[
            "worker",
            "--api-url",
            &api,
            "--token",
            &worker_token,
            "--name",
            "m1",
            "--logs-dir",
            logs_dir.to_str().unwrap(),
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        "serving metrics",
    );

    assert_eq!(scrape(&api, None).await.0, 401);
    assert_eq!(scrape(&api, Some(&user)).await.0, 403);
    let (status, before) = scrape(&api, Some(&admin)).await;
    assert_eq!(status, 200);

    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for command in [
        vec!["sh", "-c", "echo hello; echo world"],
        vec!["sh", "-c", "echo bye; exit 3"],
        vec!["true"],
    ] {
        let resp = http
            .post(format!("{api}/jobs"))
            .bearer_auth(&user)
            .json(&serde_json::json!({ "command": command }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        ids.push(resp.json::<jobctl::protocol::Job>().await.unwrap().id);
    }
    for id in &ids {
        wait_for(Duration::from_secs(60), || async {
            let job: jobctl::protocol::Job = http
                .get(format!("{api}/jobs/{id}"))
                .bearer_auth(&user)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            job.status.is_terminal().then_some(())
        })
        .await
        .expect("every job ends");
    }
    let tail = http
        .get(format!("{api}/jobs/{}/logs", ids[0]))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    let tail_bytes = tail.bytes().await.unwrap().len() as f64;
    let download = http
        .get(format!("{api}/jobs/{}/logs/download", ids[0]))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(download.starts_with(b"hello\nworld\n"));

    let (_, after) = scrape(&api, Some(&admin)).await;
    let delta = |series: &str| {
        common::metric_sample(&after, series) - common::metric_sample(&before, series)
    };
    assert_eq!(delta("jobctl_jobs_submitted_total"), 3.0, "{after}");
    assert_eq!(
        delta(r#"jobctl_jobs_finished_total{outcome="completed"}"#),
        2.0
    );
    assert_eq!(
        delta(r#"jobctl_jobs_finished_total{outcome="failed"}"#),
        1.0
    );
    assert_eq!(
        common::metric_sample(&after, r#"jobctl_jobs{status="completed"}"#),
        2.0
    );
    assert_eq!(
        common::metric_sample(&after, r#"jobctl_jobs{status="failed"}"#),
        1.0
    );
    assert_eq!(
        common::metric_sample(&after, r#"jobctl_jobs{status="pending"}"#),
        0.0
    );
    assert_eq!(
        common::metric_sample(&after, r#"jobctl_workers{state="active"}"#),
        1.0
    );
    assert_eq!(
        delta(r#"jobctl_log_read_bytes_total{route="/jobs/{id}/logs"}"#),
        tail_bytes
    );
    assert_eq!(
        delta(r#"jobctl_log_read_bytes_total{route="/jobs/{id}/logs/download"}"#),
        download.len() as f64
    );
    assert_eq!(
        delta(r#"jobctl_http_requests_total{route="/jobs",method="POST",status="201"}"#),
        3.0
    );
    // The worker's final reports travel in batches, not one route call per job.
    assert!(
        delta(r#"jobctl_http_requests_total{route="/workers/reports",method="POST",status="200"}"#)
            >= 1.0,
        "{after}"
    );
    assert!(!after.contains(r#"route="/jobs/{id}/status""#), "{after}");
    assert!(delta("jobctl_job_run_seconds_count") >= 3.0, "{after}");
    assert!(delta("jobctl_job_queue_wait_seconds_count") >= 3.0);
    assert!(common::metric_sample(&after, "jobctl_claim_duration_seconds_count") >= 3.0);
    assert!(
        !after.contains(&ids[0].to_string()),
        "routes are templates, never raw paths"
    );

    // A second replica with --metrics-public: no token, the same gauges.
    let (public, _public) = start_api(
        &database_url,
        &dir.path().join("logs2"),
        &["--metrics-public"],
    );
    let (status, replica) = scrape(&public, None).await;
    assert_eq!(status, 200);
    for status in ["pending", "running", "completed", "failed", "cancelled"] {
        let series = format!(r#"jobctl_jobs{{status="{status}"}}"#);
        assert_eq!(
            common::metric_sample(&replica, &series),
            common::metric_sample(&after, &series),
            "{series}"
        );
    }

    let worker_text = reqwest::get(format!("{worker_metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        common::metric_sample(&worker_text, "jobctl_worker_running_jobs"),
        0.0
    );
    assert!(
        common::metric_sample(&worker_text, "jobctl_worker_log_bytes_written_total") >= 10.0,
        "{worker_text}"
    );
    if promtool() {
        promtool_check_metrics(&after);
        promtool_check_metrics(&worker_text);
    }
}

/// The first stderr line of a service process that is a JSON object whose
/// message is `message`; panics if any line before it is not JSON.
fn first_json_line(process: &mut common::ChildGuard, message: &str) -> serde_json::Value {
    let stderr = process.child.as_mut().unwrap().stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = message.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let parsed = serde_json::from_str::<serde_json::Value>(&line)
                .map_err(|e| format!("not JSON ({e}): {line}"));
            let done = parsed
                .as_ref()
                .map_or(true, |v| v["fields"]["message"] == wanted.as_str());
            let _ = tx.send(parsed);
            if done {
                break;
            }
        }
    });
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the service logs its start")
            .unwrap_or_else(|e| panic!("{e}"));
        if line["fields"]["message"] == message {
            return line;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_log_one_json_object_a_line_with_log_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let spawn = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
        cmd.args(args)
            .args(["--log-format", "json"])
            .env_remove("JOBCTL_CONFIG")
            .env_remove("JOBCTL_LOG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        common::ChildGuard::spawn(cmd)
    };
    let mut api = spawn(&["api", "--listen", "127.0.0.1:0", "--data-dir", data_dir]);
    let listening = first_json_line(&mut api, "api listening");
    assert_eq!(listening["level"], "INFO");
    assert!(listening["timestamp"].is_string(), "{listening}");
    let addr = listening["fields"]["addr"].as_str().unwrap().to_string();

    let store = jobctl::store::open(&format!("sqlite://{data_dir}/jobctl.db"))
        .await
        .unwrap();
    let token = jobctl::cmd::token::create(store.as_ref(), "w", Role::Worker)
        .await
        .unwrap();
    let url = format!("http://{addr}");
    let mut worker = spawn(&[
        "worker",
        "--api-url",
        &url,
        "--token",
        &token,
        "--data-dir",
        data_dir,
        "--name",
        "json-worker",
    ]);
    let started = first_json_line(&mut worker, "worker started");
    assert_eq!(started["fields"]["name"], "json-worker");
}

/// `jobctl admin ARGS…`: (success, stderr).
fn admin(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jobctl"))
        .arg("admin")
        .args(args)
        .env_remove("JOBCTL_CONFIG")
        .env_remove("JOBCTL_DATABASE_URL")
        .env("JOBCTL_DATA_DIR", "/nonexistent")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_four_workers_run_restores_to_a_working_api() {
    let api = TestApi::start(&Backend::Sqlite).await;
    let admin_token = api.token("root", Role::Admin).await;
    let user = api.token("alice", Role::User).await;
    let worker_token = api.token("w", Role::Worker).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let script = format!("echo job {i}; sleep 0.3");
        ids.push(api.submit(&user, &["sh", "-c", &script]).await.id);
    }
    let _workers: Vec<_> = (0..4)
        .map(|i| {
            let name = format!("b{i}");
            quiet_worker(&api, &worker_token, &["--name", &name])
        })
        .collect();
    wait_for(Duration::from_secs(30), || async {
        let running = api.list(&admin_token, "/jobs?status=running").await.jobs;
        (running.len() >= 2).then_some(())
    })
    .await
    .expect("the workers run jobs");

    // While they run and write.
    let backup = api.dir.path().join("backup.db");
    let (ok, said) = admin(&[
        "backup",
        backup.to_str().unwrap(),
        "--database",
        &api.database_url,
    ]);
    assert!(ok, "{said}");
    assert!(said.contains("40 jobs, 3 tokens"), "{said}");
    // Never over an existing file.
    let size = std::fs::metadata(&backup).unwrap().len();
    let (ok, said) = admin(&[
        "backup",
        backup.to_str().unwrap(),
        "--database",
        &api.database_url,
    ]);
    assert!(!ok && said.contains("already exists"), "{said}");
    assert_eq!(std::fs::metadata(&backup).unwrap().len(), size);

    // Restore: the copy becomes the database of a new api.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored_db = restored_dir.path().join("jobctl.db");
    std::fs::copy(&backup, &restored_db).unwrap();
    let restored = TestApi::start_on(
        format!("sqlite://{}", restored_db.display()),
        None,
        restored_dir,
        ApiOptions::default(),
    )
    .await;
    // Every token still works, every job is there.
    for id in &ids {
        let job = restored.job(&user, *id).await;
        assert_eq!(job.owner, "alice");
    }
    let all = restored.list(&admin_token, "/jobs?limit=100").await.jobs;
    assert_eq!(all.len(), 40);
    let resp = restored
        .post("/workers/claim", &worker_token)
        .json(&serde_json::json!({"worker": "after-restore"}))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status() == 200 || resp.status() == 204,
        "{}",
        resp.status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_copies_a_thousand_jobs_tokens_and_log_paths_into_an_empty_postgres() {
    let Some(postgres) = Backend::postgres() else {
        return;
    };
    let api = TestApi::start(&Backend::Sqlite).await;
    let admin_token = api.token("root", Role::Admin).await;
    let user = api.token("alice", Role::User).await;
    api.token("w", Role::Worker).await;
    let spec = jobctl::domain::JobSpec::try_from(jobctl::protocol::SubmitJob {
        command: vec!["echo".into(), "hi".into()],
        name: Some("copy me".into()),
        ..Default::default()
    })
    .unwrap();
    // The oldest five ask for GPUs and carry secrets; the claims below take
    // them first and end some, whose secrets go with their end: the rest
    // (of jobs still pending or running) must move with their jobs.
    let big = jobctl::domain::JobSpec::try_from(jobctl::protocol::SubmitJob {
        command: vec!["train".into()],
        gpus: Some(2),
        cpus: Some(3),
        secrets: [("HF_TOKEN".to_string(), "hf-secret-value-1".to_string())]
            .into_iter()
            .collect(),
        ..Default::default()
    })
    .unwrap();
    for _ in 0..5 {
        api.store.insert_job("alice", &big).await.unwrap();
    }
    for _ in 0..995 {
        api.store.insert_job("alice", &spec).await.unwrap();
    }
    // Some run and end, so the copy carries every kind of row.
    let lease = Duration::from_secs(60);
    for i in 0..50 {
        let (job, token) = api
            .store
            .claim_job("w1", lease, &jobctl::store::ClaimOffer::default())
            .await
            .unwrap()
            .unwrap();
        std::fs::create_dir_all(&api.logs_dir).unwrap();
        std::fs::write(api.log_path(job.id), format!("log of {i}\n")).unwrap();
        if i % 2 == 0 {
            let end = jobctl::store::JobEnd {
                status: jobctl::domain::JobStatus::Failed,
                exit_code: Some(3),
                failure_reason: Some("exit code 3".into()),
                ago: Duration::ZERO,
            };
            api.store.finish_job(job.id, &token, &end).await.unwrap();
        }
    }
    api.store
        .request_cancel(
            api.list(&admin_token, "/jobs?status=pending&limit=1")
                .await
                .jobs[0]
                .id,
        )
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (target, _schema) = postgres.fresh_database(dir.path()).await;
    let (ok, said) = admin(&["migrate", "--to", &target, "--database", &api.database_url]);
    assert!(ok, "{said}");
    assert!(said.contains("copied 1000 jobs and 3 tokens"), "{said}");

    let pg = jobctl::store::open(&target).await.unwrap();
    let filter = |limit| jobctl::store::JobFilter {
        limit,
        ..Default::default()
    };
    let before = api.store.list_jobs(&filter(2000)).await.unwrap().jobs;
    let after = pg.list_jobs(&filter(2000)).await.unwrap().jobs;
    assert_eq!(before.len(), 1000);
    assert_eq!(before, after, "every field of every job");
    assert_eq!(
        after.iter().filter(|j| j.gpus == 2 && j.cpus == 3).count(),
        5,
        "what jobs ask for moves with them"
    );
    let secrets_query =
        "SELECT COUNT(*) FROM job_secrets WHERE name = 'HF_TOKEN' AND value = 'hf-secret-value-1'";
    let lite_pool = sqlx::SqlitePool::connect(&api.database_url).await.unwrap();
    let kept: i64 = sqlx::query_scalar(secrets_query)
        .fetch_one(&lite_pool)
        .await
        .unwrap();
    let pg_pool = sqlx::PgPool::connect(&target).await.unwrap();
    let moved: i64 = sqlx::query_scalar(secrets_query)
        .fetch_one(&pg_pool)
        .await
        .unwrap();
    assert!(kept > 0, "some jobs with secrets have not ended");
    assert_eq!(moved, kept, "jobs that have not ended keep their secrets");
    let tokens = |url: String| async move {
        let rows: Vec<(String, String, String, Vec<u8>)> = if url.starts_with("sqlite") {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_as("SELECT name, role, key_id, secret_hash FROM tokens ORDER BY name")
                .fetch_all(&pool)
                .await
                .unwrap()
        } else {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query_as("SELECT name, role, key_id, secret_hash FROM tokens ORDER BY name")
                .fetch_all(&pool)
                .await
                .unwrap()
        };
        rows
    };
    assert_eq!(
        tokens(api.database_url.clone()).await,
        tokens(target.clone()).await
    );

    // An api on PostgreSQL with the same logs dir serves the old logs to
    // the old tokens.
    let moved_dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&api.logs_dir, moved_dir.path().join("logs")).unwrap();
    let moved = TestApi::start_on(target.clone(), None, moved_dir, ApiOptions::default()).await;
    let ran = after
        .iter()
        .filter(|j| j.started_at.is_some())
        .collect::<Vec<_>>();
    assert_eq!(ran.len(), 50);
    for job in ran {
        let resp = moved
            .get(&format!("/jobs/{}/logs/download", job.id), &user)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        assert!(text.starts_with("log of "), "{text:?}");
    }

    // Never into a database that has jobs.
    let (ok, said) = admin(&["migrate", "--to", &target, "--database", &api.database_url]);
    assert!(!ok && said.contains("already has jobs"), "{said}");
    assert_eq!(pg.list_jobs(&filter(2000)).await.unwrap().jobs.len(), 1000);
}

#[test]
fn the_shipped_alert_rules_pass_promtool() {
    if !promtool() {
        return;
    }
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/prometheus/jobctl-alerts.yml"
    );
    let out = Command::new("promtool")
        .args(["check", "rules", rules])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("3 rules found"), "{said}");
    // Every metric the rules use is one the api exports.
    let text = std::fs::read_to_string(rules).unwrap();
    for metric in [
        "jobctl_workers",
        "jobctl_jobs",
        "jobctl_job_queue_wait_seconds_bucket",
        "jobctl_http_requests_total",
    ] {
        assert!(text.contains(metric));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_started_with_no_metrics_answers_404_at_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, _) = Backend::Sqlite.fresh_database(dir.path()).await;
    let store = jobctl::store::open(&database_url).await.unwrap();
    let admin = jobctl::cmd::token::create(store.as_ref(), "root", Role::Admin)
        .await
        .unwrap();
    let (api, _api) = start_api(&database_url, &dir.path().join("logs"), &["--no-metrics"]);
    let (status, body) = scrape(&api, Some(&admin)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("records no metrics"), "{body}");
}
