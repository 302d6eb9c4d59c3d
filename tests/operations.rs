//! What an admin runs jobctl with: the worker fleet (`GET /workers`,
//! `jobctl workers`), Prometheus metrics checked by `promtool`, backups and
//! the move from SQLite to PostgreSQL — with real binaries, on both stores.

#[macro_use]
mod common;

use std::process::Command;
use std::time::Duration;

use common::{ApiOptions, Backend, TestApi, wait_for};
use jobctl::domain::{JobId, Role};
use jobctl::protocol::{WorkerInfo, WorkerList, WorkerState};
use nix::sys::signal::Signal;

backend_tests!(a_worker_is_active_then_draining_then_gone,);

/// A worker whose own log stays out of a passing test's output.
fn quiet_worker(api: &TestApi, token: &str, extra: &[&str]) -> common::ChildGuard {
    let mut cmd = api.worker_command(token, &api.logs_dir, extra);
    cmd.stderr(std::process::Stdio::null());
    common::ChildGuard::spawn(cmd)
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
