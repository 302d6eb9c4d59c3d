//! Whether this worker can run jobs right now.
//!
//! A worker whose logs dir is read-only or full, whose storage hangs, or
//! whose job supervisor fails to start would fail every job it claims —
//! draining the whole queue into `could not start` in seconds while
//! healthy workers idle. Instead a job hit by such a fault goes back to
//! `pending` (see [`super::outcome::Outcome::HandBack`]) and the worker
//! records the fault here. The claim loop then stops claiming, and checks
//! every so often (backing off, see [`crate::retry::PROBE`]) whether the
//! logs dir takes a file again; once it does, claiming resumes.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::fs;
use crate::retry::Backoff;

/// Space the logs dir must have free for a job to start there.
pub const MIN_FREE_BYTES: u64 = 1024 * 1024;

/// The fault that keeps this worker from running jobs, if any.
#[derive(Debug)]
pub struct Health {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    fault: Option<String>,
    /// Delays between checks. Not reset when a check passes, only when a
    /// job starts: a fault the check cannot see (a supervisor that fails to
    /// start) hands back one job per ever longer pause, not one a second.
    probes: Backoff,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: Mutex::new(State {
                fault: None,
                probes: crate::retry::PROBE.backoff(),
            }),
        }
    }
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a fault; the first one of a spell is logged.
    pub fn fault(&self, reason: &str) {
        let mut state = self.lock();
        if state.fault.is_none() {
            tracing::error!(
                reason,
                "this worker cannot run jobs: it stops claiming until the fault clears, and \
                 hands the job back to the queue"
            );
        }
        state.fault = Some(reason.to_string());
    }

    /// The current fault.
    pub fn current(&self) -> Option<String> {
        self.lock().fault.clone()
    }

    /// How long to wait before the next check.
    pub fn next_check_in(&self) -> Duration {
        self.lock().probes.next_delay()
    }

    /// The fault has cleared.
    pub fn clear(&self) {
        if let Some(reason) = self.lock().fault.take() {
            tracing::info!(was = reason, "the fault has cleared; claiming jobs again");
        }
    }

    /// A job started: whatever was wrong is fixed.
    pub fn job_started(&self) {
        self.lock().probes.reset();
    }
}

/// Checks that the logs dir takes a new file: created, written, synced and
/// removed, with enough space left for a job to start.
pub async fn probe_logs_dir(logs_dir: &Path, timeout: Duration) -> Result<(), String> {
    let dir = logs_dir.to_path_buf();
    fs::blocking(timeout, move || {
        check_free_space(&dir)?;
        let path = dir.join(format!(".jobctl-probe-{}", std::process::id()));
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::File::create(&path)?;
            file.write_all(&[b'\n'; 4096])?;
            file.sync_data()
        })();
        let removed = std::fs::remove_file(&path);
        written.and(removed)
    })
    .await
    .map_err(|e| format!("logs dir {}: {e}", logs_dir.display()))
}

/// `ENOSPC` when the filesystem of `dir` has less than [`MIN_FREE_BYTES`]
/// available: a job started there would lose its output.
pub fn check_free_space(dir: &Path) -> std::io::Result<()> {
    let stat = nix::sys::statvfs::statvfs(dir).map_err(std::io::Error::from)?;
    let free = stat.blocks_available() as u64 * stat.fragment_size() as u64;
    if free < MIN_FREE_BYTES {
        return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_writable_dir_passes_and_a_missing_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        probe_logs_dir(dir.path(), fs::FS_TIMEOUT).await.unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no probe file left"
        );
        let missing = dir.path().join("gone");
        let err = probe_logs_dir(&missing, fs::FS_TIMEOUT).await.unwrap_err();
        assert!(err.contains("No such file or directory"), "{err}");
    }

    #[test]
    fn a_fault_is_held_until_cleared() {
        let health = Health::default();
        assert_eq!(health.current(), None);
        health.fault("logs dir /x: Read-only file system");
        health.fault("logs dir /x: Read-only file system");
        assert_eq!(
            health.current().as_deref(),
            Some("logs dir /x: Read-only file system")
        );
        health.clear();
        assert_eq!(health.current(), None);
    }
}
