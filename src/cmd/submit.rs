//! `jobctl submit [flags] -- CMD ARGS…`: submit a job, print its id.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::logs::{Start, follow, parse_interval};
use super::{ClientArgs, output};
use crate::config::ConfigFile;
use crate::domain::{Secrets, parse_duration};
use crate::protocol::SubmitJob;

/// Flags of `jobctl submit`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "The command runs without a shell; for pipes or globs use \
    `jobctl submit -- sh -c 'CMD | CMD'`.\n\
    With --follow the exit status says how the job ended: 0 completed, 1 failed, 3 cancelled."
)]
pub struct Args {
    /// A name to recognise the job by
    #[arg(long)]
    pub name: Option<String>,
    /// Stop the job after this long, e.g. 90s, 30m, 2h
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// GPUs the job needs; it sees only those in CUDA_VISIBLE_DEVICES [default: 0]
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=crate::domain::limits::MAX_GPUS as i64))]
    pub gpus: Option<u32>,
    /// CPUs the job needs [default: 1]
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=crate::domain::limits::MAX_CPUS as i64))]
    pub cpus: Option<u32>,
    /// Set a variable for the job (K=V), or pass this shell's value (K); repeatable
    #[arg(long = "env", short = 'e', value_name = "K=V")]
    pub env: Vec<String>,
    /// Pass the secret NAME from this shell's environment variable NAME: set in the job's environment, never shown, redacted from its output; repeatable
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    /// Working directory on the worker [default: the current directory]
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Follow the job's output until it ends: the log goes to stdout and the job id to
    /// stderr (Ctrl-C stops following, not the job)
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Poll interval when following
    #[arg(long, default_value = "5s", value_parser = parse_interval, requires = "follow")]
    pub interval: Duration,
    /// Print the whole job as JSON instead of its id
    #[arg(long, conflicts_with = "follow")]
    pub json: bool,
    /// The command and its arguments, after `--`
    #[arg(required = true, num_args = 1.., last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
    #[command(flatten)]
    pub client: ClientArgs,
}

impl Args {
    /// The request body, validated as far as the client can.
    pub fn job(&self) -> anyhow::Result<SubmitJob> {
        let command = self
            .command
            .iter()
            .map(|a| {
                a.clone()
                    .into_string()
                    .map_err(|a| anyhow::anyhow!("command argument {a:?} is not valid UTF-8"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut env = BTreeMap::new();
        for pair in &self.env {
            let (k, v) = match pair.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (
                    pair.clone(),
                    std::env::var(pair).with_context(|| {
                        format!("--env {pair}: no such variable here; write --env {pair}=VALUE")
                    })?,
                ),
            };
            env.insert(k, v);
        }
        let mut secrets = Secrets::default();
        for name in &self.secrets {
            if name.contains('=') {
                anyhow::bail!(
                    "--secret {}: give the name of an environment variable only; the value is \
                     read from it, never from the command line (where `ps` shows it)",
                    name.split('=').next().unwrap_or_default()
                );
            }
            let value = match std::env::var(name) {
                Ok(v) => v,
                Err(std::env::VarError::NotPresent) => anyhow::bail!(
                    "--secret {name}: the environment variable {name} is not set; export it \
                     first (the value is read from the environment, never from the command line)"
                ),
                Err(std::env::VarError::NotUnicode(_)) => {
                    anyhow::bail!("--secret {name}: the value of {name} is not valid UTF-8")
                }
            };
            secrets.0.insert(name.clone(), value);
        }
        let cwd = match &self.cwd {
            Some(dir) => std::path::absolute(dir)
                .with_context(|| format!("invalid --cwd {}", dir.display()))?,
            None => std::env::current_dir().context("cannot read the current directory")?,
        };
        let cwd = cwd
            .into_os_string()
            .into_string()
            .map_err(|d| anyhow::anyhow!("working directory {d:?} is not valid UTF-8"))?;
        let timeout_seconds = match self.timeout {
            Some(t) if t.is_zero() => anyhow::bail!("--timeout must be longer than 0s"),
            // Round up: a timeout of 1.5s must not become 1s.
            Some(t) => Some(t.as_secs() + u64::from(t.subsec_nanos() > 0)),
            None => None,
        };
        Ok(SubmitJob {
            command,
            name: self.name.clone(),
            cwd: Some(cwd),
            env,
            secrets,
            timeout_seconds,
            gpus: self.gpus,
            cpus: self.cpus,
        })
    }
}

/// Submits, prints the id (or JSON), and follows when asked.
pub async fn run(
    args: Args,
    file: &ConfigFile,
    interrupt: CancellationToken,
) -> anyhow::Result<ExitCode> {
    let body = args.job()?;
    let client = args.client.client(file)?;
    let job = client.submit(&body).await?;
    if args.json {
        output::print_json(&job)?;
    } else if args.follow {
        eprintln!("jobctl: submitted job {}", job.id);
    } else {
        output::print_line(&job.id.to_string())?;
    }
    if args.follow {
        return follow(&client, job.id, Start::Beginning, args.interval, interrupt).await;
    }
    Ok(ExitCode::SUCCESS)
}
