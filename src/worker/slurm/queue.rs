//! What Slurm says about jobs: `squeue` and `sacct` output, parsed.
//!
//! One `squeue` process per poll answers for every job a worker has in
//! Slurm (`--jobs=1,2,3 --states=all`), in a `|`-separated text format
//! chosen for this (`--json` needs plugins that not every site installs).
//! The comment comes last because it is the one field that may hold a `|`.

use std::time::Duration;

/// `squeue --format` for [`parse_squeue`]: id, state, reason, time used,
/// nodes, comment.
pub const SQUEUE_FORMAT: &str = "%i|%T|%r|%M|%N|%k";

/// `sacct --format` for [`parse_sacct`].
pub const SACCT_FORMAT: &str = "JobIDRaw,State,ExitCode";

/// A job's state as Slurm names it (`squeue %T`, `sacct State`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlurmState {
    Pending,
    Configuring,
    Running,
    Completing,
    Suspended,
    Completed,
    Failed,
    Cancelled,
    Timeout,
    NodeFail,
    Preempted,
    BootFail,
    Deadline,
    OutOfMemory,
    /// Any other name (`REQUEUED`, `STAGE_OUT`, `SIGNALING`, …), kept as is.
    Other(String),
}

/// Where a job is in its life, as far as jobctl cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting in Slurm's queue; not running yet.
    Queued,
    /// Started (possibly suspended or finishing up).
    Running,
    /// Over, one way or another.
    Ended,
}

impl SlurmState {
    /// Parses a state name; `sacct` may add words (`CANCELLED by 1000`).
    pub fn parse(s: &str) -> SlurmState {
        let word = s
            .split_whitespace()
            .next()
            .unwrap_or("")
            .trim_end_matches('+');
        match word {
            "PENDING" | "PD" => SlurmState::Pending,
            "CONFIGURING" | "CF" => SlurmState::Configuring,
            "RUNNING" | "R" => SlurmState::Running,
            "COMPLETING" | "CG" => SlurmState::Completing,
            "SUSPENDED" | "S" => SlurmState::Suspended,
            "COMPLETED" | "CD" => SlurmState::Completed,
            "FAILED" | "F" => SlurmState::Failed,
            "CANCELLED" | "CA" => SlurmState::Cancelled,
            "TIMEOUT" | "TO" => SlurmState::Timeout,
            "NODE_FAIL" | "NF" => SlurmState::NodeFail,
            "PREEMPTED" | "PR" => SlurmState::Preempted,
            "BOOT_FAIL" | "BF" => SlurmState::BootFail,
            "DEADLINE" | "DL" => SlurmState::Deadline,
            "OUT_OF_MEMORY" | "OOM" => SlurmState::OutOfMemory,
            other => SlurmState::Other(other.to_string()),
        }
    }

    pub fn phase(&self) -> Phase {
        match self {
            SlurmState::Pending | SlurmState::Configuring => Phase::Queued,
            SlurmState::Running | SlurmState::Completing | SlurmState::Suspended => Phase::Running,
            SlurmState::Completed
            | SlurmState::Failed
            | SlurmState::Cancelled
            | SlurmState::Timeout
            | SlurmState::NodeFail
            | SlurmState::Preempted
            | SlurmState::BootFail
            | SlurmState::Deadline
            | SlurmState::OutOfMemory => Phase::Ended,
            SlurmState::Other(name) => match name.as_str() {
                // Back in the queue, or held there.
                "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESV_DEL_HOLD" => Phase::Queued,
                "SPECIAL_EXIT" | "REVOKED" => Phase::Ended,
                // STOPPED, SIGNALING, STAGE_OUT, RESIZING and names Slurm
                // may add later: the job is still Slurm's to finish.
                _ => Phase::Running,
            },
        }
    }

