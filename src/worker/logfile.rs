//! A running job's log file, as the worker holds it.
//!
//! The worker opens `LOGS_DIR/{id}.log` before the job starts, so the file
//! exists for the whole run, and hands the very same open file to the job as
//! its stdout and stderr ([`LogFile::job_stdio`]): output is readable through
//! the api as soon as the job writes it, with nothing copied in between.
//! The worker's own `[jobctl] …` lines go through the same file description;
//! `O_APPEND` keeps each whole between the job's writes.
//!
//! Every call that touches the filesystem runs through [`super::fs`], so a
//! hung NFS mount costs a blocking thread, never the worker's heartbeats.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::fs::{self, FsError};
use crate::logs;

/// How often a running job's log is flushed to the server when the logs dir
/// is on a network filesystem, so readers on other machines see it.
const SYNC_INTERVAL: Duration = Duration::from_secs(2);

/// One job's log, open for appending and locked (`flock`) for as long as
/// the job may write. The lock belongs to the open file description, which
/// the job's stdout and stderr share, so it lasts as long as anything can
/// still write.
#[derive(Clone)]
pub struct LogFile {
    file: Arc<File>,
    path: PathBuf,
    /// fdatasync while the job runs: see [`super::WorkerContext::sync_logs`].
    sync: bool,
    fs_timeout: Duration,
}

impl LogFile {
    /// Creates the log of a job about to start. A file left by a worker that
    /// handed the job back is appended to, once nothing holds its lock; a
    /// worker never writes into a log that another process is writing.
    pub async fn open(path: PathBuf, sync: bool, fs_timeout: Duration) -> Result<Self, FsError> {
        let file = fs::blocking(fs_timeout, {
            let path = path.clone();
            move || open_locked(&path)
        })
        .await?;
        Ok(LogFile {
            file: Arc::new(file),
            path,
            sync,
            fs_timeout,
        })
    }

    /// How many bytes the log holds now; `None` if the filesystem cannot say.
    pub async fn size(&self) -> Option<u64> {
        let file = self.file.clone();
        fs::blocking(self.fs_timeout, move || file.metadata().map(|m| m.len()))
            .await
            .ok()
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The job's stdout and stderr: two handles on this very file.
    pub fn job_stdio(&self) -> std::io::Result<(OwnedFd, OwnedFd)> {
        Ok((self.file.try_clone()?.into(), self.file.try_clone()?.into()))
    }

    /// Gives the log to the account a job runs as: its owner may read it,
    /// the group keeps read access (the api's reader), others have none.
    pub async fn give_to(&self, uid: u32) -> Result<(), FsError> {
        let file = self.file.clone();
        fs::blocking(self.fs_timeout, move || {
            std::os::unix::fs::fchown(file.as_ref(), Some(uid), None)?;
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o640))
        })
        .await
    }

    /// Appends a `[jobctl] …` line. A failure is logged, not returned: the
    /// line is for people, and the job's status is what counts.
    pub async fn note(&self, message: &str) {
        let file = self.file.clone();
        let line = message.to_string();
        if let Err(e) = fs::blocking(self.fs_timeout, move || logs::append_note(&file, &line)).await
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot write to the job's log");
        }
    }

    /// Pushes what was written to the server, on a network filesystem.
    pub async fn sync(&self) {
        if !self.sync {
            return;
        }
        let file = self.file.clone();
        if let Err(e) = fs::blocking(self.fs_timeout, move || file.sync_data()).await {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot sync the job's log");
        }
    }

    /// Syncs the log every few seconds until `done`, on a network
    /// filesystem; `None` on a local one.
    pub fn spawn_syncer(&self, done: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
        if !self.sync {
            return None;
        }
        let log = self.clone();
        Some(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(SYNC_INTERVAL);
            ticker.tick().await;
            loop {
                tokio::select! {
                    _ = done.cancelled() => return,
                    _ = ticker.tick() => log.sync().await,
                }
            }
        }))
    }
}

/// Opens the log exclusively: a new file, or one that no process holds
/// locked (a worker that could not start the job left it behind).
fn open_locked(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        super::health::check_free_space(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true).read(true).mode(0o640);
    let (file, created) = match options.clone().create_new(true).open(path) {
        Ok(file) => (file, true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => (options.open(path)?, false),
        Err(e) => return Err(e),
    };
    // SAFETY: flock on an fd we own has no memory-safety preconditions.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            // Some NFS set-ups have no lock manager; the exclusive create
            // still guarantees that no other worker writes here.
            Some(libc::ENOLCK) | Some(libc::EOPNOTSUPP) if created => {
                tracing::warn!(path = %path.display(), error = %e, "cannot lock the log file; running the job without the lock");
            }
            Some(libc::EWOULDBLOCK) => {
                return Err(std::io::Error::other(
                    "the log file is in use by another process",
                ));
            }
            _ => return Err(e),
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_log_is_created_once_and_reused_only_when_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.log");
        let first = LogFile::open(path.clone(), false, fs::FS_TIMEOUT)
            .await
            .unwrap();
        first.note("first worker").await;
        let busy = LogFile::open(path.clone(), false, fs::FS_TIMEOUT).await;
        assert!(busy.is_err(), "locked by the first");
        drop(first);
        let second = LogFile::open(path.clone(), false, fs::FS_TIMEOUT)
            .await
            .unwrap();
        second.note("second worker").await;
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "[jobctl] first worker\n[jobctl] second worker\n");
    }
}
