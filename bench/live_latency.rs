//! Live latency: from a line being written by a job to that line being
//! returned by the api to a client polling back to back with `offset`.
//!
//!     cargo bench --bench live_latency -- --api http://127.0.0.1:PORT --token TOKEN \
//!         --job ID --duration 20
//!
//! The job is `bench/writer.py`, whose lines start with their write time in
//! nanoseconds since the epoch and a sequence number. The client and the job
//! run on the same machine, so they share the clock. A skipped or repeated
//! sequence number is an error and makes the exit status non-zero.

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use common::{Latencies, LogAnswer, emit};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    api: String,
    #[arg(long)]
    token: String,
    /// A job running `bench/writer.py`.
    #[arg(long)]
    job: String,
    /// Seconds to measure, from the first line seen.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Give up when no line has come after this many seconds.
    #[arg(long, default_value_t = 30.0)]
    patience: f64,
    #[arg(long, default_value = "live")]
    label: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse_from(common::args());
    let client = common::http_client();
    let url = format!("{}/jobs/{}/logs", args.api.trim_end_matches('/'), args.job);
    let mut latencies = Latencies::default();
    let mut requests = 0u64;
    let mut errors = 0u64;
    let mut pending = String::new();
    let mut last_seq: Option<u64> = None;
    let mut first_line_at: Option<Instant> = None;
    let began = Instant::now();
    // Start at the end, as a follower that has just shown the tail.
    let mut offset = match get(&client, &url, &args.token, &[("tail", 0)]).await {
        Ok(a) => a.next_offset,
        Err(e) => {
            eprintln!("live_latency: {e}");
            return ExitCode::FAILURE;
        }
    };
    loop {
        if let Some(t) = first_line_at
            && t.elapsed() > Duration::from_secs_f64(args.duration)
        {
            break;
        }
        if first_line_at.is_none() && began.elapsed() > Duration::from_secs_f64(args.patience) {
            eprintln!(
                "live_latency: no line from job {} after {}s",
                args.job, args.patience
            );
            return ExitCode::FAILURE;
        }
        requests += 1;
        let answer = match get(&client, &url, &args.token, &[("offset", offset)]).await {
            Ok(a) => a,
            Err(e) => {
                errors += 1;
                eprintln!("live_latency: {e}");
                continue;
            }
        };
        let received_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos() as i128;
        if answer.offset != offset {
            errors += 1;
            eprintln!(
                "live_latency: asked for offset {offset}, got {}",
                answer.offset
            );
        }
        offset = answer.next_offset;
        pending.push_str(&answer.logs);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let mut fields = line.split_whitespace();
            let (Some(ts), Some(seq)) = (fields.next(), fields.next()) else {
                continue;
            };
            let (Ok(ts), Ok(seq)) = (ts.parse::<i128>(), seq.parse::<u64>()) else {
                continue; // a [jobctl] line
            };
            if let Some(last) = last_seq
                && seq != last + 1
            {
                errors += 1;
                eprintln!("live_latency: line {seq} after line {last}");
            }
            last_seq = Some(seq);
            first_line_at.get_or_insert_with(Instant::now);
            latencies.push_ms((received_ns - ts) as f64 / 1e6);
        }
        if matches!(answer.status.as_str(), "completed" | "failed" | "cancelled")
            && answer.next_offset >= answer.size
        {
            break;
        }
    }
    let s = latencies.summary();
    println!(
        "{:<24} {} lines over {requests} requests: min {:.3} ms  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms, {errors} errors",
        args.label, s.n, s.min, s.p50, s.p99, s.max
    );
    let mut fields = s.json();
    fields["requests"] = requests.into();
    fields["errors"] = errors.into();
    emit("live", &args.label, fields);
    if errors > 0 || s.n == 0 {
        eprintln!("live_latency: {errors} errors, {} lines", s.n);
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    query: &[(&str, u64)],
) -> Result<LogAnswer, String> {
    let answer = client
        .get(url)
        .query(query)
        .bearer_auth(token)
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
    serde_json::from_slice(&body).map_err(|e| format!("not a log answer: {e}"))
}
