//! `jobctl worker`: run jobs from the api until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::config::{self, ConfigFile};
use crate::domain::parse_duration;
use crate::shutdown::Shutdown;
use crate::worker::redact::RedactMode;
use crate::worker::resources::GpuSetting;
use crate::worker::slurm::SlurmConfig;
use crate::worker::{self, ExecutorConfig, WorkerConfig};

/// Where a worker runs its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorKind {
    /// Child processes of the worker, on this machine
    Local,
    /// Slurm batch jobs, submitted with sbatch from this (login) host
    Slurm,
}

/// Flags of `jobctl worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Where the api is and the worker token (`jobctl token create --role worker`)
    #[command(flatten)]
    pub api: super::ClientArgs,
    /// Directory of job logs: the same path the api reads [default: DATA_DIR/logs]
    #[arg(long, env = "JOBCTL_LOGS_DIR", value_name = "DIR")]
    pub logs_dir: Option<PathBuf>,
    /// Data dir, for the default logs dir and the token of `jobctl up`
    #[arg(long, env = "JOBCTL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Jobs to run at once (local executor; Slurm: --max-jobs)
    #[arg(long, env = "JOBCTL_SLOTS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: u32,
    /// GPU device ids jobs are given, comma-separated (0,1,2,3), `auto` (what
    /// `nvidia-smi -L` lists) or `none`; each job sees only its own in
    /// CUDA_VISIBLE_DEVICES [default: none]
    #[arg(long, env = "JOBCTL_GPUS", value_name = "IDS|auto")]
    pub gpus: Option<GpuSetting>,
    /// CPUs jobs may ask for in all [default: the cores this process may use, or --slots if
    /// more]
    #[arg(long, env = "JOBCTL_CPUS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub cpus: Option<u32>,
    /// This worker's name in job records [default: the host name]
    #[arg(long, env = "JOBCTL_WORKER_NAME", value_name = "NAME")]
    pub name: Option<String>,
    /// Time between SIGTERM and SIGKILL when a job is stopped
    #[arg(long, env = "JOBCTL_KILL_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub kill_grace: Duration,
    /// On SIGTERM/SIGINT, how long running jobs may finish before they are stopped
    #[arg(long, env = "JOBCTL_DRAIN_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// How long to wait for the API at start before exiting with an error
    #[arg(long, env = "JOBCTL_STARTUP_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub startup_timeout: Duration,
    /// What is redacted from jobs' output before it reaches the log: declared secrets and well-known token shapes (all), declared secrets only (secrets), or nothing (off)
    #[arg(long, env = "JOBCTL_REDACT", value_enum, default_value_t = RedactMode::All)]
    pub redact: RedactMode,
    /// Run each job as the local account named like its owner (uid, gid, groups, HOME), as Slurm does; the worker must run as root
    #[arg(long, env = "JOBCTL_RUN_AS_OWNER")]
    pub run_as_owner: bool,
    /// Where jobs run: here, or as Slurm batch jobs (see docs/slurm.md)
    #[arg(long, env = "JOBCTL_EXECUTOR", value_enum, default_value_t = ExecutorKind::Local)]
    pub executor: ExecutorKind,
    /// Slurm: the partition jobs are submitted to [default: the cluster's]
    #[arg(long, env = "JOBCTL_SLURM_PARTITION", value_name = "PARTITION")]
    pub partition: Option<String>,
    /// Slurm: an extra sbatch option for every job, e.g. --sbatch-arg=--account=lab (repeatable)
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Slurm: how many jobs this worker has in Slurm at once, pending or running there
    #[arg(long, env = "JOBCTL_SLURM_MAX_JOBS", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_jobs: u32,
    /// Slurm: how often squeue is asked about this worker's jobs
    #[arg(long, env = "JOBCTL_SLURM_POLL_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub slurm_poll_interval: Duration,
    /// Serve this worker's Prometheus metrics at http://ADDR/metrics (running jobs, log bytes, report retries) and its health at http://ADDR/healthz (503 with the reason while a fault stops it claiming)
    #[arg(long, env = "JOBCTL_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Service log lines: text (journald-friendly) or json (one object a line, for log shippers)
    #[arg(long, env = "JOBCTL_LOG_FORMAT", value_enum, default_value_t = crate::telemetry::LogFormat::Text)]
    pub log_format: crate::telemetry::LogFormat,
    /// Slurm: the jobctl binary batch scripts pipe job output through to redact it, as the compute nodes see it (a shared path when this one is not on them) [default: this binary]
    #[arg(long, env = "JOBCTL_SLURM_REDACTOR", value_name = "PATH")]
    pub redactor: Option<PathBuf>,
}

