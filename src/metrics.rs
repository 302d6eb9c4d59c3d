//! Prometheus metrics of the api and the worker.
//!
//! Recorded with the `metrics` facade and rendered by
//! `metrics-exporter-prometheus` (default features off: its push-gateway and
//! HTTP-listener features pull in a TLS stack with a C build, and each
//! service serves `/metrics` from its own router anyway). Chosen over
//! `prometheus-client` because it renders the classic Prometheus text
//! format that `promtool check metrics` and every scraper read, while
//! recording stays a lock-free atomic add behind a one-line macro.
//!
//! The recorder is process-wide: one per `jobctl api` or `jobctl worker`
//! process. Counters and histograms are this process's; the job and worker
//! gauges are read from the database at scrape time, so every api replica
//! reports the same figures.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::JobStatus;
use crate::protocol::{Job, WorkerState};

/// The `Content-Type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets for request latencies (seconds): 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Buckets for how long jobs wait and run (seconds): 1 s to 1 day.
const JOB_BUCKETS: &[f64] = &[
    1.0,
    5.0,
    15.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4.0 * 3600.0,
    12.0 * 3600.0,
    86400.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns the handle that
/// renders it; `None` if another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Prefix("jobctl_job_".into()), JOB_BUCKETS)
                .and_then(|b| b.set_buckets(LATENCY_BUCKETS))
                .expect("the bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    describe_gauge!("jobctl_jobs", "Jobs in each status now (from the database)");
    describe_gauge!(
        "jobctl_workers",
        "Known workers in each state now (from the database)"
    );
    describe_counter!("jobctl_jobs_submitted_total", "Jobs submitted to this api");
    describe_counter!(
        "jobctl_jobs_finished_total",
        "Jobs that ended through this api, by outcome (completed, failed, cancelled)"
    );
    describe_histogram!(
        "jobctl_job_queue_wait_seconds",
        Unit::Seconds,
        "Time from submission to claim"
    );
    describe_histogram!(
        "jobctl_job_run_seconds",
        Unit::Seconds,
        "Time from claim to end, for jobs that ran"
    );
    describe_histogram!(
        "jobctl_log_read_duration_seconds",
        Unit::Seconds,
        "Time to answer a log read, by route (to the first byte of a download)"
    );
    describe_counter!(
        "jobctl_log_read_bytes_total",
        Unit::Bytes,
        "Bytes of log answers sent, by route"
    );
    describe_histogram!(
        "jobctl_claim_duration_seconds",
        Unit::Seconds,
        "Time the api takes to answer a claim"
    );
    describe_counter!(
        "jobctl_http_requests_total",
        "HTTP requests answered, by route template, method and status"
    );
    describe_gauge!("jobctl_worker_running_jobs", "Jobs this worker runs now");
    describe_counter!(
        "jobctl_worker_log_bytes_written_total",
        Unit::Bytes,
        "Bytes in the logs of the jobs this worker ran, counted as each job ends"
    );
    describe_counter!(
        "jobctl_worker_report_retries_total",
        "Final reports retried because the api did not take them"
    );
    describe_counter!(
        "jobctl_worker_redactions_total",
        "Stretches of job output replaced by [redacted] (secret values, their encodings, token shapes)"
    );
}

/// A job was submitted.
pub fn job_submitted() {
    counter!("jobctl_jobs_submitted_total").increment(1);
}

/// A job was claimed: how long it waited.
pub fn job_claimed(job: &Job) {
    if let Some(started) = job.started_at {
        let waited = (started - job.created_at).to_std().unwrap_or_default();
        metrics::histogram!("jobctl_job_queue_wait_seconds").record(waited.as_secs_f64());
    }
}

/// A job ended (count it once: on the call that ended it).
pub fn job_finished(job: &Job) {
    counter!("jobctl_jobs_finished_total", "outcome" => job.status.as_str()).increment(1);
    if let (Some(started), Some(finished)) = (job.started_at, job.finished_at) {
        let ran = (finished - started).to_std().unwrap_or_default();
        metrics::histogram!("jobctl_job_run_seconds").record(ran.as_secs_f64());
    }
}

/// A job was failed as `worker lost`.
pub fn job_lost() {
    counter!("jobctl_jobs_finished_total", "outcome" => JobStatus::Failed.as_str()).increment(1);
}

/// A claim was answered in `took`.
pub fn claim_answered(took: Duration) {
    metrics::histogram!("jobctl_claim_duration_seconds").record(took.as_secs_f64());
}

/// Sets the gauges read from the database at scrape time.
pub fn set_fleet(jobs: &[(JobStatus, u64)], workers: &[WorkerState]) {
    for status in JobStatus::ALL {
        let n = jobs
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n);
        gauge!("jobctl_jobs", "status" => status.as_str()).set(n as f64);
    }
    for state in [
        WorkerState::Active,
        WorkerState::Draining,
        WorkerState::Gone,
    ] {
        let n = workers.iter().filter(|w| **w == state).count();
        gauge!("jobctl_workers", "state" => state.as_str()).set(n as f64);
    }
}

/// Worker side: one more job running; the returned guard counts it out.
pub fn worker_job_running() -> RunningJob {
    gauge!("jobctl_worker_running_jobs").increment(1.0);
    RunningJob(())
}

/// Counts a running job out of `jobctl_worker_running_jobs` when dropped.
pub struct RunningJob(());

impl Drop for RunningJob {
    fn drop(&mut self) {
        gauge!("jobctl_worker_running_jobs").decrement(1.0);
    }
}

/// Worker side: a job's log held `bytes` when it ended.
pub fn worker_log_written(bytes: u64) {
    counter!("jobctl_worker_log_bytes_written_total").increment(bytes);
}

/// Worker side: a final report is retried.
pub fn worker_report_retried() {
    counter!("jobctl_worker_report_retries_total").increment(1);
}

/// Worker side: a job's supervisor replaced `count` stretches of its
/// output (secret values, their encodings, token shapes), each by one
/// `[redacted]` marker; reported once, as the job ends.
pub fn worker_redacted(count: u64) {
    counter!("jobctl_worker_redactions_total").increment(count);
}
