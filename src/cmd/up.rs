//! `jobctl up`: api, worker and web UI in one process on embedded defaults —
//! the one-command way to run jobctl on one machine.
//!
//! On first start it creates an admin token and a worker token and keeps
//! them in the data dir (mode 0600), with the api's URL, so that client
//! commands on this machine work with no set-up.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiConfig, ApiServer};
use crate::auth;
use crate::config::{self, ConfigFile};
use crate::domain::Role;
use crate::shutdown::Shutdown;
use crate::store::{JobStore, StoreError};
use crate::web::{self, WebConfig, WebServer};
use crate::worker::{self, WorkerConfig};

/// Flags of `jobctl up`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Where the SQLite database, the logs and the tokens live [default: ~/.local/share/jobctl]
    #[arg(long, env = "JOBCTL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The API's address
    #[arg(long, env = "JOBCTL_LISTEN", default_value = config::DEFAULT_API_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The web UI's address
    #[arg(long, env = "JOBCTL_WEB_LISTEN", default_value = config::DEFAULT_WEB_LISTEN, value_name = "ADDR")]
    pub web_listen: SocketAddr,
    /// Jobs to run at once
    #[arg(long, env = "JOBCTL_SLOTS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: u32,
    /// Service log lines: text (journald-friendly) or json (one object a line, for log shippers)
    #[arg(long, env = "JOBCTL_LOG_FORMAT", value_enum, default_value_t = crate::telemetry::LogFormat::Text)]
    pub log_format: crate::telemetry::LogFormat,
}

/// Runs everything until SIGINT or SIGTERM.
pub async fn run(args: Args, file: &ConfigFile, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let data_dir = config::data_dir(args.data_dir.as_deref(), file)?;
    create_private_dir(&data_dir)?;
    let logs_dir = data_dir.join("logs");
    let database = format!("sqlite://{}", data_dir.join("jobctl.db").display());
    // One process, one open-file limit: three quarters of what it leaves
    // for connections go to the api, the rest to the web UI.
    let budget = crate::server::connection_budget();
    let mut api_config = ApiConfig::new(database, logs_dir.clone());
    api_config.max_connections = api_config.max_connections.min(budget * 3 / 4);
    let api = ApiServer::build(api_config, args.listen).await.context(
        "is another `jobctl up` running? pick another address with --listen (the API) \
             or stop the other one",
    )?;
    let api_url = format!("http://{}", api.local_addr());
    let store = api.store();
    ensure_token(
        store.as_ref(),
        &data_dir,
        config::ADMIN_TOKEN_FILE,
        "admin",
        Role::Admin,
    )
    .await?;
    let worker_token = ensure_token(
        store.as_ref(),
        &data_dir,
        config::WORKER_TOKEN_FILE,
        "local-worker",
        Role::Worker,
    )
    .await?;
    config::write_private_file(
        &data_dir.join(config::API_URL_FILE),
        &format!("{api_url}\n"),
    )?;

    let mut web_config = WebConfig::new(api_url.clone());
    web_config.max_connections = web_config.max_connections.min(budget / 4).max(1);
    let web = WebServer::build(web_config, args.web_listen)
        .await
        .context("pick another address for the web UI with --web-listen")?;
    let web_url = web::browse_url(web.local_addr());

    let mut worker_config = WorkerConfig::new(api_url.clone(), worker_token, logs_dir)?;
    worker_config.slots = args.slots as usize;

    // The api and the web UI outlive the worker: its last reports go to the
    // api, and the browser can watch the jobs it drains finish.
    let services_stop = CancellationToken::new();
    let api_task = tokio::spawn(api.run_until_stopped(services_stop.clone()));
    let web_task = tokio::spawn(web.run_until_stopped(services_stop.clone()));
    print_banner(&api_url, &web_url, &data_dir);
    let worker_result = worker::run(worker_config, shutdown.clone()).await;
    // The worker only returns on its own for a fatal error; stop the rest.
    shutdown.graceful.cancel();
    services_stop.cancel();
    let api_result = api_task.await.context("the api task panicked")?;
    let web_result = web_task.await.context("the web UI task panicked")?;
    worker_result?;
    api_result?;
    web_result?;
    Ok(ExitCode::SUCCESS)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))
}

/// The token stored in `file` if it still works, else a new one named `name`
/// (replacing a stale token of that name), written to `file` with mode 0600.
async fn ensure_token(
    store: &dyn JobStore,
    data_dir: &Path,
    file: &str,
    name: &str,
    role: Role,
) -> anyhow::Result<String> {
    if let Some(existing) = config::read_data_file(data_dir, file)
        && let Some(caller) = auth::authenticate(store, &existing).await?
        && caller.role == role
    {
        return Ok(existing);
    }
    let secret = match super::token::create(store, name, role).await {
        Err(e)
            if matches!(
                e.downcast_ref::<StoreError>(),
                Some(StoreError::TokenExists(_))
            ) =>
        {
            // The file was lost but the row remains: its secret is gone
            // with the file, so replace it.
            store.revoke_token(name).await?;
            super::token::create(store, name, role).await?
        }
        other => other?,
    };
    config::write_private_file(&data_dir.join(file), &format!("{secret}\n"))?;
    tracing::info!(name, %role, file = %data_dir.join(file).display(), "created token");
    Ok(secret)
}

fn print_banner(api_url: &str, web_url: &str, data_dir: &Path) {
    // Show the command as the user can type it from any directory: `jobctl`
    // when the shell found it on the PATH, else this binary's absolute path
    // (`cargo run` starts target/release/jobctl, which is not on the PATH).
    let me = std::env::args().next().unwrap_or_else(|| "jobctl".into());
    let jobctl = if me.contains('/') {
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or(me)
    } else {
        "jobctl".into()
    };
    let token_file = data_dir.join(config::ADMIN_TOKEN_FILE);
    println!(
        "\njobctl is up.\n\n  Web UI:       {web_url}\n  API:          {api_url}\n  Admin token:  {token}\n  Data dir:     {data}\n\n\
         Client commands on this machine find the API and the token by themselves. Try:\n\n  \
         {jobctl} submit --name hello -- sh -c 'for i in $(seq 5); do echo step $i; sleep 1; done'\n  \
         {jobctl} list\n  \
         {jobctl} logs <ID> --follow\n\n\
         To watch in a browser, open the web UI and sign in with the admin token: `cat {token}`.\n\n\
         Stop with Ctrl-C: running jobs get {drain}s to finish, then they are stopped.\n\
         A second Ctrl-C stops them at once (they are recorded as failed: worker shut down).\n",
        token = token_file.display(),
        data = data_dir.display(),
        drain = Duration::from_secs(60).as_secs(),
    );
}
