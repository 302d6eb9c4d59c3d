//! Running Slurm's own commands: `sbatch`, `squeue`, `sacct`, `scancel`,
//! `scontrol`. Each call is one process with a deadline, run without a
//! shell and without the worker's `JOBCTL_*` settings in its environment.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::queue::{self, AccountingEntry, QueueEntry};
use super::sbatch::{self, SubmitFailure};

/// How long one Slurm command may take. `sbatch` retries a busy controller
/// by itself for a while; beyond this the cluster counts as unreachable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a Slurm command gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SlurmError {
    #[error("cannot run {program}: {reason}; is Slurm installed on this host (PATH)?")]
    Spawn { program: String, reason: String },
    #[error("{program} did not answer within {}s", COMMAND_TIMEOUT.as_secs())]
    TimedOut { program: String },
    #[error("{program} failed: {message}")]
    Failed { program: String, message: String },
}

/// What a finished command printed.
struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

/// The Slurm client commands on this host.
#[derive(Debug, Clone, Default)]
pub struct SlurmCommands;

impl SlurmCommands {
    async fn run(
        &self,
        program: &str,
        args: &[String],
        stdin: Option<&str>,
    ) -> Result<Output, SlurmError> {
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // The worker's own settings (its token above all) are none of
        // Slurm's business.
        crate::worker::remove_worker_settings(&mut command);
        let mut child = command.spawn().map_err(|e| SlurmError::Spawn {
            program: program.to_string(),
            reason: crate::worker::shim::os_error_text(&e),
        })?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A write error shows up as the command's own failure.
            let _ = pipe.write_all(text.as_bytes()).await;
            drop(pipe);
        }
        let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| SlurmError::TimedOut {
                program: program.to_string(),
            })?
            .map_err(|e| SlurmError::Spawn {
                program: program.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `sbatch` with the script on stdin: the Slurm job id.
    pub async fn submit(&self, args: &[String], script: &str) -> Result<u64, SubmitFailure> {
        let out = self
            .run("sbatch", args, Some(script))
            .await
            .map_err(|e| SubmitFailure::Cluster(e.to_string()))?;
        if !out.success {
            return Err(sbatch::classify_failure(&out.stderr));
        }
        sbatch::parse_job_id(&out.stdout).ok_or_else(|| {
            SubmitFailure::Cluster(format!(
                "sbatch answered {:?}, not a job id",
                out.stdout.trim()
            ))
        })
    }

    /// `sbatch --test-only`: would Slurm take a job with these arguments?
    /// Submits nothing.
    pub async fn test_submit(&self, args: &[String]) -> Result<(), SubmitFailure> {
        let mut args = args.to_vec();
        args.push("--test-only".into());
        let out = self
            .run("sbatch", &args, Some("#!/bin/sh\ntrue\n"))
            .await
            .map_err(|e| SubmitFailure::Cluster(e.to_string()))?;
        if out.success {
            Ok(())
        } else {
            Err(sbatch::classify_failure(&out.stderr))
        }
    }

    /// `squeue` for these jobs, in any state: one process for all of them.
    pub async fn jobs(&self, ids: &[u64]) -> Result<Vec<QueueEntry>, SlurmError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let args = [
            "--noheader".to_string(),
            "--states=all".into(),
            format!("--format={}", queue::SQUEUE_FORMAT),
            format!("--jobs={list}"),
        ];
        let out = self.run("squeue", &args, None).await?;
        if out.success {
            return Ok(queue::parse_squeue(&out.stdout));
        }
        // When none of the jobs is known any more, squeue says so as an error.
        if out.stderr.contains("Invalid job id specified") {
            return Ok(Vec::new());
        }
        Err(failed("squeue", &out.stderr))
    }

    /// `squeue` for every job of this Unix user, in any state.
    pub async fn my_jobs(&self) -> Result<Vec<QueueEntry>, SlurmError> {
        let args = [
            "--noheader".to_string(),
            "--states=all".into(),
            "--me".into(),
            format!("--format={}", queue::SQUEUE_FORMAT),
        ];
        let out = self.run("squeue", &args, None).await?;
        if out.success {
            Ok(queue::parse_squeue(&out.stdout))
        } else {
            Err(failed("squeue", &out.stderr))
        }
    }

    /// `sacct` for jobs that have left the queue (only with accounting).
    pub async fn accounting(&self, ids: &[u64]) -> Result<Vec<AccountingEntry>, SlurmError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let args = [
            "--noheader".to_string(),
            "--parsable2".into(),
            "--allocations".into(),
            format!("--format={}", queue::SACCT_FORMAT),
            format!("--jobs={list}"),
        ];
        let out = self.run("sacct", &args, None).await?;
        if out.success {
            Ok(queue::parse_sacct(&out.stdout))
        } else {
            Err(failed("sacct", &out.stderr))
        }
    }

    /// Whether the cluster keeps job accounting (`sacct` works).
    pub async fn accounting_enabled(&self) -> Result<bool, SlurmError> {
        let out = self
            .run("scontrol", &["show".to_string(), "config".into()], None)
            .await?;
        if out.success {
            Ok(queue::accounting_enabled(&out.stdout))
        } else {
            Err(failed("scontrol", &out.stderr))
        }
    }

    /// Ends a job: `scancel ID`, Slurm's own SIGTERM, KillWait, SIGKILL.
    /// A job that has already ended is not an error.
    pub async fn cancel(&self, id: u64) -> Result<(), SlurmError> {
        self.scancel(&[id.to_string()]).await
    }

    /// Sends `signal` to every process of the job, the batch shell
    /// included (`--full`), without ending the job itself.
    pub async fn signal(&self, id: u64, signal: &str) -> Result<(), SlurmError> {
        self.scancel(&[
            format!("--signal={signal}"),
            "--full".into(),
            id.to_string(),
        ])
        .await
    }

    async fn scancel(&self, args: &[String]) -> Result<(), SlurmError> {
        let out = self.run("scancel", args, None).await?;
        let gone = [
            "Invalid job id specified",
            "already completing or completed",
        ];
        if out.success || gone.iter().any(|g| out.stderr.contains(g)) {
            Ok(())
        } else {
            Err(failed("scancel", &out.stderr))
        }
    }
}

fn failed(program: &str, stderr: &str) -> SlurmError {
    let message = stderr.trim();
    SlurmError::Failed {
        program: program.to_string(),
        message: if message.is_empty() {
            "no message".into()
        } else {
            message.chars().take(600).collect()
        },
    }
}
