//! `jobctl list`: jobs as a table, newest first.

use std::process::ExitCode;

use chrono::Utc;

use super::{ClientArgs, output};
use crate::config::ConfigFile;
use crate::domain::{JobStatus, Role, format_duration};
use crate::protocol::{Job, ListQuery};

/// Flags of `jobctl list`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Only jobs in this status
    #[arg(long, value_parser = ["pending", "running", "completed", "failed", "cancelled"])]
    pub status: Option<String>,
    /// Every user's jobs, not just your own (needs an admin token)
    #[arg(long)]
    pub all: bool,
    /// At most this many jobs
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Print JSON (every field)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Prints the list.
pub async fn run(args: Args, file: &ConfigFile) -> anyhow::Result<ExitCode> {
    let client = args.client.client(file)?;
    let me = client.whoami().await?;
    if args.all && me.role != Role::Admin {
        anyhow::bail!(
            "--all needs an admin token; this one is {:?}'s ({} role), which sees only its own \
             jobs: drop --all",
            me.name,
            me.role
        );
    }
    let owner = if args.all { None } else { Some(me.name) };
    let query = ListQuery {
        status: args
            .status
            .as_deref()
            .map(str::parse::<JobStatus>)
            .transpose()?,
        owner,
        limit: Some(args.limit),
        id_prefix: None,
    };
    let jobs = client.list(&query).await?;
    if args.json {
        output::print_json(&serde_json::json!({ "jobs": jobs }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if jobs.is_empty() {
        eprintln!(
            "no jobs{}",
            if args.all {
                ""
            } else {
                " (yours); with an admin token, --all shows everyone's"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    let mut header = vec!["ID", "NAME"];
    if args.all {
        header.push("OWNER");
    }
    header.extend(["STATUS", "AGE", "DURATION", "COMMAND"]);
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            let mut row = vec![
                short_id(job),
                output::escape(job.name.as_deref().unwrap_or("-")),
            ];
            if args.all {
                row.push(output::escape(&job.owner));
            }
            let mut status = output::status(job.status);
            if job.status == JobStatus::Running && job.pending_reason.is_some() {
                // Claimed, but waiting in an executor's queue (Slurm's):
                // `show` says why.
                status.push_str(" (queued)");
            }
            row.push(status);
            row.push(age(job, now));
            row.push(duration(job, now));
            row.push(truncate(&output::escape(&job.command.join(" ")), 40));
            row
        })
        .collect();
    output::print_table(&header, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// The first 8 hex digits: enough to name a job in every other command.
pub fn short_id(job: &Job) -> String {
    job.id.to_string()[..8].to_string()
}

fn age(job: &Job, now: chrono::DateTime<Utc>) -> String {
    let d = (now - job.created_at).to_std().unwrap_or_default();
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// Run time so far, or in all; "-" before it starts.
pub fn duration(job: &Job, now: chrono::DateTime<Utc>) -> String {
    match job.started_at {
        Some(start) => {
            let end = job.finished_at.unwrap_or(now);
            format_duration((end - start).to_std().unwrap_or_default())
        }
        None => "-".into(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}
