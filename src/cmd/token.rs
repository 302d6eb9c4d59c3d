//! `jobctl token`: create, list and revoke API tokens.
//!
//! These work on the database directly, so they run where the api's
//! `--database` / `--data-dir` points (on its host, or anywhere that reaches
//! its PostgreSQL). A new token is printed once, alone on stdout; only its
//! hash is stored.

use std::process::ExitCode;

use clap::Subcommand;

use super::api::StorageArgs;
use super::output;
use crate::auth;
use crate::config::ConfigFile;
use crate::domain::Role;
use crate::store::{self, JobStore};

/// Flags of `jobctl token`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(subcommand)]
    pub action: Action,
}

/// What to do with tokens.
#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Create a token and print it (only once; it cannot be shown again)
    Create {
        /// Who holds it: the owner name of the jobs it submits
        #[arg(long)]
        name: String,
        /// user: own jobs only; admin: all jobs; worker: runs jobs
        #[arg(long, value_parser = ["user", "admin", "worker"])]
        role: String,
    },
    /// List tokens: names, roles, creation times (never secrets)
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: requests with it fail within a second
    Revoke {
        /// The token's name
        name: String,
    },
}

/// Creates a token in `store`; the secret to print.
pub async fn create(store: &dyn JobStore, name: &str, role: Role) -> anyhow::Result<String> {
    auth::validate_token_name(name).map_err(anyhow::Error::msg)?;
    let token = auth::mint();
    store
        .create_token(name, role, &token.key_id, &token.hash)
        .await?;
    Ok(token.secret)
}

/// Runs one token action.
pub async fn run(args: Args, file: &ConfigFile) -> anyhow::Result<ExitCode> {
    let (_, url) = args.storage.resolve(file)?;
    let store = store::open(&url).await?;
    match args.action {
        Action::Create { name, role } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let secret = create(store.as_ref(), &name, role).await?;
            output::print_line(&secret)?;
            eprintln!(
                "created {role} token {name:?} in {}; it is shown only this once",
                crate::api::redact(&url)
            );
        }
        Action::List { json } => {
            let tokens = store.list_tokens().await?;
            if json {
                output::print_json(&tokens)?;
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.role.to_string(),
                            t.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                        ]
                    })
                    .collect();
                output::print_table(&["NAME", "ROLE", "CREATED"], &rows)?;
            }
        }
        Action::Revoke { name } => {
            if !store.revoke_token(&name).await? {
                anyhow::bail!("no token named {name:?} (see `jobctl token list`)");
            }
            eprintln!("revoked token {name:?}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
