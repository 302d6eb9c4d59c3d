//! A lab's scale: `GET /jobs` over many jobs, and log search over a big log.
//!
//!     cargo bench --bench paging -- seed --database URL --jobs 100000
//!     cargo bench --bench paging -- list --api URL --token T --requests 500 \
//!         --depth 90000 --label sqlite
//!     cargo bench --bench paging -- search --api URL --token T --job ID \
//!         --q 'loss=0.1234 ' --runs 5 --expect 1024 --label '1GiB'
//!
//! `seed` writes jobs straight into the api's database (the api would take
//! minutes to accept 100 000 submissions), 50 owners, every status, then
//! has the database analyse the table. `list` times one request at a time
//! over one keep-alive connection: the first page (100 jobs), filtered first
//! pages (one owner, one status), and a deep page (100 jobs, `depth` jobs
//! in, its cursor found by an untimed walk). `search` times a whole search of
//! a log — every request, `after=next_after`, until the end — and checks
//! that it found `expect` lines (what `grep -F -c` counts), that no request
//! scanned more than the per-request bound, and reports both.

#[path = "common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use common::{Latencies, emit};
use serde::Deserialize;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Insert jobs straight into a jobctl database (already migrated).
    Seed {
        /// sqlite://PATH or postgres://… (as the api's --database)
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 100_000)]
        jobs: u64,
    },
    /// Latency of GET /jobs pages.
    List {
        #[arg(long)]
        api: String,
        #[arg(long)]
        token: String,
        /// Timed requests per figure.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Untimed requests first.
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// How many jobs in the deep page starts.
        #[arg(long, default_value_t = 90_000)]
        depth: usize,
        /// The store, to name the figures.
        #[arg(long)]
        label: String,
    },
    /// Time of a whole search of a log, request after request.
    Search {
        #[arg(long)]
        api: String,
        #[arg(long)]
        token: String,
        #[arg(long)]
        job: String,
        #[arg(long)]
        q: String,
        #[arg(long)]
        ignore_case: bool,
        /// Matching lines per request.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// The number of matching lines there must be (from grep -F -c).
        #[arg(long)]
        expect: Option<u64>,
        #[arg(long)]
        label: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse_from(common::args());
    let result = match args.command {
        Command::Seed { database, jobs } => seed(&database, jobs).await,
        Command::List {
            api,
            token,
            requests,
            warmup,
            depth,
            label,
        } => list(&api, &token, requests, warmup, depth, &label).await,
        Command::Search {
            api,
            token,
            job,
            q,
            ignore_case,
            limit,
            runs,
            expect,
            label,
        } => {
            let query = Search {
                api,
                token,
                job,
                q,
                ignore_case,
                limit,
            };
            search(&query, runs, expect, &label).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("paging: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn seed(database: &str, jobs: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    if let Some(path) = database.strip_prefix("sqlite://") {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
        let pool = sqlx::SqlitePool::connect_with(options).await?;
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO jobs (id, name, owner, command, status, exit_code, created_at) \
             SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'run ' || i, 'user' || (i % 50), \
                    '[\"python\",\"train.py\",\"--seed\",\"' || i || '\"]', \
                    CASE i % 5 WHEN 0 THEN 'pending' WHEN 1 THEN 'running' WHEN 2 THEN 'completed' \
                               WHEN 3 THEN 'failed' ELSE 'cancelled' END, \
                    CASE i % 5 WHEN 2 THEN 0 WHEN 3 THEN 1 END, \
                    1700000000000000 + i * 1000000 \
             FROM n",
        )
        .bind(jobs as i64)
        .execute(&pool)
        .await?;
        sqlx::query("ANALYZE").execute(&pool).await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database).await?;
        sqlx::query(
            "INSERT INTO jobs (id, name, owner, command, status, exit_code, created_at) \
             SELECT md5(i::text)::uuid, 'run ' || i, 'user' || (i % 50), \
                    jsonb_build_array('python', 'train.py', '--seed', i::text), \
                    (ARRAY['pending','running','completed','failed','cancelled'])[i % 5 + 1], \
                    CASE i % 5 WHEN 2 THEN 0 WHEN 3 THEN 1 END, \
                    timestamptz '2023-11-14' + make_interval(secs => i) \
             FROM generate_series(1, $1) AS i",
        )
        .bind(jobs as i64)
        .execute(&pool)
        .await?;
        sqlx::query("ANALYZE jobs").execute(&pool).await?;
        pool.close().await;
    }
    eprintln!(
        "paging: seeded {jobs} jobs in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[derive(Deserialize)]
struct Page {
    jobs: Vec<serde::de::IgnoredAny>,
    next_cursor: Option<String>,
}

async fn get_page(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<(Page, std::time::Duration)> {
    let started = Instant::now();
    let resp = client.get(url).bearer_auth(token).send().await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    anyhow::ensure!(
        status.is_success(),
        "{url}: HTTP {status}: {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
    let page: Page = serde_json::from_slice(&body)?;
    Ok((page, started.elapsed()))
}

async fn list(
    api: &str,
    token: &str,
    requests: usize,
    warmup: usize,
    depth: usize,
    label: &str,
) -> anyhow::Result<()> {
    let client = common::http_client();
    // The deep page's cursor: walk there in pages of 1000, untimed.
    let mut cursor = None;
    let mut walked = 0;
    while walked < depth {
        let limit = (depth - walked).min(1000);
        let url = match &cursor {
            Some(c) => format!("{api}/jobs?limit={limit}&cursor={c}"),
            None => format!("{api}/jobs?limit={limit}"),
        };
        let (page, _) = get_page(&client, &url, token).await?;
        walked += page.jobs.len();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => anyhow::bail!("only {walked} jobs; the deep page needs more than {depth}"),
        }
    }
    let cursor = cursor.unwrap_or_default();
    let figures = [
        ("first page", format!("{api}/jobs?limit=100")),
        (
            "first page, one owner",
            format!("{api}/jobs?limit=100&owner=user7"),
        ),
        (
            "first page, status=failed",
            format!("{api}/jobs?limit=100&status=failed"),
        ),
        (
            "first page, status=pending,running",
            format!("{api}/jobs?limit=100&status=pending,running"),
        ),
        ("deep page", format!("{api}/jobs?limit=100&cursor={cursor}")),
        // No index serves a substring: 11 of the jobs match, so every row
        // is read. Shown for scale; the target is about paging.
        (
            "q=--seed 1234 (reads every job)",
            format!("{api}/jobs?limit=100&q=--seed%201234"),
        ),
    ];
    for (what, url) in figures {
        let mut latencies = Latencies::default();
        // The full scan is slow by nature: fewer of them.
        let requests = if what.starts_with("q=") {
            requests.div_ceil(10)
        } else {
            requests
        };
        for i in 0..warmup + requests {
            let (page, elapsed) = get_page(&client, &url, token).await?;
            anyhow::ensure!(!page.jobs.is_empty(), "{what}: no jobs");
            if i >= warmup {
                latencies.push(elapsed);
            }
        }
        let s = latencies.summary();
        let name = format!("{label}: {what}");
        println!(
            "{name:<46} n={:<4} min {:>7.3} ms  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
            s.n, s.min, s.p50, s.p99, s.max
        );
        let mut fields = s.json();
        fields["depth"] = if what == "deep page" { walked } else { 0 }.into();
        fields["full_scan"] = what.starts_with("q=").into();
        emit("list", &name, fields);
    }
    Ok(())
}

struct Search {
    api: String,
    token: String,
    job: String,
    q: String,
    ignore_case: bool,
    limit: u32,
}

#[derive(Deserialize)]
struct Found {
    matches: Vec<serde::de::IgnoredAny>,
    next_after: Option<u64>,
    scanned_bytes: u64,
    size: u64,
}

async fn search(
    query: &Search,
    runs: usize,
    expect: Option<u64>,
    label: &str,
) -> anyhow::Result<()> {
    let client = common::http_client();
    let mut latencies = Latencies::default();
    let (mut requests, mut matches, mut max_scanned, mut size) = (0, 0u64, 0u64, 0u64);
    for run in 0..runs + 1 {
        let started = Instant::now();
        let (mut n, mut found, mut after) = (0, 0u64, 0u64);
        loop {
            let resp = client
                .get(format!("{}/jobs/{}/logs/search", query.api, query.job))
                .query(&[
                    ("q", query.q.as_str()),
                    (
                        "ignore_case",
                        if query.ignore_case { "true" } else { "false" },
                    ),
                ])
                .query(&[("limit", u64::from(query.limit)), ("after", after)])
                .bearer_auth(&query.token)
                .send()
                .await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            anyhow::ensure!(
                status.is_success(),
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
            let page: Found = serde_json::from_slice(&body)?;
            n += 1;
            found += page.matches.len() as u64;
            max_scanned = max_scanned.max(page.scanned_bytes);
            size = page.size;
            match page.next_after {
                Some(next) => after = next,
                None => break,
            }
        }
        // The first run warms the page cache and the connection.
        if run > 0 {
            latencies.push(started.elapsed());
        }
        requests = n;
        matches = found;
    }
    if let Some(expect) = expect {
        anyhow::ensure!(
            matches == expect,
            "{label}: found {matches} matching lines, grep -F -c counts {expect}"
        );
    }
    let s = latencies.summary();
    println!(
        "{label:<32} runs={:<3} min {:>9.1} ms  p50 {:>9.1} ms  max {:>9.1} ms  \
         ({requests} requests, {matches} lines, at most {max_scanned} B scanned per request)",
        s.n, s.min, s.p50, s.max
    );
    let mut fields = s.json();
    fields["requests"] = requests.into();
    fields["matches"] = matches.into();
    fields["max_scanned_bytes"] = max_scanned.into();
    fields["size"] = size.into();
    emit("search", label, fields);
    Ok(())
}
