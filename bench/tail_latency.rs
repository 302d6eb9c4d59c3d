//! Latency of one tail request, repeated: `GET URL` one request at a time
//! over one keep-alive connection, the whole answer read and parsed.
//!
//!     cargo bench --bench tail_latency -- --url 'http://127.0.0.1:PORT/jobs/ID/logs?tail=1000' \
//!         --token TOKEN --requests 200 --warmup 10 --label jobctl/1MiB [--drop-caches]
//!
//! The same client measures jobctl and the FastAPI reference, so the two
//! figures differ only by the server. With `--drop-caches` the page cache is
//! dropped before each request (root only): a cold read from disk.

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use common::{Latencies, drop_caches, emit};

#[derive(Parser)]
struct Args {
    /// The full URL to GET.
    #[arg(long)]
    url: String,
    /// Bearer token, if the server wants one.
    #[arg(long)]
    token: Option<String>,
    /// Timed requests.
    #[arg(long, default_value_t = 100)]
    requests: usize,
    /// Untimed requests first (they warm the connection and the cache).
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Drop the page cache before each timed request.
    #[arg(long)]
    drop_caches: bool,
    /// Name of this figure in the results.
    #[arg(long, default_value = "tail")]
    label: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse_from(common::args());
    let client = common::http_client();
    let mut latencies = Latencies::default();
    let mut bytes = 0usize;
    for i in 0..args.warmup + args.requests {
        let timed = i >= args.warmup;
        if timed
            && args.drop_caches
            && let Err(e) = drop_caches()
        {
            eprintln!("tail_latency: cannot drop the page cache (root needed): {e}");
            return ExitCode::FAILURE;
        }
        let mut request = client.get(&args.url);
        if let Some(token) = &args.token {
            request = request.bearer_auth(token);
        }
        let started = Instant::now();
        let answer = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("tail_latency: {}: request failed: {e}", args.label);
                return ExitCode::FAILURE;
            }
        };
        let status = answer.status();
        let body = match answer.bytes().await {
            Ok(b) => b,
            Err(e) => {
                eprintln!(
                    "tail_latency: {}: reading the answer failed: {e}",
                    args.label
                );
                return ExitCode::FAILURE;
            }
        };
        // Parse it as a browser or the CLI would: the text is what they want.
        let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&body);
        let elapsed = started.elapsed();
        if !status.is_success() || parsed.is_err() {
            eprintln!(
                "tail_latency: {}: HTTP {status}: {}",
                args.label,
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
            return ExitCode::FAILURE;
        }
        if timed {
            latencies.push(elapsed);
            bytes = body.len();
        }
    }
    let s = latencies.summary();
    println!(
        "{:<28} n={:<4} min {:>9.3} ms  p50 {:>9.3} ms  p99 {:>9.3} ms  max {:>9.3} ms  ({} B answer)",
        args.label, s.n, s.min, s.p50, s.p99, s.max, bytes
    );
    let mut fields = s.json();
    fields["answer_bytes"] = bytes.into();
    fields["cold"] = args.drop_caches.into();
    emit("tail", &args.label, fields);
    ExitCode::SUCCESS
}
