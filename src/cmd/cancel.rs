//! `jobctl cancel ID`: cancel a pending job, or stop a running one.

use std::process::ExitCode;

use super::{ClientArgs, output, resolve_job};
use crate::config::ConfigFile;
use crate::domain::JobStatus;

/// Flags of `jobctl cancel`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Job id, or a unique prefix of at least 4 hex digits
    pub id: String,
    /// Print the job as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Cancels and says what happened.
pub async fn run(args: Args, file: &ConfigFile) -> anyhow::Result<ExitCode> {
    let client = args.client.client(file)?;
    let job = resolve_job(&client, &args.id).await?;
    let job = client.cancel(job.id).await?;
    if args.json {
        output::print_json(&job)?;
    } else if job.status == JobStatus::Cancelled {
        output::print_line(&format!("cancelled job {}", job.id))?;
    } else {
        output::print_line(&format!(
            "cancel requested: job {} is running; its worker is stopping it",
            job.id
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