impl Args {
    /// The worker's configuration after flags, variables, config file and defaults.
    pub fn worker_config(&self, file: &ConfigFile) -> anyhow::Result<WorkerConfig> {
        let data_dir = config::data_dir(self.data_dir.as_deref(), file)?;
        let api_url = config::api_url(self.api.api_url.as_deref(), file, Some(&data_dir));
        if token_on_command_line() {
            tracing::warn!(
                "the worker token was given with --token: every local user can read it in `ps` \
                 or /proc; put it in a file only the worker's user can read and pass \
                 --token-file FILE (or JOBCTL_TOKEN_FILE) instead"
            );
        }
        let token = config::token(
            self.api.token.as_deref(),
            self.api.token_file.as_deref(),
            file,
            Some(&data_dir.join(config::WORKER_TOKEN_FILE)),
        )?
        .context(
            "no worker token: create one with `jobctl token create --name NAME --role worker` \
             and pass it in a private file with --token-file (or JOBCTL_TOKEN_FILE)",
        )?;
        let logs_dir = config::logs_dir(self.logs_dir.as_deref(), file, &data_dir);
        let mut worker = WorkerConfig::new(api_url, token, logs_dir)?;
        worker.slots = self.slots as usize;
        worker.redact = self.redact;
        if self.run_as_owner {
            let uid = nix::unistd::geteuid();
            if !uid.is_root() {
                anyhow::bail!(
                    "--run-as-owner needs the worker to run as root, to switch to each job's \
                     owner; this worker runs as uid {uid}"
                );
            }
            if self.executor == ExecutorKind::Slurm {
                anyhow::bail!(
                    "--run-as-owner is for --executor local; Slurm runs each job as the user \
                     that submits it"
                );
            }
            worker.run_as_owner = true;
        }
        if self.redact == RedactMode::Off {
            tracing::warn!(
                "--redact off: jobs' output reaches their logs unfiltered, the values of their \
                 secrets included"
            );
        }
        match self.executor {
            ExecutorKind::Local => {
                if self.partition.is_some()
                    || !self.sbatch_args.is_empty()
                    || self.redactor.is_some()
                {
                    anyhow::bail!(
                        "--partition, --sbatch-arg and --redactor are for --executor slurm; this worker runs jobs locally"
                    );
                }
                if let Some(gpus) = &self.gpus {
                    worker.gpus = gpus.resolve()?;
                }
                // Unless told, at least one CPU a slot: `--slots N` alone
                // still runs N jobs of the default 1 CPU at once.
                worker.cpus = self
                    .cpus
                    .unwrap_or_else(|| worker::default_cpus().max(self.slots));
            }
            ExecutorKind::Slurm => {
                if self.gpus.is_some() || self.cpus.is_some() {
                    anyhow::bail!(
                        "--gpus and --cpus are for --executor local; with Slurm, jobs' gpus and \
                         cpus go to sbatch (--gres=gpu:N, --cpus-per-task) and Slurm places them"
                    );
                }
                if self.slurm_poll_interval < Duration::from_millis(200) {
                    anyhow::bail!("--slurm-poll-interval must be at least 200ms");
                }
                worker.slots = self.max_jobs as usize;
                worker.executor = ExecutorConfig::Slurm(SlurmConfig {
                    partition: self.partition.clone(),
                    sbatch_args: self.sbatch_args.clone(),
                    poll_interval: self.slurm_poll_interval,
                    redact: self.redact,
                    redactor: self.redactor.clone(),
                });
            }
        }
        if let Some(name) = &self.name {
            worker.name = name.clone();
        }
        worker.kill_grace = self.kill_grace;
        worker.drain_timeout = self.drain_timeout;
        worker.startup_timeout = self.startup_timeout;
        worker.metrics_listen = self.metrics_listen;
        Ok(worker)
    }
}

/// Whether `--token` is among this process's arguments.
fn token_on_command_line() -> bool {
    std::env::args_os().any(|a| {
        let a = a.to_string_lossy();
        a == "--token" || a.starts_with("--token=")
    })
}

/// Runs until the first signal, drains, and exits 0.
pub async fn run(args: Args, file: &ConfigFile, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let config = args.worker_config(file)?;
    worker::run(config, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}
