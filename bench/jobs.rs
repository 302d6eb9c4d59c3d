//! Whole jobs through a real worker: claim throughput and worker overhead.
//!
//!     # short jobs (`true`) per second, with a worker already running:
//!     cargo bench --bench jobs -- claims --api URL --token ADMIN_TOKEN --jobs 300 --runs 3
//!
//!     # one big job, timed by its record and by the client:
//!     cargo bench --bench jobs -- overhead --api URL --token ADMIN_TOKEN --runs 5 \
//!         --logs-dir DIR/logs --command 'head -c 1073741824 /dev/zero'
//!
//! `claims` submits the jobs as fast as it can, `--submitters` requests in
//! flight at once (8 by default, as a lab's many users and scripts submit;
//! each submit is its own commit, so one at a time the submitter alone capped
//! the rate near 1 000/s on SQLite, whose commits reach the disk before they
//! are answered — before this, the bench submitted one at a time), and waits
//! until each has ended. It reports jobs per second between the first job's
//! `started_at` and the last one's `finished_at` (what the worker and the api
//! sustain), and from the first submit to the last `finished_at` (end to end,
//! which also holds the submissions and the idle worker's poll of up to one
//! second).
//!
//! `overhead` reports, per run, the job's runtime from its record
//! (`finished_at - started_at`: claim to final report, log creation, the
//! supervisor and the final fdatasync included) and the time from submit to
//! `completed` seen by the client (polling every 10 ms).
//!
//! Every job must end `completed`; anything else makes the exit status
//! non-zero.

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use common::{emit, min_median_max, round3};
use jobctl::domain::JobStatus;
use jobctl::protocol::{Job, SubmitJob};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Short jobs per second.
    Claims {
        #[command(flatten)]
        api: Api,
        /// Jobs per run.
        #[arg(long, default_value_t = 300)]
        jobs: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long, default_value = "claims")]
        label: String,
        /// GPUs the jobs ask for, cycled over them (`0,1,2`: a mix of
        /// 0-, 1- and 2-GPU jobs); none given: every job asks for none.
        #[arg(long, value_delimiter = ',')]
        gpus_mix: Vec<u32>,
        /// Submits in flight at once (1: one after the other, as before).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
        submitters: u32,
    },
    /// One job at a time, timed.
    Overhead {
        #[command(flatten)]
        api: Api,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Remove each job's log after its run (it may be large).
        #[arg(long)]
        logs_dir: Option<std::path::PathBuf>,
        #[arg(long, default_value = "overhead")]
        label: String,
        /// The job's command, split on whitespace (`cargo bench` appends
        /// a flag of its own after everything, so no trailing `-- CMD`).
        #[arg(long)]
        command: String,
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
    /// A client that keeps `connections` open between requests: one per
    /// request in flight, so concurrent submits reuse their connections
    /// instead of opening new ones.
    fn new(api: &Api, connections: usize) -> Client {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .expect("a plain HTTP client builds");
        Client {
            http,
            base: api.api.trim_end_matches('/').to_string(),
            token: api.token.clone(),
        }
    }

    async fn submit(&self, command: &[String], gpus: Option<u32>) -> Result<Job, String> {
        let body = SubmitJob {
            command: command.to_vec(),
            gpus,
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
        Self::parse(answer).await
    }

    async fn job(&self, id: &str) -> Result<Job, String> {
        let answer = self
            .http
            .get(format!("{}/jobs/{id}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET job failed: {e}"))?;
        Self::parse(answer).await
    }

    async fn parse(answer: reqwest::Response) -> Result<Job, String> {
        let status = answer.status();
        let body = answer.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        serde_json::from_slice(&body).map_err(|e| format!("not a job: {e}"))
    }

    /// Polls until the job has ended.
    async fn wait(&self, id: &str, every: Duration, patience: Duration) -> Result<Job, String> {
        let deadline = Instant::now() + patience;
        loop {
            let job = self.job(id).await?;
            if job.status.is_terminal() {
                return Ok(job);
            }
            if Instant::now() > deadline {
                return Err(format!("job {id} still {} after {patience:?}", job.status));
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// When a job that had to complete started and finished; an error when it
/// ended any other way.
fn completed_span(job: &Job) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let id = job.id;
    if job.status != JobStatus::Completed {
        return Err(format!(
            "job {id} ended {} ({})",
            job.status,
            job.failure_reason.as_deref().unwrap_or_default()
        ));
    }
    match (job.started_at, job.finished_at) {
        (Some(s), Some(f)) => Ok((s, f)),
        _ => Err(format!("job {id} has no started_at/finished_at")),
    }
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let result = match Args::parse_from(common::args()).command {
        Command::Claims {
            api,
            jobs,
            runs,
            label,
            gpus_mix,
            submitters,
        } => {
            let client = Client::new(&api, submitters as usize);
            claims(&client, jobs, runs, &label, &gpus_mix, submitters).await
        }
        Command::Overhead {
            api,
            runs,
            logs_dir,
            label,
            command,
        } => {
            let command: Vec<String> = command.split_whitespace().map(String::from).collect();
            overhead(&Client::new(&api, 1), runs, logs_dir, &label, &command).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jobs: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn claims(
    client: &Client,
    jobs: usize,
    runs: usize,
    label: &str,
    gpus_mix: &[u32],
    submitters: u32,
) -> Result<(), String> {
    use futures_util::{StreamExt, TryStreamExt};
    let command = vec!["true".to_string()];
    let mut worker_rates = Vec::new();
    let mut e2e_rates = Vec::new();
    for run in 1..=runs {
        let submitted_at = Utc::now();
        let ids: Vec<String> = futures_util::stream::iter(0..jobs)
            .map(|i| {
                let gpus = (!gpus_mix.is_empty()).then(|| gpus_mix[i % gpus_mix.len()]);
                let command = &command;
                async move { Ok::<_, String>(client.submit(command, gpus).await?.id.to_string()) }
            })
            .buffered(submitters as usize)
            .try_collect()
            .await?;
        let submit_s = seconds(submitted_at, Utc::now());
        let patience = Duration::from_secs(60 + jobs as u64);
        client
            .wait(
                ids.last().expect("jobs > 0"),
                Duration::from_millis(50),
                patience,
            )
            .await?;
        let mut first_start: Option<DateTime<Utc>> = None;
        let mut last_finish: Option<DateTime<Utc>> = None;
        for id in &ids {
            let job = client.wait(id, Duration::from_millis(50), patience).await?;
            let (s, f) = completed_span(&job)?;
            first_start = Some(first_start.map_or(s, |x| x.min(s)));
            last_finish = Some(last_finish.map_or(f, |x| x.max(f)));
        }
        let (first_start, last_finish) = (
            first_start.expect("jobs > 0"),
            last_finish.expect("jobs > 0"),
        );
        let worker_rate = jobs as f64 / seconds(first_start, last_finish);
        let e2e_rate = jobs as f64 / seconds(submitted_at, last_finish);
        println!(
            "{label:<24} run {run}: {jobs} jobs, {worker_rate:.1} jobs/s started→finished, {e2e_rate:.1} jobs/s submit→finished (submitting took {submit_s:.2} s, {submitters} at once)"
        );
        emit(
            "claims_run",
            label,
            serde_json::json!({"run": run, "jobs": jobs, "jobs_per_s": round3(worker_rate),
                "e2e_jobs_per_s": round3(e2e_rate), "submit_s": round3(submit_s),
                "submitters": submitters}),
        );
        worker_rates.push(worker_rate);
        e2e_rates.push(e2e_rate);
    }
    let (a, b, c) = min_median_max(&worker_rates);
    let (d, e, f) = min_median_max(&e2e_rates);
    emit(
        "claims",
        label,
        serde_json::json!({"jobs": jobs, "runs": runs,
            "jobs_per_s": [round3(a), round3(b), round3(c)],
            "e2e_jobs_per_s": [round3(d), round3(e), round3(f)]}),
    );
    Ok(())
}

async fn overhead(
    client: &Client,
    runs: usize,
    logs_dir: Option<std::path::PathBuf>,
    label: &str,
    command: &[String],
) -> Result<(), String> {
    let mut runtimes = Vec::new();
    let mut e2e = Vec::new();
    for run in 1..=runs {
        let sent = Instant::now();
        let job = client.submit(command, None).await?;
        let id = job.id.to_string();
        let job = client
            .wait(&id, Duration::from_millis(10), Duration::from_secs(600))
            .await?;
        let seen = sent.elapsed().as_secs_f64();
        let (s, f) = completed_span(&job)?;
        let runtime = seconds(s, f);
        let mut log_bytes = None;
        if let Some(dir) = &logs_dir {
            let path = dir.join(format!("{id}.log"));
            log_bytes = std::fs::metadata(&path).ok().map(|m| m.len());
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        }
        println!(
            "{label:<24} run {run}: runtime {runtime:.3} s (started_at→finished_at), submit→completed {seen:.3} s{}",
            log_bytes
                .map(|b| format!(", log {b} B"))
                .unwrap_or_default()
        );
        emit(
            "overhead_run",
            label,
            serde_json::json!({"run": run, "runtime_s": round3(runtime), "submit_to_completed_s": round3(seen),
                "log_bytes": log_bytes}),
        );
        runtimes.push(runtime);
        e2e.push(seen);
    }
    let (a, b, c) = min_median_max(&runtimes);
    let (d, e, f) = min_median_max(&e2e);
    emit(
        "overhead",
        label,
        serde_json::json!({"runs": runs,
            "runtime_s": [round3(a), round3(b), round3(c)],
            "submit_to_completed_s": [round3(d), round3(e), round3(f)]}),
    );
    Ok(())
}
