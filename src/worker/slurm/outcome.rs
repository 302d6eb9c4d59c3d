//! How a Slurm job ended: one pure decision from what Slurm said and what
//! the job's exit file holds, with a unit test per arm.

use crate::worker::executor::ExecEvent;
use crate::worker::shim::{JobExit, ShimEvent};

use super::queue::SlurmState;

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
            ShimEvent::Started(_) | ShimEvent::Fenced | ShimEvent::Redacted(_) => None,
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

/// How a Slurm job ended, as the worker's job task hears it: from what
/// Slurm last said and the exit file the batch script left (if any). A stop
/// that jobctl asked for (a cancel, its own timeout) is not decided here:
/// [`crate::worker::outcome`] lets it win over whatever this says.
pub fn end_event(slurm_id: u64, slurm: &SlurmEnd, exit: Option<&ExitRecord>) -> ExecEvent {
    let code = match exit {
        Some(ExitRecord::Exited(c)) => Some(*c),
        _ => None,
    };
    if let Some(ExitRecord::CouldNotStart(why)) = exit {
        return ExecEvent::Failed {
            exit_code: None,
            reason: format!("could not start: {why}"),
        };
    }
    // Slurm's own ends: the job may have left a status (a process the OOM
    // killer took exits 137), but Slurm's word says why.
    if let SlurmEnd::State(state) = slurm {
        let why = match state {
            SlurmState::Timeout => Some("timed out after Slurm's time limit"),
            SlurmState::NodeFail => Some("node failure"),
            SlurmState::Preempted => Some("preempted"),
            SlurmState::OutOfMemory => Some("out of memory"),
            SlurmState::BootFail => Some("node failed to boot"),
            SlurmState::Deadline => Some("missed its deadline"),
            SlurmState::Cancelled => Some("cancelled in Slurm, not through jobctl"),
            _ => None,
        };
        if let Some(why) = why {
            return ExecEvent::Failed {
                exit_code: code,
                reason: format!("{why} (Slurm job {slurm_id} {})", state.name()),
            };
        }
    }
    match (code, slurm) {
        (Some(c), _) => ExecEvent::Ended(JobExit::Code(c)),
        (None, SlurmEnd::State(state)) => ExecEvent::Failed {
            exit_code: None,
            reason: format!(
                "lost by Slurm: Slurm job {slurm_id} ended {} without recording an exit status",
                state.name()
            ),
        },
        (None, SlurmEnd::Unknown) => ExecEvent::Failed {
            exit_code: None,
            reason: format!(
                "lost by Slurm: Slurm job {slurm_id} is no longer known to Slurm and left no exit status"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(reason: &str, exit_code: Option<i32>) -> ExecEvent {
        ExecEvent::Failed {
            exit_code,
            reason: reason.into(),
        }
    }

    fn done(state: SlurmState) -> SlurmEnd {
        SlurmEnd::State(state)
    }

    #[test]
    fn the_exit_file_gives_the_exit_status() {
        for state in [SlurmState::Completed, SlurmState::Failed] {
            assert_eq!(
                end_event(42, &done(state.clone()), Some(&ExitRecord::Exited(0))),
                ExecEvent::Ended(JobExit::Code(0))
            );
            assert_eq!(
                end_event(42, &done(state), Some(&ExitRecord::Exited(3))),
                ExecEvent::Ended(JobExit::Code(3))
            );
        }
    }

    #[test]
    fn the_exit_file_counts_even_after_slurm_forgot_the_job() {
        assert_eq!(
            end_event(42, &SlurmEnd::Unknown, Some(&ExitRecord::Exited(0))),
            ExecEvent::Ended(JobExit::Code(0))
        );
    }

    #[test]
    fn a_job_that_could_not_start_on_its_node() {
        let exit = ExitRecord::CouldNotStart("No such file or directory (program \"x\")".into());
        assert_eq!(
            end_event(42, &done(SlurmState::Failed), Some(&exit)),
            failed(
                "could not start: No such file or directory (program \"x\")",
                None
            )
        );
    }

    #[test]
    fn slurm_end_states_fail_with_their_reason_and_keep_the_status() {
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
            assert_eq!(
                end_event(42, &done(state.clone()), Some(&ExitRecord::Exited(137))),
                failed(reason, Some(137))
            );
            assert_eq!(end_event(42, &done(state), None), failed(reason, None));
        }
    }

    #[test]
    fn no_exit_file_is_lost_by_slurm() {
        assert_eq!(
            end_event(42, &SlurmEnd::Unknown, None),
            failed(
                "lost by Slurm: Slurm job 42 is no longer known to Slurm and left no exit status",
                None
            )
        );
        assert_eq!(
            end_event(42, &done(SlurmState::Failed), None),
            failed(
                "lost by Slurm: Slurm job 42 ended FAILED without recording an exit status",
                None
            )
        );
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
