//! One module per subcommand, each an `Args` struct and one `run`.
//!
//! What several client commands share — finding the api and the token, and
//! turning a short id into a job — lives here.

pub mod admin;
pub mod api;
pub mod cancel;
pub mod completions;
pub mod list;
pub mod logs;
pub mod show;
pub mod submit;
pub mod token;
pub mod up;
pub mod web;
pub mod worker;
pub mod workers;

mod output;

use std::path::PathBuf;

use anyhow::Context;

use crate::client::{self, ApiClient, ClientError};
use crate::config::{self, ConfigFile};
use crate::domain::{JobId, JobIdPrefix};
use crate::protocol::{Job, ListQuery};

/// How client commands and workers reach the api: one `--api-url`/`--token`
/// pair, so every command spells, documents and resolves them the same way.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The API's URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]
    #[arg(long, env = "JOBCTL_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// API token [default: config file, else the token `jobctl up` wrote (admin; worker token for
    /// `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to
    /// every local user
    #[arg(
        long,
        env = "JOBCTL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// A file holding the API token, readable by its owner only
    #[arg(long, env = "JOBCTL_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

impl ClientArgs {
    /// Flags and variables first, then the config file, then what `jobctl up`
    /// left in the data dir.
    pub fn client(&self, file: &ConfigFile) -> anyhow::Result<ApiClient> {
        let data_dir = config::data_dir(env_path("JOBCTL_DATA_DIR").as_deref(), file).ok();
        let api_url = config::api_url(self.api_url.as_deref(), file, data_dir.as_deref());
        let hint = if self.api_url.is_some() || file.api_url.is_some() {
            client::HINT_CONFIGURED
        } else if data_dir
            .as_deref()
            .and_then(|d| config::read_data_file(d, config::API_URL_FILE))
            .is_some()
        {
            client::HINT_UP
        } else {
            client::HINT_NOTHING_CONFIGURED
        };
        let token = config::token(
            self.token.as_deref(),
            self.token_file.as_deref(),
            file,
            data_dir
                .map(|d| d.join(config::ADMIN_TOKEN_FILE))
                .as_deref(),
        )?
        .context(
            "no token: set JOBCTL_TOKEN_FILE (or --token-file, JOBCTL_TOKEN, --token), or run \
             `jobctl up` once on this machine",
        )?;
        Ok(ApiClient::new(&api_url, &token)?.with_start_hint(hint))
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Turns a full id or a unique prefix of at least 4 hex digits into a job.
pub async fn resolve_job(client: &ApiClient, raw: &str) -> anyhow::Result<Job> {
    let raw = raw.trim();
    if let Ok(id) = JobId::parse(raw) {
        return client.job(id).await.map_err(|e| not_found_hint(e, raw));
    }
    let min = JobIdPrefix::MIN_FOR_LOOKUP;
    let prefix = match JobIdPrefix::parse(raw) {
        Ok(p) if p.as_str().len() >= min => p.into_string(),
        _ => anyhow::bail!(
            "invalid job id {raw:?}: give the full id or at least {min} of its leading hex digits"
        ),
    };
    let query = ListQuery {
        id_prefix: Some(prefix.clone()),
        limit: Some(10),
        ..ListQuery::default()
    };
    let mut found = client.list(&query).await?;
    match found.len() {
        0 => anyhow::bail!("no job with an id starting with {prefix:?} (see `jobctl list`)"),
        1 => Ok(found.remove(0)),
        _ => {
            let mut msg = format!("the id prefix {prefix:?} is ambiguous; it matches:");
            for job in &found {
                msg.push_str(&format!(
                    "\n  {}  {}  {}",
                    job.id,
                    job.status,
                    output::escape(job.name.as_deref().unwrap_or("-"))
                ));
            }
            if found.len() == 10 {
                msg.push_str("\n  …");
            }
            msg.push_str("\ngive more digits");
            anyhow::bail!(msg)
        }
    }
}

fn not_found_hint(e: ClientError, raw: &str) -> anyhow::Error {
    match e.status() {
        Some(reqwest::StatusCode::NOT_FOUND) => {
            anyhow::anyhow!("no job {raw} (it may belong to another user, or have been deleted)")
        }
        _ => e.into(),
    }
}
