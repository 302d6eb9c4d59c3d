//! How a job ended, decided from the facts the job task gathered.
//!
//! [`outcome`] is a pure function: the async code in [`super::job`] only
//! gathers [`Facts`] (did the job start, how did its process end, did the
//! worker stop it and why) and acts on the [`Outcome`]. Every way a job can
//! end is one arm here, with a unit test each.

use std::time::Duration;

use super::executor::StartError;
use super::shim::JobExit;
use crate::domain::{JobStatus, format_duration};

/// Why the worker stopped a job that had not ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// It ran past its `timeout_seconds`.
    TimedOut(u64),
    /// A user cancelled it.
    Cancelled,
    /// The worker is shutting down and the drain time is over.
    WorkerShutdown,
    /// The api no longer recognises the lease: it has given the job up as
    /// `worker lost` (or deleted it).
    LeaseLost,
    /// This worker's token was refused: it can never report on the job
    /// again, and the api will fail it when its lease runs out.
    TokenRefused,
    /// The lease ran out without a renewal reaching the api, so the
    /// executor stopped the job before the api could count it lost.
    Fenced,
}

impl StopReason {
    /// The `[jobctl]` line written when the stop begins; `action` is what
    /// the executor does to stop the job (see
    /// [`super::executor::Execution::stop_action`]).
    pub fn note(self, action: &str) -> String {
        match self {
            StopReason::TimedOut(secs) => format!(
                "timed out after {}; {action}",
                format_duration(Duration::from_secs(secs))
            ),
            StopReason::Cancelled => format!("cancelled; {action}"),
            StopReason::WorkerShutdown => format!("worker shut down; {action}"),
            StopReason::LeaseLost => {
                format!("lease lost: the API has given this job up; {action}")
            }
            StopReason::TokenRefused => format!(
                "the API refused this worker's token, so nothing more can be reported \
                 for this job; {action}"
            ),
            // The executor wrote its own line when it fenced the job.
            StopReason::Fenced => "lease expired; the job was stopped".to_string(),
        }
    }
}

/// How the job's process ended, as far as the worker could see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// It never started.
    CouldNotStart(StartError),
    /// Its main process ended this way.
    Ended(JobExit),
    /// Its supervisor vanished without saying how the job ended.
    SupervisorLost(String),
    /// It ended, and the executor says why (Slurm's `NODE_FAIL`, say).
    Failed {
        exit_code: Option<i32>,
        reason: String,
    },
}

/// Everything the decision depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub ran: Ran,
    /// Why the worker stopped it, if it did.
    pub stop: Option<StopReason>,
}

/// What the worker reports for a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    pub failure_reason: Option<String>,
}

impl Ending {
    fn failed(exit_code: Option<i32>, reason: String) -> Self {
        Ending {
            status: JobStatus::Failed,
            exit_code,
            failure_reason: Some(fit_reason(reason)),
        }
    }
}

/// What the worker does once a job is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Report this end to the api.
    Report(Ending),
    /// The job never ran, through this worker's fault: hand it back to the
    /// queue (`pending`) for another worker, and stop claiming until the
    /// fault clears. The text says what is wrong with this worker.
    HandBack(String),
    /// Report nothing: the api has already ended the job (lease lost), or
    /// will (a refused token).
    Abandon,
}

/// The one place that decides how a job ended.
///
/// A stop the worker decided wins over how the process then ended: a job
/// killed for its timeout is `timed out`, not `killed by signal 9`.
pub fn outcome(facts: &Facts) -> Outcome {
    let exit_code = match &facts.ran {
        Ran::Ended(JobExit::Code(c)) => Some(*c),
        Ran::Failed { exit_code, .. } => *exit_code,
        _ => None,
    };
    match (facts.stop, &facts.ran) {
        (Some(StopReason::LeaseLost | StopReason::TokenRefused), _) => Outcome::Abandon,
        // If the api has not given the job up yet, this is what it would
        // record; if it has, the report is refused and changes nothing.
        (Some(StopReason::Fenced), _) => {
            Outcome::Report(Ending::failed(exit_code, "worker lost".into()))
        }
        // Whole seconds, as the job asked for them: "timed out after 90s".
        (Some(StopReason::TimedOut(secs)), _) => Outcome::Report(Ending::failed(
            exit_code,
            format!("timed out after {secs}s"),
        )),
        (Some(StopReason::Cancelled), _) => Outcome::Report(Ending {
            status: JobStatus::Cancelled,
            exit_code,
            failure_reason: None,
        }),
        (Some(StopReason::WorkerShutdown), _) => {
            Outcome::Report(Ending::failed(exit_code, "worker shut down".into()))
        }
        (None, Ran::Ended(JobExit::Code(0))) => Outcome::Report(Ending {
            status: JobStatus::Completed,
            exit_code: Some(0),
            failure_reason: None,
        }),
        (None, Ran::Ended(JobExit::Code(code))) => {
            Outcome::Report(Ending::failed(Some(*code), format!("exit code {code}")))
        }
        (None, Ran::Ended(JobExit::Signal(sig))) => {
            Outcome::Report(Ending::failed(None, format!("killed by signal {sig}")))
        }
        (None, Ran::SupervisorLost(why)) => Outcome::Report(Ending::failed(None, why.clone())),
        (None, Ran::Failed { exit_code, reason }) => {
            Outcome::Report(Ending::failed(*exit_code, reason.clone()))
        }
        (None, Ran::CouldNotStart(StartError::Worker(why))) => {
            Outcome::HandBack(fit_reason(why.clone()))
        }
        (None, Ran::CouldNotStart(StartError::Job(why))) => {
            Outcome::Report(Ending::failed(None, format!("could not start: {why}")))
        }
    }
}

