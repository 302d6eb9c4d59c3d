//! Many followers of one live log: N clients, each with its own connection,
//! each first asking for the tail (as `jobctl logs --follow` does) and then
//! polling `logs?offset=` from its own `next_offset` every `--interval`
//! seconds, or back to back with `--interval 0` (the stress run).
//!
//!     cargo bench --bench followers -- --api http://127.0.0.1:PORT --token TOKEN \
//!         --job ID --clients 1000 --interval 5 --duration 45 --runs 3 --api-pid PID
//!
//! Clients start spread evenly over one interval. Every answer must be a 200
//! whose `offset` is exactly where the client asked to start: anything else
//! (an error status, a transport error, a gap) counts as an error, and any
//! error makes the exit status non-zero. With `--api-pid` the api's RSS
//! (sampled every 100 ms, and its VmHWM) and CPU are reported too.

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use common::{Latencies, LogAnswerHead, ProcWatch, emit, min_median_max, round3};

#[derive(Parser)]
struct Args {
    /// Base URL of the api.
    #[arg(long)]
    api: String,
    #[arg(long)]
    token: String,
    /// The job whose log is followed.
    #[arg(long)]
    job: String,
    /// Concurrent followers.
    #[arg(long)]
    clients: usize,
    /// Seconds between one follower's polls; 0 polls back to back.
    #[arg(long)]
    interval: f64,
    /// Seconds each run lasts.
    #[arg(long)]
    duration: f64,
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// The api's process id, to sample its memory and CPU.
    #[arg(long)]
    api_pid: Option<u32>,
    #[arg(long, default_value = "followers")]
    label: String,
}

/// What one follower saw during one run.
#[derive(Default)]
struct FollowerReport {
    latencies: Latencies,
    tail_latencies: Latencies,
    errors: Vec<String>,
}

