//! jobctl: run long jobs on worker machines and watch their output while
//! they run.
//!
//! One binary holds every part: the REST API ([`api`]), the worker that runs
//! jobs with live logs ([`worker`]), the browser UI ([`web`]) and the client
//! commands ([`cmd`]). [`domain`] and [`protocol`] are the types they share;
//! [`store`] owns job state.

pub mod api;
pub mod auth;
pub mod cli;
pub mod client;
pub mod cmd;
pub mod config;
pub mod domain;
pub mod exit;
pub mod fsinfo;
pub mod log_search;
pub mod logs;
pub mod metrics;
pub mod protocol;
pub mod retry;
pub mod server;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod worker;

use std::process::ExitCode;

use cli::{Cli, Command};
use config::ConfigFile;
use shutdown::Shutdown;

/// The async runtime every command runs on. Blocking threads (log reads,
/// file streams) are capped, and on glibc `malloc` keeps to two arenas:
/// by default each thread that allocates gets an arena of its own, and the
/// api's RSS grew with its thread count past 64 MiB under 1 000 followers
/// (BENCHMARKS.md).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only tunes the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
}

/// Runs one parsed command line to its exit status.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let file = ConfigFile::load(cli.config.as_deref())?;
    let shutdown = if cli.command.handles_signals() {
        Shutdown::on_signals()?
    } else {
        Shutdown::default()
    };
    match cli.command {
        Command::Api(args) => cmd::api::run(args, &file, shutdown).await,
        Command::Worker(args) => cmd::worker::run(args, &file, shutdown).await,
        Command::Web(args) => cmd::web::run(args, &file, shutdown).await,
        Command::Up(args) => cmd::up::run(args, &file, shutdown).await,
        Command::Submit(args) => cmd::submit::run(args, &file, shutdown.graceful).await,
        Command::List(args) => cmd::list::run(args, &file).await,
        Command::Show(args) => cmd::show::run(args, &file).await,
        Command::Cancel(args) => cmd::cancel::run(args, &file).await,
        Command::Logs(args) => cmd::logs::run(args, &file, shutdown.graceful).await,
        Command::Token(args) => cmd::token::run(args, &file).await,
        Command::Workers(args) => cmd::workers::run(args, &file).await,
        Command::Admin(args) => cmd::admin::run(args, &file).await,
        Command::Completions(args) => cmd::completions::run(args),
        Command::RunJob(args) => Ok(worker::shim::run(args)),
        Command::Redact(args) => Ok(worker::redact::filter(&args)),
    }
}
