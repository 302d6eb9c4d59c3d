//! Diagnostic logging on stderr through `tracing`.
//!
//! Services log at `info`; client commands only warn, so their stdout and
//! stderr stay clean for scripts. `JOBCTL_LOG` (or `RUST_LOG`) overrides, e.g.
//! `JOBCTL_LOG=jobctl=debug`. Under systemd (`JOURNAL_STREAM` set) lines carry
//! no timestamp or colour: journald adds its own.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber.
pub fn init(service: bool) {
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
