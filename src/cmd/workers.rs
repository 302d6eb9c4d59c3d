//! `jobctl workers`: the worker fleet as a table (admins), like `sinfo`.

use std::process::ExitCode;

use chrono::Utc;

use super::{ClientArgs, output};
use crate::config::ConfigFile;
use crate::protocol::{WorkerInfo, WorkerState};

/// Flags of `jobctl workers`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Print JSON (every field, with the ids of the running jobs)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Prints the fleet.
pub async fn run(args: Args, file: &ConfigFile) -> anyhow::Result<ExitCode> {
    let client = args.client.client(file)?;
    let list = client.workers().await?;
    if args.json {
        output::print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.workers.is_empty() {
        eprintln!("no workers have registered yet (start one with `jobctl worker`)");
        return Ok(ExitCode::SUCCESS);
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = list.workers.iter().map(|w| row(w, now)).collect();
    output::print_table(
        &["NAME", "STATE", "EXECUTOR", "SLOTS", "RUNNING", "LAST SEEN"],
        &rows,
    )?;
    Ok(ExitCode::SUCCESS)
}

fn row(w: &WorkerInfo, now: chrono::DateTime<Utc>) -> Vec<String> {
    use console::Style;
    let style = match w.state {
        WorkerState::Active => Style::new().green(),
        WorkerState::Draining => Style::new().yellow(),
        WorkerState::Gone => Style::new().red(),
    };
    vec![
        output::escape(&w.name),
        style.apply_to(w.state.as_str()).to_string(),
        output::escape(&w.executor),
        w.slots.to_string(),
        w.running.len().to_string(),
        ago(now - w.last_seen),
    ]
}

fn ago(d: chrono::TimeDelta) -> String {
    let secs = d.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}
