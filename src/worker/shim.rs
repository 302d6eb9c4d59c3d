//! The job supervisor (`jobctl __run-job`): one small process per job,
//! between the worker and the job.
//!
//! The worker could spawn jobs itself, but then a `SIGKILL`ed worker would
//! leave its jobs' grandchildren running unsupervised, and orphans would be
//! left to a PID 1 that may never reap them. The supervisor fixes both:
//!
//! - it starts the job as the leader of a new process group, with
//!   `PR_SET_PDEATHSIG` so the leader dies if the supervisor does;
//! - it is a child subreaper, so the job's orphaned descendants are
//!   reparented to it and reaped — no zombie is left;
//! - it holds one end of a socket pair whose other end only the worker has.
//!   When the worker dies, however it dies, the kernel closes its end; the
//!   supervisor reads EOF and kills the whole job group.
//!
//! The job's stdout and stderr are not touched here: they are the log file
//! the worker opened, inherited straight through. The socket carries only
//! control lines:
//!
//! - worker → supervisor: `term` (SIGTERM the group), `kill` (SIGKILL it);
//! - supervisor → worker: `started PID`, `spawn-error MESSAGE`, then
//!   `exited CODE` or `signaled SIGNAL` once the job leader has been reaped.
//!
//! The supervisor is single-purpose and synchronous: no tokio, no tracing.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::cli::RunJobArgs;

/// How the job leader ended, as the supervisor reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobExit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}

/// One line from the supervisor to the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShimEvent {
    Started(u32),
    SpawnError(String),
    Exited(JobExit),
}

impl ShimEvent {
    /// Parses one control line (without its newline).
    pub fn parse(line: &str) -> Option<Self> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "started" => rest.parse().ok().map(ShimEvent::Started),
            "spawn-error" => Some(ShimEvent::SpawnError(rest.to_string())),
            "exited" => rest
                .parse()
                .ok()
                .map(|c| ShimEvent::Exited(JobExit::Code(c))),
            "signaled" => rest
                .parse()
                .ok()
                .map(|s| ShimEvent::Exited(JobExit::Signal(s))),
            _ => None,
        }
    }

    fn line(&self) -> String {
        match self {
            ShimEvent::Started(pid) => format!("started {pid}\n"),
            // One line: a message with a newline would split the protocol.
            ShimEvent::SpawnError(msg) => format!("spawn-error {}\n", msg.replace('\n', " ")),
            ShimEvent::Exited(JobExit::Code(c)) => format!("exited {c}\n"),
            ShimEvent::Exited(JobExit::Signal(s)) => format!("signaled {s}\n"),
        }
    }
}

/// How long the supervisor keeps killing and reaping what a finished job
/// left behind before it reports the end anyway.
const STRAGGLER_WAIT: Duration = Duration::from_secs(2);

/// Runs the job as described in the module docs; `args.control_fd` is the
/// supervisor's end of the socket pair, inherited from the worker.
pub fn run(args: RunJobArgs) -> ExitCode {
    let RunJobArgs {
        control_fd,
        cwd,
        command: argv,
    } = args;
    // The fd must be open: fcntl fails on anything else.
    // SAFETY: F_GETFD only reads the fd's flags.
    if unsafe { libc::fcntl(control_fd, libc::F_GETFD) } == -1 {
        eprintln!(
            "jobctl __run-job: control fd {control_fd} is not open; this command is internal to the worker"
        );
        return ExitCode::from(crate::exit::ERROR);
    }
    // SAFETY: the worker handed this fd to us alone, and we just checked it is open.
    let control = UnixStream::from(unsafe { OwnedFd::from_raw_fd(control_fd) });
    // The job must not inherit the control socket: it would keep it open
    // after the worker died and hide the EOF that tells us so.
    let _ = nix::fcntl::fcntl(
        &control,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    close_inherited_fds_on_exec();
    let mut writer = match control.try_clone() {
        Ok(w) => w,
        Err(_) => return ExitCode::from(crate::exit::ERROR),
    };
    let Some((program, args)) = argv.split_first() else {
        let _ = writer.write_all(
            ShimEvent::SpawnError("empty command".into())
                .line()
                .as_bytes(),
        );
        return ExitCode::SUCCESS;
    };
    if let Some(cwd) = &cwd
        && let Err(e) = std::env::set_current_dir(cwd)
    {
        let message = format!("working directory {}: {}", cwd.display(), os_error_text(&e));
        let _ = writer.write_all(ShimEvent::SpawnError(message).line().as_bytes());
        return ExitCode::SUCCESS;
    }
    // SAFETY: prctl with these arguments has no memory-safety preconditions.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

    let shim_pid = std::process::id() as i32;
    let mut command = std::process::Command::new(program);
    command.args(args).process_group(0);
    // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The supervisor may have died before the prctl took effect.
            if libc::getppid() != shim_pid {
                return Err(std::io::Error::other("job supervisor exited during start"));
            }
            Ok(())
        });
    }
    let child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            let message = format!("{} (program {:?})", os_error_text(&e), program);
            let _ = writer.write_all(ShimEvent::SpawnError(message).line().as_bytes());
            return ExitCode::SUCCESS;
        }
    };
    let leader = Pid::from_raw(child.id() as i32);
    let _ = writer.write_all(ShimEvent::Started(child.id()).line().as_bytes());

    // Set once the leader is reaped: from then on its group id may in theory
    // be reused, so no more signals are sent on the worker's behalf.
    let leader_reaped = Arc::new(AtomicBool::new(false));
    {
        let leader_reaped = leader_reaped.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(control).lines() {
                let signal = match line.as_deref() {
                    Ok("term") => Signal::SIGTERM,
                    Ok("kill") => Signal::SIGKILL,
                    Ok(_) => continue,
                    Err(_) => break,
                };
                if !leader_reaped.load(Ordering::SeqCst) {
                    let _ = killpg(leader, signal);
                }
            }
            // EOF: the worker is gone. Nobody supervises the job any more.
            if !leader_reaped.load(Ordering::SeqCst) {
                let _ = killpg(leader, Signal::SIGKILL);
            }
        });
    }

    let exit = reap_until_leader_exits(leader);
    leader_reaped.store(true, Ordering::SeqCst);
    // Whatever the leader left behind in its group goes with it.
    let _ = killpg(leader, Signal::SIGKILL);
    kill_remaining_descendants(Instant::now() + STRAGGLER_WAIT);
    let _ = writer.write_all(ShimEvent::Exited(exit).line().as_bytes());
    ExitCode::SUCCESS
}

