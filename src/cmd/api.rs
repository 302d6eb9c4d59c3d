//! `jobctl api`: serve the REST API until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::api::{self, ApiConfig, ApiServer};
use crate::config::{self, ConfigFile};
use crate::domain::parse_duration;
use crate::shutdown::Shutdown;

/// Where the api keeps its state.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]
    #[arg(
        long = "database",
        env = "JOBCTL_DATABASE_URL",
        value_name = "URL",
        global = true
    )]
    pub database: Option<String>,
    /// Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]
    #[arg(long, env = "JOBCTL_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

impl StorageArgs {
    /// The data dir and database URL after flags, variables, config file and defaults.
    pub fn resolve(&self, file: &ConfigFile) -> anyhow::Result<(PathBuf, String)> {
        let data_dir = config::data_dir(self.data_dir.as_deref(), file)?;
        let url = config::database_url(self.database.as_deref(), file, &data_dir);
        Ok((data_dir, url))
    }
}

/// Flags of `jobctl api`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on
    #[arg(long, env = "JOBCTL_LISTEN", default_value = config::DEFAULT_API_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Directory of job logs, the same path as on every worker [default: DATA_DIR/logs]
    #[arg(long, env = "JOBCTL_LOGS_DIR", value_name = "DIR")]
    pub logs_dir: Option<PathBuf>,
    /// Delete finished jobs and their logs after this many days
    #[arg(long, env = "JOBCTL_RETENTION_DAYS", default_value_t = 90,
          value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub retention_days: u32,
    /// Fail a running job as `worker lost` when its worker has not heartbeated for this long
    #[arg(long, env = "JOBCTL_LEASE_TIMEOUT", default_value = "60s", value_parser = parse_lease)]
    pub lease_timeout: Duration,
    /// Connections served at once; beyond it the longest-idle one is closed, or the new one gets a 503 [capped by the open-file limit]
    #[arg(long, env = "JOBCTL_MAX_CONNECTIONS", default_value_t = api::DEFAULT_MAX_CONNECTIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Serve /metrics without a token (for a Prometheus inside a private network); otherwise it takes an admin token
    #[arg(long, env = "JOBCTL_METRICS_PUBLIC", conflicts_with = "no_metrics")]
    pub metrics_public: bool,
    /// Record no metrics; /metrics answers 404
    #[arg(long, env = "JOBCTL_NO_METRICS")]
    pub no_metrics: bool,
    /// Service log lines: text (journald-friendly) or json (one object a line, for log shippers)
    #[arg(long, env = "JOBCTL_LOG_FORMAT", value_enum, default_value_t = crate::telemetry::LogFormat::Text)]
    pub log_format: crate::telemetry::LogFormat,
}

/// A lease between 1 s and 1 h: shorter would fail healthy workers on a hiccup.
pub fn parse_lease(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
        return Err("lease timeout must be between 1s and 1h".into());
    }
    Ok(d)
}

impl Args {
    /// The api's configuration after every source of settings.
    pub fn api_config(&self, file: &ConfigFile) -> anyhow::Result<ApiConfig> {
        let (data_dir, url) = self.storage.resolve(file)?;
        let logs_dir = config::logs_dir(self.logs_dir.as_deref(), file, &data_dir);
        let mut api = ApiConfig::new(url, logs_dir);
        api.retention = Duration::from_secs(u64::from(self.retention_days) * 24 * 3600);
        api.lease_timeout = self.lease_timeout;
        api.reap_interval = api::default_reap_interval(self.lease_timeout);
        api.reap_grace = api::default_reap_grace(self.lease_timeout);
        api.max_connections = self.max_connections as usize;
        api.metrics_public = self.metrics_public;
        api.metrics = !self.no_metrics;
        Ok(api)
    }
}

/// Serves until the first SIGINT or SIGTERM.
pub async fn run(args: Args, file: &ConfigFile, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let api_config = args.api_config(file)?;
    tracing::info!(
        database = %api::redact(&api_config.database_url),
        logs_dir = %api_config.logs_dir.display(),
        "starting api"
    );
    let server = ApiServer::build(api_config, args.listen).await?;
    server.run_until_stopped(shutdown.graceful).await?;
    tracing::info!("api stopped");
    Ok(ExitCode::SUCCESS)
}