    /// The name as Slurm prints it.
    pub fn name(&self) -> &str {
        match self {
            SlurmState::Pending => "PENDING",
            SlurmState::Configuring => "CONFIGURING",
            SlurmState::Running => "RUNNING",
            SlurmState::Completing => "COMPLETING",
            SlurmState::Suspended => "SUSPENDED",
            SlurmState::Completed => "COMPLETED",
            SlurmState::Failed => "FAILED",
            SlurmState::Cancelled => "CANCELLED",
            SlurmState::Timeout => "TIMEOUT",
            SlurmState::NodeFail => "NODE_FAIL",
            SlurmState::Preempted => "PREEMPTED",
            SlurmState::BootFail => "BOOT_FAIL",
            SlurmState::Deadline => "DEADLINE",
            SlurmState::OutOfMemory => "OUT_OF_MEMORY",
            SlurmState::Other(name) => name,
        }
    }
}

/// One job as `squeue` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub slurm_id: u64,
    pub state: SlurmState,
    /// Why it waits (`Priority`, `Resources`, `JobHeldUser`), or `None`.
    pub reason: Option<String>,
    /// How long it has run (0 while queued).
    pub time_used: Duration,
    /// The nodes it runs on, if any.
    pub nodes: Option<String>,
    /// The job's comment, if any.
    pub comment: Option<String>,
}

/// Parses `squeue --noheader --format=`[`SQUEUE_FORMAT`]. Lines that do not
/// parse (a job array element, a future format) are skipped: a job whose
/// line is missing is looked for again on the next poll.
pub fn parse_squeue(stdout: &str) -> Vec<QueueEntry> {
    stdout.lines().filter_map(parse_squeue_line).collect()
}

fn parse_squeue_line(line: &str) -> Option<QueueEntry> {
    let mut fields = line.splitn(6, '|');
    let slurm_id = fields.next()?.trim().parse().ok()?;
    let state = SlurmState::parse(fields.next()?.trim());
    let reason = present(fields.next()?);
    let time_used = parse_time_used(fields.next()?.trim()).unwrap_or_default();
    let nodes = present(fields.next()?);
    let comment = present(fields.next()?);
    Some(QueueEntry {
        slurm_id,
        state,
        reason,
        time_used,
        nodes,
        comment,
    })
}

/// Slurm prints missing values as `(null)`, `None` or `N/A`.
fn present(field: &str) -> Option<String> {
    let field = field.trim();
    match field {
        "" | "(null)" | "None" | "N/A" => None,
        _ => Some(field.to_string()),
    }
}

/// Parses Slurm's elapsed time: `M:SS`, `H:MM:SS`, `D-HH:MM:SS`.
pub fn parse_time_used(s: &str) -> Option<Duration> {
    let (days, clock) = match s.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, s),
    };
    let parts: Vec<u64> = clock
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (h, m, sec) = match parts[..] {
        [m, s] => (0, m, s),
        [h, m, s] => (h, m, s),
        _ => return None,
    };
    Some(Duration::from_secs(
        days * 86_400 + h * 3_600 + m * 60 + sec,
    ))
}

/// One job as `sacct` remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingEntry {
    pub slurm_id: u64,
    pub state: SlurmState,
    /// `ExitCode` as `code:signal`.
    pub exit_code: Option<(i32, i32)>,
}

/// Parses `sacct --noheader --parsable2 --allocations --format=`[`SACCT_FORMAT`].
pub fn parse_sacct(stdout: &str) -> Vec<AccountingEntry> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut f = line.split('|');
            let slurm_id = f.next()?.trim().parse().ok()?;
            let state = SlurmState::parse(f.next()?.trim());
            let exit_code = f.next().and_then(|e| {
                let (code, sig) = e.trim().split_once(':')?;
                Some((code.parse().ok()?, sig.parse().ok()?))
            });
            Some(AccountingEntry {
                slurm_id,
                state,
                exit_code,
            })
        })
        .collect()
}

