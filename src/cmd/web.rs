//! `jobctl web`: serve the browser UI.

use std::net::SocketAddr;
use std::process::ExitCode;

use crate::config::{self, ConfigFile};
use crate::shutdown::Shutdown;

/// Flags of `jobctl web`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address to listen on
    #[arg(long, env = "JOBCTL_WEB_LISTEN", default_value = config::DEFAULT_WEB_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The API's URL, as this server reaches it
    #[arg(long, env = "JOBCTL_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
}

/// Not delivered yet: says so and fails.
pub async fn run(_args: Args, _file: &ConfigFile, _shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "`jobctl web` is not available in this build yet: the browser UI is tracked in its own issue"
    )
}
