//! Exit statuses, decided here and nowhere else.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success; for `logs --follow` and `submit --follow`, the job completed |
//! | 1 | the followed job failed |
//! | 2 | usage error, or the API could not be used (unreachable, bad token, unknown job) |
//! | 3 | the followed job was cancelled |
//! | 130 | interrupted (Ctrl-C) while following; the job itself goes on |

use std::process::ExitCode;

use crate::domain::JobStatus;

/// The job completed, or the command did what it was asked.
pub const SUCCESS: u8 = 0;
/// The followed job failed.
pub const JOB_FAILED: u8 = 1;
/// Usage error or an API error (clap uses 2 for usage errors too).
pub const ERROR: u8 = 2;
/// The followed job was cancelled.
pub const JOB_CANCELLED: u8 = 3;
/// Following was interrupted by SIGINT.
pub const INTERRUPTED: u8 = 130;

/// The status that says how a followed job ended.
pub fn for_job(status: JobStatus) -> ExitCode {
    ExitCode::from(match status {
        JobStatus::Completed => SUCCESS,
        JobStatus::Failed => JOB_FAILED,
        JobStatus::Cancelled => JOB_CANCELLED,
        // Following stops only at a terminal status; reaching here means the
        // caller stopped early, which is not a success.
        JobStatus::Pending | JobStatus::Running => ERROR,
    })
}