/// Whether `scontrol show config` says job accounting is kept (so `sacct`
/// knows jobs that have left the queue).
pub fn accounting_enabled(show_config: &str) -> bool {
    show_config.lines().any(|line| {
        let mut kv = line.splitn(2, '=');
        let key = kv.next().unwrap_or("").trim();
        let value = kv.next().unwrap_or("").trim();
        key == "AccountingStorageType" && !value.is_empty() && !value.ends_with("/none")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_parse_with_comments_that_hold_bars() {
        // Recorded from Slurm 22.05 with SQUEUE_FORMAT.
        let out = "\
3|PENDING|JobHeldUser|0:00||jobctl job=0f8f7a5e-0c3a-4c5e-9d1a-1234567890ab worker=a|b
4|RUNNING|None|1:01|localhost|(null)
1|COMPLETED|None|0:02|localhost|jobctl 1234 w
garbage line
12_3|PENDING|None|0:00||(null)
";
        let entries = parse_squeue(out);
        assert_eq!(entries.len(), 3);
        assert_eq!(
            entries[0],
            QueueEntry {
                slurm_id: 3,
                state: SlurmState::Pending,
                reason: Some("JobHeldUser".into()),
                time_used: Duration::ZERO,
                nodes: None,
                comment: Some("jobctl job=0f8f7a5e-0c3a-4c5e-9d1a-1234567890ab worker=a|b".into()),
            }
        );
        assert_eq!(entries[1].state, SlurmState::Running);
        assert_eq!(entries[1].reason, None);
        assert_eq!(entries[1].time_used, Duration::from_secs(61));
        assert_eq!(entries[1].nodes.as_deref(), Some("localhost"));
        assert_eq!(entries[1].comment, None);
        assert_eq!(entries[2].state.phase(), Phase::Ended);
    }

    #[test]
    fn elapsed_times_in_every_slurm_form() {
        assert_eq!(parse_time_used("0:00"), Some(Duration::ZERO));
        assert_eq!(parse_time_used("1:05"), Some(Duration::from_secs(65)));
        assert_eq!(parse_time_used("2:01:05"), Some(Duration::from_secs(7265)));
        assert_eq!(
            parse_time_used("1-00:00:01"),
            Some(Duration::from_secs(86_401))
        );
        assert_eq!(parse_time_used("INVALID"), None);
        assert_eq!(parse_time_used("1:2:3:4"), None);
    }

    #[test]
    fn states_map_to_phases() {
        let cases = [
            ("PENDING", Phase::Queued),
            ("CONFIGURING", Phase::Queued),
            ("REQUEUE_HOLD", Phase::Queued),
            ("RUNNING", Phase::Running),
            ("COMPLETING", Phase::Running),
            ("SUSPENDED", Phase::Running),
            ("STOPPED", Phase::Running),
            ("SOMETHING_NEW", Phase::Running),
            ("COMPLETED", Phase::Ended),
            ("FAILED", Phase::Ended),
            ("CANCELLED by 1000", Phase::Ended),
            ("TIMEOUT", Phase::Ended),
            ("NODE_FAIL", Phase::Ended),
            ("PREEMPTED", Phase::Ended),
            ("BOOT_FAIL", Phase::Ended),
            ("DEADLINE", Phase::Ended),
            ("OUT_OF_MEMORY", Phase::Ended),
            ("CA", Phase::Ended),
        ];
        for (name, phase) in cases {
            assert_eq!(SlurmState::parse(name).phase(), phase, "{name}");
        }
        assert_eq!(SlurmState::parse("CANCELLED by 0"), SlurmState::Cancelled);
        assert_eq!(SlurmState::parse("OUT_OF_MEMORY").name(), "OUT_OF_MEMORY");
    }

    #[test]
    fn sacct_lines_parse() {
        let out = "7|COMPLETED|0:0\n8|CANCELLED by 0|0:15\n9|OUT_OF_MEMORY|0:125\nx|y|z\n";
        let entries = parse_sacct(out);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1].state, SlurmState::Cancelled);
        assert_eq!(entries[1].exit_code, Some((0, 15)));
        assert_eq!(entries[2].state, SlurmState::OutOfMemory);
    }

    #[test]
    fn accounting_is_known_from_the_config() {
        assert!(!accounting_enabled(
            "AccountingStorageTRES   = cpu,mem\nAccountingStorageType   = accounting_storage/none\n"
        ));
        assert!(accounting_enabled(
            "AccountingStorageType   = accounting_storage/slurmdbd\n"
        ));
        assert!(!accounting_enabled("ClusterName = x\n"));
    }
}
