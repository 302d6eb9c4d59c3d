//! `jobctl list`: jobs as a table, newest first.

use std::process::ExitCode;

use chrono::Utc;

use super::{ClientArgs, output};
use crate::config::ConfigFile;
use crate::domain::{JobStatus, Role, format_duration};
use crate::protocol::{Job, JobList, ListQuery};

/// The most jobs the API returns in one page.
const PAGE_MAX: u32 = 1000;

/// Flags of `jobctl list`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Jobs are listed newest first. When more jobs match than --limit \
    shows, a hint on stderr gives the --cursor that lists the next, older ones; \
    --all-pages lists every matching job instead, fetching them a page at a time."
)]
pub struct Args {
    /// Only jobs in these statuses (comma-separated or repeated)
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = ["pending", "running", "completed", "failed", "cancelled"]
    )]
    pub status: Vec<String>,
    /// Only jobs whose name or command contains TEXT (case-insensitive)
    #[arg(long, short = 'q', value_name = "TEXT")]
    pub search: Option<String>,
    /// Every user's jobs, not just your own (needs an admin token)
    #[arg(long)]
    pub all: bool,
    /// Only this user's jobs (admins)
    #[arg(long, value_name = "NAME", conflicts_with = "all")]
    pub owner: Option<String>,
    /// At most this many jobs, newest first
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Every matching job, however many (fetched a page at a time)
    #[arg(long, conflicts_with = "limit")]
    pub all_pages: bool,
    /// Continue after an earlier listing: the cursor its hint printed
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<String>,
    /// Print JSON (every field, and `next_cursor`)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Prints the list.
pub async fn run(args: Args, file: &ConfigFile) -> anyhow::Result<ExitCode> {
    let client = args.client.client(file)?;
    let me = client.whoami().await?;
    let others = args.all || args.owner.as_ref().is_some_and(|o| *o != me.name);
    if others && me.role != Role::Admin {
        anyhow::bail!(
            "{} needs an admin token; this one is {:?}'s ({} role), which sees only its own \
             jobs: drop {}",
            if args.all { "--all" } else { "--owner" },
            me.name,
            me.role,
            if args.all { "--all" } else { "--owner" },
        );
    }
    let owner = match (&args.owner, args.all) {
        (Some(owner), _) => Some(owner.clone()),
        (None, true) => None,
        (None, false) => Some(me.name),
    };
    let mut query = ListQuery {
        status: (!args.status.is_empty()).then(|| args.status.join(",")),
        owner,
        q: args.search.clone(),
        limit: None,
        cursor: args.cursor.clone(),
        id_prefix: None,
    };
    // Walk the pages until the limit is reached or none are left.
    let wanted = if args.all_pages {
        usize::MAX
    } else {
        args.limit as usize
    };
    let mut jobs: Vec<Job> = Vec::new();
    let next_cursor = loop {
        let left = wanted - jobs.len();
        query.limit = Some(left.min(PAGE_MAX as usize) as u32);
        let page = client.list_page(&query).await?;
        jobs.extend(page.jobs);
        match page.next_cursor {
            Some(cursor) if jobs.len() < wanted => query.cursor = Some(cursor),
            other => break other,
        }
    };
    let show_owner = args.all || args.owner.is_some();
    if args.json {
        output::print_json(&JobList { jobs, next_cursor })?;
        return Ok(ExitCode::SUCCESS);
    }
    if jobs.is_empty() {
        eprintln!(
            "no jobs{}",
            if show_owner {
                ""
            } else {
                " (yours); with an admin token, --all shows everyone's"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    let mut header = vec!["ID", "NAME"];
    if show_owner {
        header.push("OWNER");
    }
    // Only when some job on the page asks for GPUs: most lists have none.
    let show_gpus = jobs.iter().any(|job| job.gpus > 0);
    header.push("STATUS");
    if show_gpus {
        header.push("GPUS");
    }
    header.extend(["AGE", "DURATION", "COMMAND"]);
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            let mut row = vec![
                short_id(job),
                output::escape(job.name.as_deref().unwrap_or("-")),
            ];
            if show_owner {
                row.push(output::escape(&job.owner));
            }
            let mut status = output::status(job.status);
            if job.status == JobStatus::Running && job.pending_reason.is_some() {
                // Claimed, but waiting in an executor's queue (Slurm's):
                // `show` says why.
                status.push_str(" (queued)");
            }
            row.push(status);
            if show_gpus {
                // What it asked for, and which devices once it has them.
                row.push(match &job.gpu_ids {
                    Some(ids) if !ids.is_empty() => {
                        format!("{} ({})", job.gpus, output::escape(&ids.join(",")))
                    }
                    _ => job.gpus.to_string(),
                });
            }
            row.push(age(job, now));
            row.push(duration(job, now));
            row.push(truncate(&output::escape(&job.command.join(" ")), 40));
            row
        })
        .collect();
    output::print_table(&header, &rows)?;
    if let Some(cursor) = next_cursor {
        eprintln!(
            "more jobs match: add --cursor {cursor} for the next {}, or --all-pages for all",
            args.limit
        );
    }
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