/// The closing `[jobctl]` line: the status, why, and how long it ran.
/// None for a job handed back: it has not ended, and the api notes the
/// hand-back in its log.
pub fn closing_line(outcome: &Outcome, facts: &Facts, elapsed: Duration) -> Option<String> {
    let took = format_duration(elapsed);
    let ran = &facts.ran;
    Some(match (outcome, ran) {
        (Outcome::HandBack(_), _) => return None,
        (Outcome::Abandon, _) if facts.stop == Some(StopReason::TokenRefused) => format!(
            "stopped after {took}; the API will mark the job failed (worker lost) when its lease runs out"
        ),
        (Outcome::Abandon, _) => {
            format!("stopped after {took}; the API had already given the job up")
        }
        (Outcome::Report(e), Ran::CouldNotStart(_)) => {
            format!("finished: {} (could not start) after {took}", e.status)
        }
        (Outcome::Report(e), _) => {
            let why = match (&e.failure_reason, ran) {
                (Some(r), _) => format!(" ({r})"),
                (None, Ran::Ended(JobExit::Code(c))) => format!(" (exit code {c})"),
                (None, _) => String::new(),
            };
            format!("finished: {}{why} after {took}", e.status)
        }
    })
}

/// A failure reason the api accepts: cut at a character boundary with `…`
/// when too long (a long cwd or program name). The log keeps the whole text.
pub fn fit_reason(reason: String) -> String {
    use crate::protocol::MAX_FAILURE_REASON_BYTES as MAX;
    if reason.len() <= MAX {
        return reason;
    }
    let cut = reason.floor_char_boundary(MAX - '…'.len_utf8());
    format!("{}…", &reason[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(ran: Ran, stop: Option<StopReason>) -> Outcome {
        outcome(&Facts { ran, stop })
    }

    fn report(status: JobStatus, exit_code: Option<i32>, reason: Option<&str>) -> Outcome {
        Outcome::Report(Ending {
            status,
            exit_code,
            failure_reason: reason.map(String::from),
        })
    }

    #[test]
    fn exit_0_is_completed() {
        let o = decide(Ran::Ended(JobExit::Code(0)), None);
        assert_eq!(o, report(JobStatus::Completed, Some(0), None));
    }

    #[test]
    fn exit_n_is_failed_with_the_code() {
        let o = decide(Ran::Ended(JobExit::Code(3)), None);
        assert_eq!(o, report(JobStatus::Failed, Some(3), Some("exit code 3")));
    }

    #[test]
    fn a_signal_is_failed_without_a_code() {
        let o = decide(Ran::Ended(JobExit::Signal(9)), None);
        assert_eq!(
            o,
            report(JobStatus::Failed, None, Some("killed by signal 9"))
        );
    }

    #[test]
    fn a_timeout_wins_over_the_signal_that_ended_the_job() {
        let o = decide(
            Ran::Ended(JobExit::Signal(9)),
            Some(StopReason::TimedOut(90)),
        );
        assert_eq!(
            o,
            report(JobStatus::Failed, None, Some("timed out after 90s"))
        );
        // A job that handled SIGTERM and exited keeps its code.
        let o = decide(Ran::Ended(JobExit::Code(0)), Some(StopReason::TimedOut(1)));
        assert_eq!(
            o,
            report(JobStatus::Failed, Some(0), Some("timed out after 1s"))
        );
    }

    #[test]
    fn a_cancel_is_cancelled() {
        let o = decide(Ran::Ended(JobExit::Signal(15)), Some(StopReason::Cancelled));
        assert_eq!(o, report(JobStatus::Cancelled, None, None));
    }

    #[test]
    fn a_worker_shutdown_is_failed_as_such() {
        let o = decide(
            Ran::Ended(JobExit::Code(143)),
            Some(StopReason::WorkerShutdown),
        );
        assert_eq!(
            o,
            report(JobStatus::Failed, Some(143), Some("worker shut down"))
        );
    }

    #[test]
    fn a_lost_lease_or_refused_token_reports_nothing() {
        for stop in [StopReason::LeaseLost, StopReason::TokenRefused] {
            let o = decide(Ran::Ended(JobExit::Signal(15)), Some(stop));
            assert_eq!(o, Outcome::Abandon, "{stop:?}");
        }
    }

    #[test]
    fn a_fenced_job_is_what_the_api_would_record() {
        let o = decide(Ran::Ended(JobExit::Signal(9)), Some(StopReason::Fenced));
        assert_eq!(o, report(JobStatus::Failed, None, Some("worker lost")));
    }

    #[test]
    fn a_lost_supervisor_says_what_happened_to_it() {
        let o = decide(
            Ran::SupervisorLost("job supervisor killed by signal 9".into()),
            None,
        );
        assert_eq!(
            o,
            report(
                JobStatus::Failed,
                None,
                Some("job supervisor killed by signal 9")
            )
        );
    }

    #[test]
    fn an_end_the_executor_explains_fails_with_its_reason_unless_jobctl_stopped_it() {
        let failed = || Ran::Failed {
            exit_code: Some(137),
            reason: "out of memory (Slurm job 4 OUT_OF_MEMORY)".into(),
        };
        assert_eq!(
            decide(failed(), None),
            report(
                JobStatus::Failed,
                Some(137),
                Some("out of memory (Slurm job 4 OUT_OF_MEMORY)")
            )
        );
        assert_eq!(
            decide(failed(), Some(StopReason::Cancelled)),
            report(JobStatus::Cancelled, Some(137), None)
        );
        assert_eq!(
            decide(failed(), Some(StopReason::TimedOut(5))),
            report(JobStatus::Failed, Some(137), Some("timed out after 5s"))
        );
    }

    #[test]
    fn a_job_that_could_not_start_fails_with_the_reason() {
        let o = decide(
            Ran::CouldNotStart(StartError::Job(
                "No such file or directory (program \"x\")".into(),
            )),
            None,
        );
        assert_eq!(
            o,
            report(
                JobStatus::Failed,
                None,
                Some("could not start: No such file or directory (program \"x\")")
            )
        );
    }

    #[test]
    fn a_job_this_worker_could_not_start_goes_back_to_the_queue() {
        let why = "cannot create log file /l/x.log: Read-only file system";
        let o = decide(Ran::CouldNotStart(StartError::Worker(why.into())), None);
        assert_eq!(o, Outcome::HandBack(why.into()));
        let facts = Facts {
            ran: Ran::CouldNotStart(StartError::Worker(why.into())),
            stop: None,
        };
        assert_eq!(
            closing_line(&o, &facts, Duration::ZERO),
            None,
            "the api notes it"
        );
    }

    #[test]
    fn closing_lines_say_status_reason_and_time() {
        let took = Duration::from_secs(75);
        let line = |ran: Ran, stop: Option<StopReason>, took: Duration| {
            let facts = Facts { ran, stop };
            closing_line(&outcome(&facts), &facts, took).unwrap()
        };
        assert_eq!(
            line(Ran::Ended(JobExit::Code(3)), None, took),
            "finished: failed (exit code 3) after 1m 15s"
        );
        assert_eq!(
            line(
                Ran::Ended(JobExit::Code(0)),
                Some(StopReason::Cancelled),
                took
            ),
            "finished: cancelled (exit code 0) after 1m 15s"
        );
        assert_eq!(
            line(
                Ran::CouldNotStart(StartError::Job("x".into())),
                None,
                Duration::from_millis(5)
            ),
            "finished: failed (could not start) after 5ms"
        );
        let lost = line(
            Ran::Ended(JobExit::Signal(15)),
            Some(StopReason::LeaseLost),
            took,
        );
        assert!(
            lost.starts_with("stopped after 1m 15s; the API had already"),
            "{lost}"
        );
        let refused = line(
            Ran::Ended(JobExit::Signal(15)),
            Some(StopReason::TokenRefused),
            took,
        );
        assert!(refused.contains("when its lease runs out"), "{refused}");
    }

    #[test]
    fn long_failure_reasons_are_cut_to_what_the_api_takes() {
        let short = "could not start: No such file or directory".to_string();
        assert_eq!(fit_reason(short.clone()), short);
        let long = format!(
            "could not start: working directory /{}: No such file",
            "é".repeat(2000)
        );
        let fit = fit_reason(long);
        assert!(fit.len() <= crate::protocol::MAX_FAILURE_REASON_BYTES);
        assert!(fit.ends_with('…') && fit.starts_with("could not start: working directory /é"));
    }
}
