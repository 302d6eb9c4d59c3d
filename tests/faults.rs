//! Faults that must lose nothing: a full disk under the SQLite database, a
//! PostgreSQL server that turns read-only, floods of idle connections and
//! slow readers. Each drives the real api (and, where it matters, the real
//! binary in its own process).

#[macro_use]
mod common;

use std::time::Duration;

use common::{ApiOptions, Backend, TestApi, wait_for};
use jobctl::domain::{JobId, Role};
use jobctl::protocol::ErrorBody;
use serde_json::json;

const WITHIN: Duration = Duration::from_secs(30);

/// Submits `true`; answers the status and, for a 201, the job's id.
async fn try_submit(api: &TestApi, token: &str) -> (u16, Option<JobId>) {
    let resp = api
        .post("/jobs", token)
        .json(&json!({"command": ["true"]}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    match status {
        201 => (
            status,
            Some(resp.json::<jobctl::protocol::Job>().await.unwrap().id),
        ),
        503 => {
            assert_eq!(
                resp.headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap()),
                Some("5")
            );
            let body: ErrorBody = resp.json().await.unwrap();
            assert!(body.error.contains("cannot be written"), "{}", body.error);
            (status, None)
        }
        other => panic!("submit answered {other}: {:?}", resp.text().await),
    }
}

async fn health(api: &TestApi) -> u16 {
    api.http
        .get(format!("{}/healthz", api.url))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Fills the filesystem of `dir` to the last byte.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // The last partial block, byte by byte.
    while let Ok(1) = file.write(&[0]) {}
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_answers_503_and_loses_no_acknowledged_job() {
    if !common::can_mount("a_full_disk_answers_503_and_loses_no_acknowledged_job") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let tmpfs = common::Tmpfs::mount(&data, "4m");
    let database_url = format!("sqlite://{}", data.join("jobctl.db").display());
    let mut api = TestApi::start_on(database_url, None, dir, ApiOptions::default()).await;
    let user = api.token("alice", Role::User).await;
    let mut acknowledged = vec![api.submit(&user, &["true"]).await.id];
    let filler = fill(&tmpfs.path);
    // Submissions until the database refuses them: each one is either
    // acknowledged and stored, or refused with a 503 — never a 201 that
    // is lost, never a 500.
    let mut refused = 0;
    for _ in 0..300 {
        match try_submit(&api, &user).await {
            (201, Some(id)) => acknowledged.push(id),
            _ => refused += 1,
        }
        if refused >= 20 {
            break;
        }
    }
    assert!(refused >= 20, "the full disk never refused a submission");
    assert_eq!(health(&api).await, 503, "healthz says the database is full");
    for id in &acknowledged {
        assert_eq!(
            api.job(&user, *id).await.id,
            *id,
            "an acknowledged job was lost"
        );
    }
    // Space is back: the same api takes jobs again, without a restart.
    std::fs::remove_file(filler).unwrap();
    wait_for(WITHIN, || async {
        (health(&api).await == 200).then_some(())
    })
    .await
    .expect("healthz recovers once there is space");
    acknowledged.push(api.submit(&user, &["true"]).await.id);
    // And everything acknowledged is in the file, not only in memory.
    api.stop().await;
    api.restart().await;
    let listed = api.list(&user, "/jobs?limit=1000").await.jobs;
    for id in &acknowledged {
        assert!(listed.iter().any(|j| j.id == *id), "job {id} lost");
    }
    assert_eq!(listed.len(), acknowledged.len());
    api.stop().await;
    drop(tmpfs);
}

/// A PostgreSQL role the api logs in as, so that the test can turn its
/// sessions read-only without touching anyone else's; dropped at the end.
struct TestRole {
    base: String,
    name: String,
}

impl TestRole {
    async fn create(base: &str, schema: &str) -> TestRole {
        let name = format!("r_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(base).await.unwrap();
        for sql in [
            format!("CREATE ROLE {name} LOGIN"),
            format!("GRANT ALL ON SCHEMA {schema} TO {name}"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
        TestRole {
            base: base.to_string(),
            name,
        }
    }

    /// Makes the role's sessions read-only (or not) and ends the current
    /// ones, so that the api's pool reconnects with the new setting.
    async fn set_read_only(&self, read_only: bool) {
        let pool = sqlx::PgPool::connect(&self.base).await.unwrap();
        let set = if read_only {
            format!(
                "ALTER ROLE {} SET default_transaction_read_only = on",
                self.name
            )
        } else {
            format!(
                "ALTER ROLE {} RESET default_transaction_read_only",
                self.name
            )
        };
        sqlx::query(sqlx::AssertSqlSafe(set))
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
            .bind(&self.name)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let base = self.base.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&base).await {
                    for sql in [
                        format!("DROP OWNED BY {name} CASCADE"),
                        format!("DROP ROLE {name}"),
                    ] {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                    }
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_postgresql_answers_503_and_recovers_without_a_restart() {
    let Some(Backend::Postgres(base)) = Backend::postgres() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (url, schema) = Backend::Postgres(base.clone())
        .fresh_database(dir.path())
        .await;
    let schema_guard = schema.unwrap();
    let role = TestRole::create(&base, &schema_guard.schema).await;
    let mut role_url = reqwest::Url::parse(&url).unwrap();
    role_url.set_username(&role.name).unwrap();
    let api = TestApi::start_on(
        role_url.to_string(),
        Some(schema_guard),
        dir,
        ApiOptions::default(),
    )
    .await;
    let user = api.token("alice", Role::User).await;
    let before = api.submit(&user, &["true"]).await;
    role.set_read_only(true).await;
    for _ in 0..5 {
        assert_eq!(try_submit(&api, &user).await.0, 503);
    }
    assert_eq!(health(&api).await, 503);
    assert_eq!(
        api.job(&user, before.id).await.id,
        before.id,
        "reads still work"
    );
    role.set_read_only(false).await;
    wait_for(WITHIN, || async {
        (health(&api).await == 200).then_some(())
    })
    .await
    .expect("healthz recovers once the database takes writes");
    api.submit(&user, &["true"]).await;
    assert_eq!(
        api.list(&user, "/jobs").await.jobs.len(),
        2,
        "nothing half-written"
    );
    drop(api);
    drop(role);
}

/// `jobctl api` in a process of its own with an open-file limit of
/// `nofile`, on a SQLite database in `data_dir`; its stderr is kept.
struct ApiProcess {
    child: common::ChildGuard,
    addr: std::net::SocketAddr,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ApiProcess {
    fn start(data_dir: &std::path::Path, nofile: u64) -> ApiProcess {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jobctl"));
        cmd.args(["api", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("JOBCTL_CONFIG")
            .env("JOBCTL_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        // SAFETY: setrlimit is async-signal-safe; it lowers the limit in
        // the child only, as `prlimit --nofile` would.
        unsafe {
            cmd.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: nofile,
                    rlim_max: nofile,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = common::ChildGuard::spawn(cmd);
        let stderr = child.child.as_mut().unwrap().stderr.take().unwrap();
        let kept = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        std::thread::spawn({
            let kept = kept.clone();
            move || {
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("api listening") {
                        let addr = line
                            .split_whitespace()
                            .find_map(|w| w.strip_prefix("addr="))
                            .and_then(|a| a.parse::<std::net::SocketAddr>().ok());
                        let _ = addr_tx.send(addr);
                    }
                    let mut kept = kept.lock().unwrap();
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
        });
        let addr = addr_rx
            .recv_timeout(WITHIN)
            .ok()
            .flatten()
            .expect("the api says where it listens");
        ApiProcess {
            child,
            addr,
            stderr: kept,
        }
    }
}

/// Raises this process's open-file limit as far as allowed: the test
/// itself holds more sockets than the api may.
fn raise_own_nofile() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on our own process with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    limit.rlim_cur
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_connections_and_slow_readers_do_not_keep_a_client_waiting() {
    use tokio::io::AsyncWriteExt;
    if raise_own_nofile() < 2000 {
        eprintln!("SKIPPED: idle connection test (this process may not open 2000 files)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let token = std::process::Command::new(env!("CARGO_BIN_EXE_jobctl"))
        .args([
            "token",
            "create",
            "--name",
            "alice",
            "--role",
            "user",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("JOBCTL_CONFIG")
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let mut api = ApiProcess::start(dir.path(), 1024);
    let url = format!("http://{}", api.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let job: jobctl::protocol::Job = client
        .post(format!("{url}/jobs"))
        .bearer_auth(&token)
        .json(&json!({"command": ["true"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A 4 MiB log, so that each slow reader's tail is a full 1 MiB answer.
    let line = format!("{}\n", "x".repeat(1023));
    std::fs::write(
        dir.path().join("logs").join(format!("{}.log", job.id)),
        line.repeat(4096),
    )
    .unwrap();

    // 1 500 connections that never send a byte, and some that stop half-way
    // through their request's head.
    let mut idle = Vec::new();
    for i in 0..1500 {
        let mut stream = tokio::net::TcpStream::connect(api.addr).await.unwrap();
        if i % 10 == 0 {
            let _ = stream.write_all(b"GET /jobs HTTP/1.1\r\nHost: x\r\n").await;
        }
        idle.push(stream);
    }
    // 50 clients that ask for a 1 MiB tail and never read it.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = tokio::net::TcpStream::connect(api.addr).await.unwrap();
        let request = format!(
            "GET /jobs/{}/logs?tail=10000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
            job.id
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    // A well-behaved client still gets its answers (within the client's
    // 10 s timeout, on a fresh connection each).
    for _ in 0..3 {
        let fresh = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let health = fresh.get(format!("{url}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let tail = fresh
            .get(format!("{url}/jobs/{}/logs?tail=10", job.id))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(tail.status(), 200);
        let chunk: jobctl::protocol::LogChunk = tail.json().await.unwrap();
        assert_eq!(chunk.logs.lines().count(), 10);
        let submitted = fresh
            .post(format!("{url}/jobs"))
            .bearer_auth(&token)
            .json(&json!({"command": ["true"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(submitted.status(), 201);
    }
    let log = api.stderr.lock().unwrap().clone();
    assert!(
        !log.contains("Too many open files"),
        "the api ran out of descriptors: {log}"
    );
    drop(idle);
    drop(slow);
    api.child.signal(nix::sys::signal::Signal::SIGTERM);
    api.child
        .wait(WITHIN)
        .expect("the api stops despite stalled clients");
}