/// Reaps every child (orphans reparented to us included) until the leader
/// itself exits, and says how it did.
fn reap_until_leader_exits(leader: Pid) -> JobExit {
    loop {
        match waitpid(None::<Pid>, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == leader => return JobExit::Code(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == leader => {
                return JobExit::Signal(sig as i32);
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            // ECHILD cannot happen while the leader is ours; if it does,
            // there is nothing left to wait for.
            Err(_) => return JobExit::Signal(libc::SIGKILL),
        }
    }
}

/// Kills and reaps whatever still runs below us once the leader is gone:
/// members of its group, and processes that left the group (`setsid`, a
/// daemon's double fork). As a subreaper we inherit every orphan, so killing
/// our children round after round reaches them all. Gives up at `deadline`
/// on anything unkillable (a process stuck in the kernel).
fn kill_remaining_descendants(deadline: Instant) {
    loop {
        for pid in own_children() {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        }
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                if Instant::now() >= deadline {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return, // ECHILD: nothing left
        }
    }
}

/// The pids of this process's children, from `/proc/self/task/*/children`
/// (each thread lists its own), or by scanning `/proc` for our pid as parent
/// where the kernel lacks that file.
fn own_children() -> Vec<Pid> {
    let mut pids = Vec::new();
    let mut found_file = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
                found_file = true;
                pids.extend(
                    list.split_whitespace()
                        .filter_map(|p| p.parse().ok())
                        .map(Pid::from_raw),
                );
            }
        }
    }
    if found_file {
        return pids;
    }
    let me = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …: the command may hold spaces and parens.
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1));
        if ppid == Some(me.as_str())
            && let Ok(pid) = entry.file_name().to_string_lossy().parse()
        {
            pids.push(Pid::from_raw(pid));
        }
    }
    pids
}

/// Marks every descriptor from 3 up close-on-exec, so the job gets only
/// stdin, stdout and stderr — not whatever the worker's own parent (a shell,
/// a test harness, a supervisor) left open, which a daemonising job would
/// otherwise hold forever.
fn close_inherited_fds_on_exec() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if done {
        return;
    }
    // Kernels before 5.11: flag each open descriptor by hand.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: setting FD_CLOEXEC on an fd has no memory-safety preconditions.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// "No such file or directory (os error 2)" → "No such file or directory".
pub fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_lines_round_trip() {
        for event in [
            ShimEvent::Started(4242),
            ShimEvent::SpawnError("No such file or directory".into()),
            ShimEvent::Exited(JobExit::Code(0)),
            ShimEvent::Exited(JobExit::Code(-1)),
            ShimEvent::Exited(JobExit::Signal(9)),
        ] {
            let line = event.line();
            assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
            assert_eq!(ShimEvent::parse(line.trim_end()), Some(event));
        }
        assert_eq!(
            ShimEvent::parse("spawn-error two\nlines"),
            Some(ShimEvent::SpawnError("two\nlines".into()))
        );
        assert_eq!(ShimEvent::parse("nonsense"), None);
        assert_eq!(ShimEvent::parse("started x"), None);
    }
}
