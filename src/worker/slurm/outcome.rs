//! How a Slurm job ended, as jobctl reports it: one pure decision from the
//! facts the job's task gathered, with a unit test per arm.

use crate::domain::JobStatus;
use crate::worker::shim::{JobExit, ShimEvent};

use super::queue::SlurmState;

/// Why jobctl stopped a Slurm job that had not ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The job's own timeout, in whole seconds.
    TimedOut(u64),
    /// A user cancelled the job through jobctl.
    Cancelled,
}

/// What the batch script recorded in the exit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitRecord {
    Exited(i32),
    CouldNotStart(String),
}

impl ExitRecord {
    /// Parses the exit file: the supervisor's `exited CODE` or
    /// `spawn-error MESSAGE` (whose message may span lines).
    pub fn parse(text: &str) -> Option<ExitRecord> {
        let first = text.lines().next()?;
        match ShimEvent::parse(first)? {
            ShimEvent::Exited(JobExit::Code(c)) => Some(ExitRecord::Exited(c)),
            ShimEvent::Exited(JobExit::Signal(s)) => Some(ExitRecord::Exited(128 + s)),
            ShimEvent::SpawnError(_) => {
                let message = text
                    .trim_end()
                    .strip_prefix("spawn-error ")
                    .unwrap_or_default();
                Some(ExitRecord::CouldNotStart(message.replace('\n', " ")))
            }
            ShimEvent::Started(_) => None,
        }
    }
}

/// What Slurm last said about the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlurmEnd {
    /// An end state from `squeue` or `sacct`.
    State(SlurmState),
    /// Neither `squeue` nor `sacct` knows the job any more.
    Unknown,
}

/// Everything the decision needs.
#[derive(Debug, Clone)]
pub struct Facts {
    pub slurm_id: u64,
    pub stop: Option<StopReason>,
    pub slurm: SlurmEnd,
    pub exit: Option<ExitRecord>,
}

/// What the worker reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    pub failure_reason: Option<String>,
}

impl Ending {
    fn failed(exit_code: Option<i32>, reason: impl Into<String>) -> Self {
        Ending {
            status: JobStatus::Failed,
            exit_code,
            failure_reason: Some(reason.into()),
        }
    }
}

