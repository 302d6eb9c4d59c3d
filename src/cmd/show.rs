//! `jobctl show ID`: every field of one job.

use std::process::ExitCode;

use chrono::Utc;

use super::{ClientArgs, output, resolve_job};
use crate::config::ConfigFile;

/// Flags of `jobctl show`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Job id, or a unique prefix of at least 4 hex digits
    pub id: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Prints the job.
pub async fn run(args: Args, file: &ConfigFile) -> anyhow::Result<ExitCode> {
    let client = args.client.client(file)?;
    let job = resolve_job(&client, &args.id).await?;
    if args.json {
        output::print_json(&job)?;
        return Ok(ExitCode::SUCCESS);
    }
    let time = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| "-".into())
    };
    let opt = |v: Option<String>| v.map(|v| output::escape(&v)).unwrap_or_else(|| "-".into());
    let mut fields = vec![
        ("id", job.id.to_string()),
        ("name", opt(job.name.clone())),
        ("owner", output::escape(&job.owner)),
        ("status", {
            let mut s = output::status(job.status);
            if job.cancel_requested && job.status.is_active() {
                s.push_str(" (cancel requested)");
            }
            s
        }),
        (
            "command",
            output::escape(&serde_json::to_string(&job.command).expect("strings serialise")),
        ),
        ("cwd", opt(job.cwd.clone())),
        (
            "timeout",
            job.timeout_seconds
                .map(|t| format!("{t}s"))
                .unwrap_or_else(|| "-".into()),
        ),
        ("gpus", job.gpus.to_string()),
        ("cpus", job.cpus.to_string()),
        (
            "gpu_ids",
            match &job.gpu_ids {
                Some(ids) if !ids.is_empty() => output::escape(&ids.join(",")),
                Some(_) => "none".into(),
                None => "-".into(),
            },
        ),
        ("pending_reason", opt(job.pending_reason.clone())),
        ("exit_code", opt(job.exit_code.map(|c| c.to_string()))),
        ("failure_reason", opt(job.failure_reason.clone())),
        ("worker", opt(job.worker.clone())),
        ("created_at", time(Some(job.created_at))),
        ("started_at", time(job.started_at)),
        ("finished_at", time(job.finished_at)),
        ("duration", super::list::duration(&job, Utc::now())),
    ];
    for (k, v) in &job.env {
        fields.push(("env", output::escape(&format!("{k}={v}"))));
    }
    for name in &job.secret_names {
        fields.push(("secret", format!("{} (value hidden)", output::escape(name))));
    }
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in fields {
        output::print_line(&format!("{}  {v}", output::dim(&format!("{k:width$}"))))?;
    }
    Ok(ExitCode::SUCCESS)
}
