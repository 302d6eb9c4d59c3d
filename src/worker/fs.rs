//! Filesystem calls made off the async runtime, each with a deadline.
//!
//! A job's log file, its working directory and the logs dir may sit on NFS,
//! and a hung mount blocks the calling thread in the kernel for as long as
//! the server is away. On one of tokio's worker threads that would stall
//! every heartbeat of every job on the worker, so the api would count them
//! all lost. Every call that touches the filesystem goes through
//! [`blocking`] instead: it runs on the blocking pool, and the caller stops
//! waiting after the deadline. The thread itself stays stuck until the
//! kernel lets go (the pool is bounded, see [`crate::runtime`]); what matters
//! is that the worker keeps heartbeating and can say what went wrong.

use std::io;
use std::time::Duration;

use crate::domain::format_duration;

/// How long a filesystem call may take before the worker treats the
/// filesystem as unreachable.
pub const FS_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a filesystem call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The call failed.
    #[error("{}", crate::worker::shim::os_error_text(.0))]
    Io(#[from] io::Error),
    /// The call did not return in time: the filesystem hangs.
    #[error("no answer from the filesystem within {}", format_duration(*.0))]
    TimedOut(Duration),
}

impl FsError {
    /// Whether the fault lies with this machine's storage (full, read-only,
    /// unreachable) rather than with what a job asked for (a path that does
    /// not exist, one it may not enter). Jobs hit by the first kind go back
    /// to the queue; the second kind fails them.
    pub fn is_storage_fault(&self) -> bool {
        match self {
            FsError::TimedOut(_) => true,
            FsError::Io(e) => matches!(
                e.raw_os_error(),
                Some(
                    libc::EROFS
                        | libc::ENOSPC
                        | libc::EDQUOT
                        | libc::EIO
                        | libc::ESTALE
                        | libc::ENOTCONN
                        | libc::ETIMEDOUT
                        | libc::EHOSTDOWN
                        | libc::EHOSTUNREACH
                        | libc::ENOMEM
                        | libc::EMFILE
                        | libc::ENFILE
                        | libc::ENOLCK
                )
            ),
        }
    }
}

/// Runs `call` on the blocking pool and waits at most `timeout` for it.
pub async fn blocking<T, F>(timeout: Duration, call: F) -> Result<T, FsError>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let task = tokio::task::spawn_blocking(call);
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result.map_err(FsError::Io),
        Ok(Err(join)) => Err(FsError::Io(io::Error::other(join))),
        Err(_) => Err(FsError::TimedOut(timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hung_call_times_out_without_blocking_the_caller() {
        let started = std::time::Instant::now();
        let (release, hang) = std::sync::mpsc::channel::<()>();
        let result = blocking(Duration::from_millis(50), move || {
            let _ = hang.recv();
            Ok(())
        })
        .await;
        assert!(matches!(result, Err(FsError::TimedOut(_))), "{result:?}");
        assert!(result.unwrap_err().is_storage_fault());
        assert!(started.elapsed() < Duration::from_secs(10));
        let _ = release.send(());
    }

    #[tokio::test]
    async fn errors_say_whose_fault_they_are() {
        let missing = blocking(FS_TIMEOUT, || std::fs::metadata("/no/such/jobctl/path")).await;
        let missing = missing.unwrap_err();
        assert!(!missing.is_storage_fault(), "a missing path is the job's");
        assert_eq!(missing.to_string(), "No such file or directory");
        let read_only = FsError::Io(io::Error::from_raw_os_error(libc::EROFS));
        assert!(read_only.is_storage_fault());
        let full = FsError::Io(io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(full.is_storage_fault());
        let denied = FsError::Io(io::Error::from_raw_os_error(libc::EACCES));
        assert!(!denied.is_storage_fault(), "a cwd the job may not enter");
    }
}