/// Shared counters of one run.
#[derive(Default)]
struct Totals {
    bytes: AtomicU64,
    errors: AtomicU64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse_from(common::args());
    let mut p50s = Vec::new();
    let mut p99s = Vec::new();
    let mut rates = Vec::new();
    let mut max_rss = 0f64;
    let mut max_hwm = 0f64;
    let mut cpus = Vec::new();
    let mut errors_total = 0u64;
    let mut requests_total = 0usize;
    for run in 1..=args.runs {
        let (summary, rps, mibps, errors, usage) = one_run(&args).await;
        requests_total += summary.n;
        errors_total += errors;
        p50s.push(summary.p50);
        p99s.push(summary.p99);
        rates.push(rps);
        let mut fields = summary.json();
        fields["run"] = run.into();
        fields["clients"] = args.clients.into();
        fields["interval_s"] = args.interval.into();
        fields["requests_per_s"] = round3(rps).into();
        fields["mib_per_s"] = round3(mibps).into();
        fields["errors"] = errors.into();
        if let Some(u) = usage {
            max_rss = max_rss.max(u.max_rss_mib);
            max_hwm = max_hwm.max(u.hwm_mib);
            cpus.push(u.cpu_percent);
            if let (Some(f), Some(u)) = (fields.as_object_mut(), u.json().as_object()) {
                f.extend(u.clone());
            }
        }
        println!(
            "{:<24} run {run}: {} requests, {:.0} req/s, {:.1} MiB/s, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {errors} errors{}",
            args.label,
            summary.n,
            rps,
            mibps,
            summary.p50,
            summary.p99,
            summary.max,
            usage
                .map(|u| format!(
                    ", api RSS max {:.1} MiB (HWM {:.1}), api CPU {:.0}%",
                    u.max_rss_mib, u.hwm_mib, u.cpu_percent
                ))
                .unwrap_or_default()
        );
        emit("followers_run", &args.label, fields);
    }
    let (p50_min, p50_med, p50_max) = min_median_max(&p50s);
    let (p99_min, p99_med, p99_max) = min_median_max(&p99s);
    let (rps_min, rps_med, rps_max) = min_median_max(&rates);
    let (cpu_min, cpu_med, cpu_max) = min_median_max(&cpus);
    emit(
        "followers",
        &args.label,
        serde_json::json!({
            "clients": args.clients, "interval_s": args.interval, "runs": args.runs,
            "duration_s": args.duration, "requests": requests_total, "errors": errors_total,
            "p50_ms": [round3(p50_min), round3(p50_med), round3(p50_max)],
            "p99_ms": [round3(p99_min), round3(p99_med), round3(p99_max)],
            "requests_per_s": [round3(rps_min), round3(rps_med), round3(rps_max)],
            "api_cpu_percent": [round3(cpu_min), round3(cpu_med), round3(cpu_max)],
            "api_max_rss_mib": round3(max_rss), "api_hwm_mib": round3(max_hwm),
        }),
    );
    if errors_total > 0 {
        eprintln!("followers: {errors_total} errors");
        return ExitCode::FAILURE;
    }
    if requests_total == 0 {
        eprintln!("followers: no request completed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn one_run(args: &Args) -> (common::Summary, f64, f64, u64, Option<common::ProcUsage>) {
    let base = args.api.trim_end_matches('/').to_string();
    let totals = Arc::new(Totals::default());
    // Build every client first: the run measures polling, not set-up.
    let clients: Vec<reqwest::Client> = (0..args.clients).map(|_| common::http_client()).collect();
    let watch = args.api_pid.map(ProcWatch::start);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration);
    let interval = Duration::from_secs_f64(args.interval);
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let stagger = interval.mul_f64(i as f64 / args.clients as f64);
        tasks.push(tokio::spawn(follow(
            client,
            format!("{base}/jobs/{}/logs", args.job),
            args.token.clone(),
            started + stagger,
            interval,
            deadline,
            totals.clone(),
        )));
    }
    let mut all = Latencies::default();
    let mut tails = Latencies::default();
    let mut shown = 0;
    for task in tasks {
        let report = task.await.expect("a follower task panicked");
        all.extend(report.latencies);
        tails.extend(report.tail_latencies);
        for e in report.errors {
            if shown < 5 {
                eprintln!("followers: {e}");
                shown += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let usage = match watch {
        Some(w) => w.finish().await,
        None => None,
    };
    let summary = all.summary();
    let t = tails.summary();
    println!(
        "{:<24}        first tail=1000 requests: n={} p50 {:.3} ms p99 {:.3} ms max {:.3} ms",
        args.label, t.n, t.p50, t.p99, t.max
    );
    let rps = summary.n as f64 / elapsed;
    let mibps = totals.bytes.load(Ordering::Relaxed) as f64 / elapsed / (1024.0 * 1024.0);
    (
        summary,
        rps,
        mibps,
        totals.errors.load(Ordering::Relaxed),
        usage,
    )
}

/// One follower: a tail, then offset polls until the deadline.
async fn follow(
    client: reqwest::Client,
    url: String,
    token: String,
    first_at: Instant,
    interval: Duration,
    deadline: Instant,
    totals: Arc<Totals>,
) -> FollowerReport {
    let mut report = FollowerReport::default();
    tokio::time::sleep_until(first_at.into()).await;
    let mut offset: Option<u64> = None;
    let mut next_at = tokio::time::Instant::now();
    while Instant::now() < deadline {
        let request = match offset {
            None => client.get(&url).query(&[("tail", 1000)]),
            Some(at) => client.get(&url).query(&[("offset", at)]),
        };
        let started = Instant::now();
        match fetch(request.bearer_auth(&token)).await {
            Ok((answer, len)) => {
                let elapsed = started.elapsed();
                totals.bytes.fetch_add(len as u64, Ordering::Relaxed);
                match offset {
                    None => report.tail_latencies.push(elapsed),
                    Some(at) if answer.offset != at || answer.next_offset < at => {
                        totals.errors.fetch_add(1, Ordering::Relaxed);
                        report.errors.push(format!(
                            "asked for offset {at}, got offset {} next_offset {}",
                            answer.offset, answer.next_offset
                        ));
                    }
                    Some(_) => report.latencies.push(elapsed),
                }
                if answer.next_offset > answer.size {
                    totals.errors.fetch_add(1, Ordering::Relaxed);
                    report.errors.push(format!(
                        "next_offset {} beyond size {} (status {})",
                        answer.next_offset, answer.size, answer.status
                    ));
                }
                offset = Some(answer.next_offset);
            }
            Err(e) => {
                totals.errors.fetch_add(1, Ordering::Relaxed);
                report.errors.push(e);
            }
        }
        if !interval.is_zero() {
            next_at += interval;
            tokio::time::sleep_until(next_at).await;
        }
    }
    report
}

async fn fetch(request: reqwest::RequestBuilder) -> Result<(LogAnswerHead, usize), String> {
    let answer = request
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = answer.status();
    let body = answer
        .bytes()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    }
    let parsed = serde_json::from_slice::<LogAnswerHead>(&body)
        .map_err(|e| format!("not a log answer: {e}"))?;
    Ok((parsed, body.len()))
}
