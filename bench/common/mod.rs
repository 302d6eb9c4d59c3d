//! What the benchmark clients share: latency statistics, the light view of a
//! log answer they parse, process sampling from `/proc`, and the one-line
//! results that `bench/run.sh` turns into tables.
//!
//! Each client is a `cargo bench` target with `harness = false`, so it is a
//! plain `main` that takes its own flags after `--`.

#![allow(dead_code)] // each bench target uses a different part of this module

use std::time::{Duration, Instant};

use serde::Deserialize;

/// The fields of a `GET /jobs/{id}/logs` answer a client needs. `logs` is
/// skipped without being copied: at 1 MiB per answer, building a `String`
/// per answer would cost the client more CPU than the server spends.
#[derive(Debug, Deserialize)]
pub struct LogAnswerHead {
    pub status: String,
    pub offset: u64,
    pub next_offset: u64,
    pub size: u64,
    #[serde(rename = "logs")]
    _logs: serde::de::IgnoredAny,
}

/// The same answer with its text, for clients that read the lines.
#[derive(Debug, Deserialize)]
pub struct LogAnswer {
    pub status: String,
    pub logs: String,
    pub offset: u64,
    pub next_offset: u64,
    pub size: u64,
}

/// Latencies in milliseconds and the order statistics the tables show.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<f64>);

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1e3);
    }

    pub fn push_ms(&mut self, ms: f64) {
        self.0.push(ms);
    }

    pub fn extend(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// min, p50, p99, max (nearest rank); zeros when empty.
    pub fn summary(&self) -> Summary {
        let mut v = self.0.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        let at = |q: f64| {
            if v.is_empty() {
                0.0
            } else {
                let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
                v[rank - 1]
            }
        };
        Summary {
            n: v.len(),
            min: at(0.0),
            p50: at(0.5),
            p99: at(0.99),
            max: v.last().copied().unwrap_or(0.0),
            mean: if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            },
        }
    }
}

/// Order statistics of one set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n, "min_ms": round3(self.min), "p50_ms": round3(self.p50),
            "p99_ms": round3(self.p99), "max_ms": round3(self.max), "mean_ms": round3(self.mean),
        })
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// min, median and max of a few per-run figures.
pub fn min_median_max(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let mid = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (v[0], mid, v[v.len() - 1])
}

/// The process arguments without the `--bench` flag that `cargo bench`
/// appends for a test harness these programs do not have.
pub fn args() -> impl Iterator<Item = String> {
    std::env::args().filter(|a| a != "--bench")
}

/// Prints the machine-readable result line that `bench/run.sh` collects.
pub fn emit(kind: &str, label: &str, mut fields: serde_json::Value) {
    if let Some(map) = fields.as_object_mut() {
        map.insert("kind".into(), kind.into());
        map.insert("label".into(), label.into());
    }
    println!("RESULT {fields}");
}

/// A client for one api. Each follower gets its own so that it holds its
/// own keep-alive connection, as separate browsers and CLIs would.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .expect("a plain HTTP client builds")
}

/// CPU time and memory of a process, read from `/proc/PID`.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    /// user + system time.
    pub cpu: Duration,
    /// Resident set size now, in KiB.
    pub rss_kib: u64,
    /// Peak resident set size since the process started, in KiB.
    pub hwm_kib: u64,
}

impl ProcSample {
    pub fn read(pid: u32) -> Option<ProcSample> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the `(comm)`, which may itself hold spaces.
        let after = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Some(ProcSample {
            cpu: Duration::from_millis(ticks * 1000 / hz),
            rss_kib: kib("VmRSS:")?,
            hwm_kib: kib("VmHWM:")?,
        })
    }
}

/// Samples a process every 100 ms while a measurement runs: its peak RSS
/// seen, its VmHWM, and its CPU use over the run.
pub struct ProcWatch {
    pid: u32,
    start: Option<ProcSample>,
    started: Instant,
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<u64>,
}

/// What a [`ProcWatch`] saw.
#[derive(Debug, Clone, Copy)]
pub struct ProcUsage {
    pub max_rss_mib: f64,
    pub hwm_mib: f64,
    /// CPU time over wall time, in percent of one core.
    pub cpu_percent: f64,
}

impl ProcWatch {
    pub fn start(pid: u32) -> ProcWatch {
        let stop = tokio_util::sync::CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut max_rss = 0;
                let mut tick = tokio::time::interval(Duration::from_millis(100));
                loop {
                    if let Some(s) = ProcSample::read(pid) {
                        max_rss = max_rss.max(s.rss_kib);
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return max_rss,
                        _ = tick.tick() => {}
                    }
                }
            }
        });
        ProcWatch {
            pid,
            start: ProcSample::read(pid),
            started: Instant::now(),
            stop,
            task,
        }
    }

    pub async fn finish(self) -> Option<ProcUsage> {
        self.stop.cancel();
        let max_rss = self.task.await.unwrap_or(0);
        let end = ProcSample::read(self.pid)?;
        let start = self.start?;
        let wall = self.started.elapsed().as_secs_f64();
        Some(ProcUsage {
            max_rss_mib: max_rss.max(end.rss_kib) as f64 / 1024.0,
            hwm_mib: end.hwm_kib as f64 / 1024.0,
            cpu_percent: (end.cpu.saturating_sub(start.cpu)).as_secs_f64() / wall * 100.0,
        })
    }
}

impl ProcUsage {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "api_max_rss_mib": round3(self.max_rss_mib),
            "api_hwm_mib": round3(self.hwm_mib),
            "api_cpu_percent": round3(self.cpu_percent),
        })
    }
}

/// Drops the page cache (root only), so the next read comes from disk.
pub fn drop_caches() -> std::io::Result<()> {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    std::fs::write("/proc/sys/vm/drop_caches", "3\n")
}
