//! Diagnostic logging on stderr through `tracing`.
//!
//! Services log at `info`; client commands only warn, so their stdout and
//! stderr stay clean for scripts. `JOBCTL_LOG` (or `RUST_LOG`) overrides, e.g.
//! `JOBCTL_LOG=jobctl=debug`. Under systemd (`JOURNAL_STREAM` set) lines carry
//! no timestamp or colour: journald adds its own. With `--log-format json`
//! every line is one JSON object (timestamp, level, fields), for log
//! shippers (Vector, Promtail, Fluent Bit).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How service log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (no timestamp under systemd: journald adds one)
    #[default]
    Text,
    /// One JSON object per line
    Json,
}

/// Installs the global subscriber.
pub fn init(service: bool, format: LogFormat) {
    let default = if service {
        "info,sqlx=warn,tower_http=warn"
    } else {
        "warn"
    };
    let filter = std::env::var("JOBCTL_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    if format == LogFormat::Json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_current_span(false)
            .init();
        return;
    }
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi && !journald)
        .with_target(false);
    if journald {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