/// The one place that decides how a Slurm job ended.
pub fn outcome(facts: &Facts) -> Ending {
    let code = match facts.exit {
        Some(ExitRecord::Exited(c)) => Some(c),
        _ => None,
    };
    // What jobctl asked for explains the end, whatever Slurm calls it.
    match facts.stop {
        Some(StopReason::Cancelled) => {
            return Ending {
                status: JobStatus::Cancelled,
                exit_code: code,
                failure_reason: None,
            };
        }
        Some(StopReason::TimedOut(secs)) => {
            return Ending::failed(code, format!("timed out after {secs}s"));
        }
        None => {}
    }
    if let Some(ExitRecord::CouldNotStart(why)) = &facts.exit {
        return Ending::failed(None, format!("could not start: {why}"));
    }
    // Slurm's own ends: the job may have left a status (a process the OOM
    // killer took exits 137), but Slurm's word says why.
    let slurm_reason = match &facts.slurm {
        SlurmEnd::State(state) => match state {
            SlurmState::Timeout => Some("timed out after Slurm's time limit"),
            SlurmState::NodeFail => Some("node failure"),
            SlurmState::Preempted => Some("preempted"),
            SlurmState::OutOfMemory => Some("out of memory"),
            SlurmState::BootFail => Some("node failed to boot"),
            SlurmState::Deadline => Some("missed its deadline"),
            SlurmState::Cancelled => Some("cancelled in Slurm, not through jobctl"),
            _ => None,
        }
        .map(|why| format!("{why} (Slurm job {} {})", facts.slurm_id, state.name())),
        SlurmEnd::Unknown => None,
    };
    if let Some(reason) = slurm_reason {
        return Ending::failed(code, reason);
    }
    match (&facts.exit, &facts.slurm) {
        (Some(ExitRecord::Exited(0)), _) => Ending {
            status: JobStatus::Completed,
            exit_code: Some(0),
            failure_reason: None,
        },
        (Some(ExitRecord::Exited(c)), _) => Ending::failed(Some(*c), format!("exit code {c}")),
        (_, SlurmEnd::State(state)) => Ending::failed(
            None,
            format!(
                "lost by Slurm: Slurm job {} ended {} without recording an exit status",
                facts.slurm_id,
                state.name()
            ),
        ),
        (_, SlurmEnd::Unknown) => Ending::failed(
            None,
            format!(
                "lost by Slurm: Slurm job {} is no longer known to Slurm and left no exit status",
                facts.slurm_id
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(stop: Option<StopReason>, slurm: SlurmEnd, exit: Option<ExitRecord>) -> Facts {
        Facts {
            slurm_id: 42,
            stop,
            slurm,
            exit,
        }
    }

    fn done(state: SlurmState) -> SlurmEnd {
        SlurmEnd::State(state)
    }

    #[test]
    fn exit_zero_completes() {
        let end = outcome(&facts(
            None,
            done(SlurmState::Completed),
            Some(ExitRecord::Exited(0)),
        ));
        assert_eq!(end.status, JobStatus::Completed);
        assert_eq!(end.exit_code, Some(0));
        assert_eq!(end.failure_reason, None);
    }

    #[test]
    fn non_zero_exit_fails_with_its_code() {
        let end = outcome(&facts(
            None,
            done(SlurmState::Failed),
            Some(ExitRecord::Exited(3)),
        ));
        assert_eq!(end, Ending::failed(Some(3), "exit code 3"));
    }

    #[test]
    fn the_exit_file_counts_even_after_slurm_forgot_the_job() {
        let end = outcome(&facts(None, SlurmEnd::Unknown, Some(ExitRecord::Exited(0))));
        assert_eq!(end.status, JobStatus::Completed);
    }

    #[test]
    fn could_not_start() {
        let end = outcome(&facts(
            None,
            done(SlurmState::Failed),
            Some(ExitRecord::CouldNotStart(
                "No such file or directory (program \"x\")".into(),
            )),
        ));
        assert_eq!(
            end,
            Ending::failed(
                None,
                "could not start: No such file or directory (program \"x\")"
            )
        );
    }

    #[test]
    fn a_cancel_through_jobctl_is_cancelled_whatever_slurm_says() {
        for slurm in [
            done(SlurmState::Cancelled),
            done(SlurmState::Completed),
            SlurmEnd::Unknown,
        ] {
            let end = outcome(&facts(Some(StopReason::Cancelled), slurm, None));
            assert_eq!(end.status, JobStatus::Cancelled);
            assert_eq!(end.failure_reason, None);
        }
    }

    #[test]
    fn jobctl_timeout_is_exact() {
        let end = outcome(&facts(
            Some(StopReason::TimedOut(90)),
            done(SlurmState::Cancelled),
            Some(ExitRecord::Exited(143)),
        ));
        assert_eq!(end, Ending::failed(Some(143), "timed out after 90s"));
    }

    #[test]
    fn slurm_end_states_fail_with_their_reason() {
        let cases = [
            (
                SlurmState::Timeout,
                "timed out after Slurm's time limit (Slurm job 42 TIMEOUT)",
            ),
            (
                SlurmState::NodeFail,
                "node failure (Slurm job 42 NODE_FAIL)",
            ),
            (SlurmState::Preempted, "preempted (Slurm job 42 PREEMPTED)"),
            (
                SlurmState::OutOfMemory,
                "out of memory (Slurm job 42 OUT_OF_MEMORY)",
            ),
            (
                SlurmState::BootFail,
                "node failed to boot (Slurm job 42 BOOT_FAIL)",
            ),
            (
                SlurmState::Deadline,
                "missed its deadline (Slurm job 42 DEADLINE)",
            ),
            (
                SlurmState::Cancelled,
                "cancelled in Slurm, not through jobctl (Slurm job 42 CANCELLED)",
            ),
        ];
        for (state, reason) in cases {
            // An exit status the job left is kept; the reason is Slurm's.
            let end = outcome(&facts(None, done(state), Some(ExitRecord::Exited(137))));
            assert_eq!(end, Ending::failed(Some(137), reason));
        }
    }

    #[test]
    fn no_exit_file_is_lost_by_slurm() {
        let end = outcome(&facts(None, SlurmEnd::Unknown, None));
        assert_eq!(
            end.failure_reason.as_deref(),
            Some("lost by Slurm: Slurm job 42 is no longer known to Slurm and left no exit status")
        );
        let end = outcome(&facts(None, done(SlurmState::Failed), None));
        assert_eq!(
            end.failure_reason.as_deref(),
            Some("lost by Slurm: Slurm job 42 ended FAILED without recording an exit status")
        );
        assert_eq!(end.status, JobStatus::Failed);
    }

    #[test]
    fn exit_files_parse() {
        assert_eq!(ExitRecord::parse("exited 0\n"), Some(ExitRecord::Exited(0)));
        assert_eq!(ExitRecord::parse("exited 3"), Some(ExitRecord::Exited(3)));
        assert_eq!(
            ExitRecord::parse("spawn-error working directory /a\nb: No such file or directory\n"),
            Some(ExitRecord::CouldNotStart(
                "working directory /a b: No such file or directory".into()
            ))
        );
        assert_eq!(ExitRecord::parse(""), None);
        assert_eq!(ExitRecord::parse("exited"), None);
        assert_eq!(ExitRecord::parse("half a li"), None);
    }
}
