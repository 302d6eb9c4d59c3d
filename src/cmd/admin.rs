//! `jobctl admin`: backing up the store and moving it to PostgreSQL.
//!
//! Like `jobctl token`, these work on the database directly, where the
//! api's `--database` / `--data-dir` points.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::api::StorageArgs;
use crate::api::redact;
use crate::config::ConfigFile;
use crate::store::transfer;

/// Flags of `jobctl admin`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(subcommand)]
    pub action: Action,
}

/// What to do with the store.
#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)
    Backup {
        /// The new file to write
        file: PathBuf,
    },
    /// Copy every job and token from the SQLite store into an empty PostgreSQL database
    Migrate {
        /// The PostgreSQL database to fill: postgres://USER@HOST/DB
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// Runs one admin action.
pub async fn run(args: Args, file: &ConfigFile) -> anyhow::Result<ExitCode> {
    let (_, url) = args.storage.resolve(file)?;
    let source = transfer::sqlite_path(&url).ok_or_else(|| {
        anyhow::anyhow!(
            "the store is {}, not SQLite: back PostgreSQL up with pg_dump (see docs/operations.md)",
            redact(&url)
        )
    })?;
    match args.action {
        Action::Backup { file } => {
            let counts = transfer::backup_sqlite(source, &file).await?;
            eprintln!(
                "backed up {source} to {}: {} jobs, {} tokens (logs are files: copy the logs dir too)",
                file.display(),
                counts.jobs,
                counts.tokens
            );
        }
        Action::Migrate { to } => {
            if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
                anyhow::bail!("--to must be a postgres:// URL, not {}", redact(&to));
            }
            let counts = transfer::sqlite_to_postgres(source, &to).await?;
            eprintln!(
                "copied {} jobs and {} tokens from {source} to {}; start the api with --database {} and the same --logs-dir",
                counts.jobs,
                counts.tokens,
                redact(&to),
                redact(&to)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
