//! Jobs through the Slurm executor against the same jobs given to Slurm
//! directly: how much jobctl adds to Slurm's own cadence.
//!
//!     # a worker `--executor slurm` already running against the api:
//!     cargo bench --bench slurm -- latency --api URL --token ADMIN_TOKEN --runs 10
//!     cargo bench --bench slurm -- throughput --api URL --token ADMIN_TOKEN --jobs 200
//!
//! `latency` runs one trivial job at a time (`date +%s.%N`, which prints
//! when it started) first through jobctl, then as `sbatch --wait --wrap` of
//! the same command, and reports per path:
//! - submit to running: from just before the submit to the time the job
//!   printed (one clock: everything runs on this machine);
//! - end to end: from just before the submit until the client knows the
//!   job completed (jobctl: `GET /jobs/{id}` every 20 ms; sbatch: `--wait`
//!   returning).
//!
//! `throughput` submits N `true` jobs at once, through jobctl and then with
//! N `sbatch` calls, and reports jobs per second from the first submit until
//! all have ended (jobctl: every job `completed` in the api; sbatch: every
//! job out of `squeue`'s live states).

#[path = "common/mod.rs"]
mod common;

use std::process::{Command as Process, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use common::{Latencies, emit, round3};
use jobctl::domain::JobStatus;
use jobctl::protocol::{Job, LogChunk, SubmitJob};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One trivial job at a time, timed.
    Latency {
        #[command(flatten)]
        api: Api,
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long, default_value = "slurm")]
        label: String,
    },
    /// Short jobs per second.
    Throughput {
        #[command(flatten)]
        api: Api,
        #[arg(long, default_value_t = 200)]
        jobs: usize,
        #[arg(long, default_value = "slurm")]
        label: String,
    },
}

#[derive(clap::Args)]
struct Api {
    /// Base URL of the api.
    #[arg(long)]
    api: String,
    /// A user or admin token.
    #[arg(long)]
    token: String,
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    fn new(api: &Api) -> Client {
        Client {
            http: common::http_client(),
            base: api.api.trim_end_matches('/').to_string(),
            token: api.token.clone(),
        }
    }

