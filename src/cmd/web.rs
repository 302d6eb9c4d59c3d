//! `jobctl web`: serve the browser UI until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{self, ConfigFile};
use crate::shutdown::Shutdown;
use crate::web::{self, WebConfig, WebServer};

/// Flags of `jobctl web`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on
    #[arg(long, env = "JOBCTL_WEB_LISTEN", default_value = config::DEFAULT_WEB_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The API's URL, as this server reaches it [default: what `jobctl up` recorded, else http://127.0.0.1:8765]
    #[arg(long, env = "JOBCTL_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// Data dir, where `jobctl up` records the API's URL [default: ~/.local/share/jobctl]
    #[arg(long, env = "JOBCTL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Service log lines: text (journald-friendly) or json (one object a line, for log shippers)
    #[arg(long, env = "JOBCTL_LOG_FORMAT", value_enum, default_value_t = crate::telemetry::LogFormat::Text)]
    pub log_format: crate::telemetry::LogFormat,
}

/// Serves until the first SIGINT or SIGTERM.
pub async fn run(args: Args, file: &ConfigFile, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    // No data dir (no $HOME) only loses the recorded URL, not the command.
    let data_dir = config::data_dir(args.data_dir.as_deref(), file).ok();
    let api_url = config::api_url(args.api_url.as_deref(), file, data_dir.as_deref());
    let server = WebServer::build(WebConfig::new(api_url.clone()), args.listen).await?;
    eprintln!(
        "jobctl web: open {} (API: {api_url})",
        web::browse_url(server.local_addr())
    );
    server.run_until_stopped(shutdown.graceful).await?;
    tracing::info!("web UI stopped");
    Ok(ExitCode::SUCCESS)
}
