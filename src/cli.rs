//! The command line: every subcommand and flag, defined once with clap.
//!
//! The man pages in `man/` and the completions in `completions/` are
//! generated from these definitions (see `tests/generated.rs`).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd;

/// Run long jobs on worker machines and watch their output live.
#[derive(Debug, Parser)]
#[command(
    name = "jobctl",
    version,
    about = "Run long jobs on worker machines and watch their output while they run",
    long_about = "Run long jobs on worker machines and watch their output while they run.\n\n\
        Start everything on one machine with `jobctl up`, then submit with \
        `jobctl submit -- CMD ARGS…` and watch with `jobctl logs ID --follow`.",
    after_help = "Exit status: 0 success (a followed job completed), 1 a followed job failed, \
        2 usage or API error, 3 a followed job was cancelled, 130 interrupted.",
    propagate_version = true
)]
pub struct Cli {
    /// Config file [default: ~/.config/jobctl/config.toml]
    #[arg(long, global = true, env = "JOBCTL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the REST API (job state, logs, auth)
    Api(cmd::api::Args),
    /// Run a worker: claim jobs and run them with live logs
    Worker(cmd::worker::Args),
    /// Run the browser UI
    Web(cmd::web::Args),
    /// Run api, worker and web UI in one process, for one machine
    Up(cmd::up::Args),
    /// Submit a job; prints its id
    Submit(cmd::submit::Args),
    /// List jobs, newest first
    List(cmd::list::Args),
    /// Show every field of a job
    Show(cmd::show::Args),
    /// Cancel a pending or running job
    Cancel(cmd::cancel::Args),
    /// Print a job's log, or follow it while it runs
    Logs(cmd::logs::Args),
    /// List the workers: state, executor, slots, running jobs (admins)
    Workers(cmd::workers::Args),
    /// Create, list and revoke API tokens (works on the database directly)
    Token(cmd::token::Args),
    /// Back up the store, or move it from SQLite to PostgreSQL (works on the database directly)
    Admin(cmd::admin::Args),
    /// Print shell completions
    Completions(cmd::completions::Args),
    /// Internal: the per-job supervisor a worker starts
    #[command(hide = true, name = "__run-job")]
    RunJob(RunJobArgs),
    /// Internal: the output filter of a Slurm job's batch script
    #[command(hide = true, name = "__redact")]
    Redact(RedactArgs),
}

/// Arguments of the internal output filter: stdin, redacted, to stdout.
#[derive(Debug, clap::Args)]
pub struct RedactArgs {
    /// Redact the well-known token shapes
    #[arg(long)]
    pub shapes: bool,
    /// Redact the value of this environment variable (a job secret);
    /// repeatable
    #[arg(long, value_name = "NAME")]
    pub secret: Vec<String>,
}

/// The supervisor's `--kill-grace-ms` when none is given.
pub const DEFAULT_KILL_GRACE_MS: u64 = 10_000;

/// Arguments of the internal job supervisor.
#[derive(Debug, clap::Args)]
pub struct RunJobArgs {
    /// The supervisor's end of the worker's control socket
    #[arg(long)]
    pub control_fd: i32,
    /// The job's working directory, entered by the supervisor
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// The job's id, for the supervisor's process name
    #[arg(long)]
    pub job_id: Option<String>,
    /// Stop the job when the worker has not renewed its lease for this long
    #[arg(long, value_name = "MS")]
    pub lease_ms: Option<u64>,
    /// Between SIGTERM and SIGKILL when the lease runs out
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_KILL_GRACE_MS)]
    pub kill_grace_ms: u64,
    /// Redact the well-known token shapes from the job's output
    #[arg(long)]
    pub redact_shapes: bool,
    /// Redact the value of this environment variable (a job secret) from
    /// the job's output; repeatable
    #[arg(long, value_name = "NAME")]
    pub redact_secret: Vec<String>,
    /// Run the job as this local account (uid, gid, supplementary groups,
    /// HOME, USER, LOGNAME); the supervisor must run as root
    #[arg(long, value_name = "USER")]
    pub run_as: Option<String>,
    /// The job's argv
    #[arg(last = true, required = true)]
    pub command: Vec<std::ffi::OsString>,
}

impl Command {
    /// Whether the command turns SIGINT/SIGTERM into a clean stop. The
    /// others keep the default: Ctrl-C ends them at once, even mid-request.
    pub fn handles_signals(&self) -> bool {
        match self {
            Command::Logs(args) => args.follow,
            Command::Submit(args) => args.follow,
            other => other.is_service(),
        }
    }

    /// How a service writes its log lines (client commands: text).
    pub fn log_format(&self) -> crate::telemetry::LogFormat {
        match self {
            Command::Api(a) => a.log_format,
            Command::Worker(a) => a.log_format,
            Command::Web(a) => a.log_format,
            Command::Up(a) => a.log_format,
            _ => crate::telemetry::LogFormat::Text,
        }
    }

    /// Long-running services log at `info`; client commands stay quiet.
    pub fn is_service(&self) -> bool {
        matches!(
            self,
            Command::Api(_) | Command::Worker(_) | Command::Web(_) | Command::Up(_)
        )
    }
}