    async fn submit(&self, command: &[&str]) -> Result<Job, String> {
        let body = SubmitJob {
            command: command.iter().map(|s| s.to_string()).collect(),
            ..SubmitJob::default()
        };
        let answer = self
            .http
            .post(format!("{}/jobs", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("submit failed: {e}"))?;
        json(answer).await
    }

    async fn job(&self, id: &str) -> Result<Job, String> {
        let answer = self
            .http
            .get(format!("{}/jobs/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET job failed: {e}"))?;
        json(answer).await
    }

    async fn log(&self, id: &str) -> Result<String, String> {
        let answer = self
            .http
            .get(format!("{}/jobs/{id}/logs?offset=0", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET logs failed: {e}"))?;
        Ok(json::<LogChunk>(answer).await?.logs)
    }

    /// Polls every 20 ms until the job has ended; it must have completed.
    async fn completed(&self, id: &str) -> Result<Job, String> {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let job = self.job(id).await?;
            if job.status.is_terminal() {
                if job.status != JobStatus::Completed {
                    return Err(format!(
                        "job {id} ended {} ({})",
                        job.status,
                        job.failure_reason.unwrap_or_default()
                    ));
                }
                return Ok(job);
            }
            if Instant::now() > deadline {
                return Err(format!("job {id} still {} after 10 minutes", job.status));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn json<T: serde::de::DeserializeOwned>(answer: reqwest::Response) -> Result<T, String> {
    let status = answer.status();
    let body = answer.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| format!("unexpected answer: {e}"))
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The start time a job printed (the first line that is not jobctl's).
fn printed_start(log: &str) -> Result<f64, String> {
    log.lines()
        .find(|l| !l.starts_with("[jobctl]") && !l.trim().is_empty())
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("no start time in the job's output: {log:?}"))
}

const PRINT_START: &str = "date +%s.%N";

async fn latency(client: &Client, runs: usize, label: &str) -> Result<(), String> {
    let (mut jobctl_start, mut jobctl_e2e) = (Latencies::default(), Latencies::default());
    let (mut sbatch_start, mut sbatch_e2e) = (Latencies::default(), Latencies::default());
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    for run in 0..runs {
        let submitted = now_epoch();
        let clock = Instant::now();
        let job = client.submit(&["sh", "-c", PRINT_START]).await?;
        client.completed(&job.id.to_string()).await?;
        jobctl_e2e.push(clock.elapsed());
        let started = printed_start(&client.log(&job.id.to_string()).await?)?;
        jobctl_start.push_ms((started - submitted) * 1e3);

        let out = dir.path().join(format!("sbatch-{run}.out"));
        let submitted = now_epoch();
        let clock = Instant::now();
        let status = Process::new("sbatch")
            .args(["--wait", "--quiet", "--export=NONE"])
            .arg(format!("--output={}", out.display()))
            .arg(format!("--wrap={PRINT_START}"))
            .status()
            .map_err(|e| format!("cannot run sbatch: {e}"))?;
        sbatch_e2e.push(clock.elapsed());
        if !status.success() {
            return Err(format!("sbatch --wait failed: {status}"));
        }
        let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
        sbatch_start.push_ms((printed_start(&text)? - submitted) * 1e3);
    }
    for (path, start, e2e) in [
        ("jobctl", jobctl_start, jobctl_e2e),
        ("sbatch --wait", sbatch_start, sbatch_e2e),
    ] {
        let (start, e2e) = (start.summary(), e2e.summary());
        println!(
            "{path:>14}: submit to running p50 {:.0} ms (max {:.0}); end to end p50 {:.0} ms (max {:.0}); {runs} runs",
            start.p50, start.max, e2e.p50, e2e.max
        );
        emit(
            "slurm_latency",
            &format!("{label} {path}"),
            serde_json::json!({
                "runs": runs,
                "submit_to_running": start.json(),
                "end_to_end": e2e.json(),
            }),
        );
    }
    Ok(())
}

async fn throughput(client: &Client, jobs: usize, label: &str) -> Result<(), String> {
    let clock = Instant::now();
    let mut ids = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        ids.push(client.submit(&["true"]).await?.id.to_string());
    }
    for id in &ids {
        client.completed(id).await?;
    }
    let jobctl = jobs as f64 / clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let mut slurm_ids = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let out = Process::new("sbatch")
            .args([
                "--parsable",
                "--export=NONE",
                "--output=/dev/null",
                "--wrap=true",
            ])
            .output()
            .map_err(|e| format!("cannot run sbatch: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "sbatch failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        slurm_ids.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let list = slurm_ids.join(",");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let out = Process::new("squeue")
            .args(["--noheader", "--format=%i"])
            .arg(format!("--jobs={list}"))
            .arg("--states=PENDING,CONFIGURING,RUNNING,COMPLETING,SUSPENDED")
            .output()
            .map_err(|e| format!("cannot run squeue: {e}"))?;
        // squeue answers "Invalid job id" when none is known any more.
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err("the sbatch jobs did not end within 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sbatch = jobs as f64 / clock.elapsed().as_secs_f64();
    println!("{jobs} jobs: jobctl {jobctl:.1} jobs/s, sbatch {sbatch:.1} jobs/s");
    emit(
        "slurm_throughput",
        label,
        serde_json::json!({
            "jobs": jobs,
            "jobctl_jobs_per_s": round3(jobctl),
            "sbatch_jobs_per_s": round3(sbatch),
        }),
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let result = match Args::parse_from(common::args()).command {
        Command::Latency { api, runs, label } => latency(&Client::new(&api), runs, &label).await,
        Command::Throughput { api, jobs, label } => {
            throughput(&Client::new(&api), jobs, &label).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slurm: {e}");
            ExitCode::FAILURE
        }
    }
}
