//! Scale-out on PostgreSQL with real processes: two `jobctl api` replicas
//! and four `jobctl worker`s sharing one database and one logs directory.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Backend, ChildGuard, wait_for};
use jobctl::domain::{JobId, JobStatus, Role};
use jobctl::protocol::{Job, JobList};
use nix::sys::signal::Signal;
use serde_json::json;

/// A `jobctl api` process; its address is read from its log.
struct ApiReplica {
    url: String,
    _process: ChildGuard,
}

fn start_replica(database_url: &str, logs_dir: &Path, lease: &str) -> ApiReplica {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    cmd.args(["api", "--listen", "127.0.0.1:0", "--lease-timeout", lease])
        .arg("--database")
        .arg(database_url)
        .arg("--logs-dir")
        .arg(logs_dir)
        .env("NO_COLOR", "1")
        .env_remove("JOBCTL_LOG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut process = ChildGuard::spawn(cmd);
    let stderr = process.child.as_mut().unwrap().stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        // Keep draining after the address so the pipe never fills.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !sent && let Some(addr) = line.split("addr=").nth(1) {
                let _ = tx.send(addr.trim().to_string());
                sent = true;
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the api replica reports its address");
    ApiReplica {
        url: format!("http://{addr}"),
        _process: process,
    }
}

fn start_worker(
    api_url: &str,
    token: &str,
    logs_dir: &Path,
    name: &str,
    slots: &str,
) -> ChildGuard {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    cmd.args([
        "worker",
        "--api-url",
        api_url,
        "--token",
        token,
        "--name",
        name,
        "--slots",
        slots,
    ])
    .arg("--logs-dir")
    .arg(logs_dir)
    .args(["--kill-grace", "1s"])
    .env_remove("JOBCTL_CONFIG")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    ChildGuard::spawn(cmd)
}

struct Cluster {
    replicas: Vec<ApiReplica>,
    admin: String,
    worker_token: String,
    logs_dir: std::path::PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _schema: Option<common::SchemaGuard>,
}

async fn cluster(backend: &Backend, lease: &str) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let (database_url, schema) = backend.fresh_database(dir.path()).await;
    let logs_dir = dir.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    // Both replicas start at once: migrations must serialise themselves.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start_replica(&database_url, &logs_dir, lease));
        let b = s.spawn(|| start_replica(&database_url, &logs_dir, lease));
        (a.join().unwrap(), b.join().unwrap())
    });
    let store = jobctl::store::open(&database_url).await.unwrap();
    let admin = jobctl::cmd::token::create(store.as_ref(), "root", Role::Admin)
        .await
        .unwrap();
    let worker_token = jobctl::cmd::token::create(store.as_ref(), "workers", Role::Worker)
        .await
        .unwrap();
    Cluster {
        replicas: vec![a, b],
        admin,
        worker_token,
        logs_dir,
        http: reqwest::Client::new(),
        _dir: dir,
        _schema: schema,
    }
}

impl Cluster {
    async fn submit(&self, replica: usize, command: &[&str]) -> JobId {
        let resp = self
            .http
            .post(format!("{}/jobs", self.replicas[replica].url))
            .bearer_auth(&self.admin)
            .json(&json!({ "command": command }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        resp.json::<Job>().await.unwrap().id
    }

    async fn jobs(&self, replica: usize) -> Vec<Job> {
        self.http
            .get(format!("{}/jobs?limit=1000", self.replicas[replica].url))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap()
            .json::<JobList>()
            .await
            .unwrap()
            .jobs
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_and_four_workers_run_a_thousand_jobs_exactly_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let cluster = cluster(&backend, "60s").await;
    let workers: Vec<_> = (0..4)
        .map(|i| {
            start_worker(
                &cluster.replicas[i % 2].url,
                &cluster.worker_token,
                &cluster.logs_dir,
                &format!("w{i}"),
                "2",
            )
        })
        .collect();
    let runs = cluster.logs_dir.parent().unwrap().join("runs");
    let mut ids = Vec::new();
    for i in 0..1000 {
        let script = format!(
            "echo job {i} start; echo {i} >> {}; echo job {i} end",
            runs.display()
        );
        ids.push(cluster.submit(i % 2, &["sh", "-c", &script]).await);
    }
    let jobs = wait_for(Duration::from_secs(600), || async {
        let jobs = cluster.jobs(1).await;
        jobs.iter().all(|j| j.status.is_terminal()).then_some(jobs)
    })
    .await
    .expect("no job stuck pending or running");
    assert_eq!(jobs.len(), 1000);
    assert!(
        jobs.iter().all(|j| j.status == JobStatus::Completed),
        "every job completed: {:?}",
        jobs.iter().find(|j| j.status != JobStatus::Completed)
    );
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for line in std::fs::read_to_string(&runs).unwrap().lines() {
        *counts.entry(line.parse().unwrap()).or_default() += 1;
    }
    assert_eq!(counts.len(), 1000, "every job ran");
    assert!(counts.values().all(|&n| n == 1), "no job ran twice");
    for (i, job) in jobs.iter().rev().enumerate() {
        let log =
            std::fs::read_to_string(cluster.logs_dir.join(format!("{}.log", job.id))).unwrap();
        let i = ids.iter().position(|id| *id == job.id).unwrap_or(i);
        assert!(
            log.starts_with(&format!("job {i} start\njob {i} end\n"))
                && log.contains("[jobctl] finished: completed"),
            "log of job {i} is complete: {log:?}"
        );
    }
    let per_worker = jobs.iter().fold(HashMap::<String, u32>::new(), |mut m, j| {
        *m.entry(j.worker.clone().unwrap()).or_default() += 1;
        m
    });
    assert_eq!(
        per_worker.len(),
        4,
        "all four workers took jobs: {per_worker:?}"
    );
    drop(workers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_run_loses_only_its_own_jobs() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let cluster = cluster(&backend, "3s").await;
    let mut workers: Vec<_> = (0..4)
        .map(|i| {
            start_worker(
                &cluster.replicas[i % 2].url,
                &cluster.worker_token,
                &cluster.logs_dir,
                &format!("w{i}"),
                "2",
            )
        })
        .collect();
    for i in 0..24 {
        cluster
            .submit(i % 2, &["sh", "-c", "sleep 2; echo done"])
            .await;
    }
    // Wait until the first worker is running something, then kill it.
    wait_for(Duration::from_secs(60), || async {
        let jobs = cluster.jobs(0).await;
        jobs.iter()
            .any(|j| j.status == JobStatus::Running && j.worker.as_deref() == Some("w0"))
            .then_some(())
    })
    .await
    .expect("w0 took a job");
    workers[0].signal(Signal::SIGKILL);
    workers[0].wait(Duration::from_secs(10)).expect("w0 died");
    let jobs = wait_for(Duration::from_secs(180), || async {
        let jobs = cluster.jobs(0).await;
        jobs.iter().all(|j| j.status.is_terminal()).then_some(jobs)
    })
    .await
    .expect("every job ends, the lost ones included");
    let lost: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.status == JobStatus::Failed)
        .collect();
    assert!(!lost.is_empty(), "w0's running jobs were lost");
    for job in &lost {
        assert_eq!(job.failure_reason.as_deref(), Some("worker lost"));
        assert_eq!(
            job.worker.as_deref(),
            Some("w0"),
            "only the killed worker's jobs"
        );
    }
    for job in jobs.iter().filter(|j| j.status != JobStatus::Failed) {
        assert_eq!(job.status, JobStatus::Completed);
        assert_ne!(job.worker.as_deref(), Some("w0"));
    }
    assert_eq!(jobs.len(), 24);
}
