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
//!   supervisor reads EOF and kills the whole job group;
//! - it fences the job on its lease: the worker passes on every renewal of
//!   the job's lease, and when renewals stop (the worker is stopped, hung,
//!   or cut off from the api) the supervisor stops the job so that it is
//!   dead by the time the lease expires — before the api can count the job
//!   lost and let anyone believe it no longer runs. This must happen here
//!   and not in the worker: a `SIGSTOP`ped worker can do nothing at all.
//!
//! The job's stdout and stderr are the log file the worker opened, inherited
//! straight through (the supervisor writes its own `[jobctl]` line there
//! when it fences the job) — unless output is redacted (`--redact-shapes`,
//! `--redact-secret NAME`): then both go into one pipe that a thread here
//! reads, redacts ([`super::redact`]) and writes to the log file. A job that
//! writes faster than that is slowed by the full pipe and loses nothing;
//! the last bytes are flushed before the job's end is reported. The socket
//! carries only control lines:
//!
//! - worker → supervisor: `term` (SIGTERM the group), `kill` (SIGKILL it),
//!   `lease MS` (the lease holds for MS more milliseconds);
//! - supervisor → worker: `started PID`, `spawn-error MESSAGE`, `fenced`
//!   (the lease ran out: the job is being stopped), `redacted N` (the
//!   copier replaced N stretches of the job's output, sent once at the
//!   end, before the exit line, when N > 0), then `exited CODE` or
//!   `signaled SIGNAL` once the job leader has been reaped. A worker
//!   ignores a line it does not know, so new lines can be added.
//!
//! In `ps` it shows as `jobctl job 1234abcd …` (its `argv[0]`, set by the
//! worker) and in `top` as `jobctl-1234abcd` (its `comm`).
//!
//! The supervisor is single-purpose and synchronous: no tokio, no tracing.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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
    /// The lease ran out without a renewal; the job is being stopped.
    Fenced,
    /// The copier replaced this many stretches of the job's output.
    Redacted(u64),
    Exited(JobExit),
}

impl ShimEvent {
    /// Parses one control line (without its newline).
    pub fn parse(line: &str) -> Option<Self> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "started" => rest.parse().ok().map(ShimEvent::Started),
            "spawn-error" => Some(ShimEvent::SpawnError(rest.to_string())),
            "fenced" => Some(ShimEvent::Fenced),
            "redacted" => rest.parse().ok().map(ShimEvent::Redacted),
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
            ShimEvent::Fenced => "fenced\n".to_string(),
            ShimEvent::Redacted(n) => format!("redacted {n}\n"),
            ShimEvent::Exited(JobExit::Code(c)) => format!("exited {c}\n"),
            ShimEvent::Exited(JobExit::Signal(s)) => format!("signaled {s}\n"),
        }
    }
}

/// How long the supervisor keeps killing and reaping what a finished job
/// left behind before it reports the end anyway.
const STRAGGLER_WAIT: Duration = Duration::from_secs(2);

/// The supervisor's own parser: one runs per job started, so it does not
/// build the whole command line of every other subcommand first.
#[derive(clap::Parser)]
#[command(name = "jobctl __run-job")]
struct RunJobCli {
    #[command(flatten)]
    args: RunJobArgs,
}

/// Parses the supervisor's arguments (`argv[0]` first, then the
/// `__run-job` options, without the subcommand) and runs it.
pub fn run_from_argv(argv: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    run(<RunJobCli as clap::Parser>::parse_from(argv).args)
}

/// Runs the job as described in the module docs; `args.control_fd` is the
/// supervisor's end of the socket pair, inherited from the worker.
pub fn run(args: RunJobArgs) -> ExitCode {
    let RunJobArgs {
        control_fd,
        cwd,
        job_id,
        lease_ms,
        kill_grace_ms,
        redact_shapes,
        redact_secret,
        run_as,
        command: argv,
    } = args;
    if let Some(id) = &job_id {
        set_process_name(id);
    }
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
    let writer = match control.try_clone() {
        Ok(w) => Reporter(Arc::new(Mutex::new(w))),
        Err(_) => return ExitCode::from(crate::exit::ERROR),
    };
    let Some((program, args)) = argv.split_first() else {
        writer.send(ShimEvent::SpawnError("empty command".into()));
        return ExitCode::SUCCESS;
    };
    if let Some(cwd) = &cwd
        && let Err(e) = std::env::set_current_dir(cwd)
    {
        let message = format!("working directory {}: {}", cwd.display(), os_error_text(&e));
        writer.send(ShimEvent::SpawnError(message));
        return ExitCode::SUCCESS;
    }
    // SAFETY: prctl with these arguments has no memory-safety preconditions.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

    let shim_pid = std::process::id() as i32;
    let mut command = std::process::Command::new(program);
    // Not our stdin: the worker may hand the control socket over as fd 0.
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .process_group(0);
    if let Some(name) = &run_as {
        // Before PDEATHSIG is set: a change of credentials clears it.
        if let Err(message) = run_as_account(&mut command, name) {
            writer.send(ShimEvent::SpawnError(message));
            return ExitCode::SUCCESS;
        }
    }
    let values: Vec<String> = redact_secret
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    let redactor = super::redact::Redactor::new(values.iter().map(String::as_str), redact_shapes);
    let mut pipe = None;
    if let Some(redactor) = redactor {
        match output_pipe(&mut command) {
            Ok(reader) => pipe = Some((reader, redactor)),
            Err(e) => {
                let message = format!("cannot create the output pipe: {}", os_error_text(&e));
                writer.send(ShimEvent::SpawnError(message));
                return ExitCode::SUCCESS;
            }
        }
    }
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
            writer.send(ShimEvent::SpawnError(message));
            return ExitCode::SUCCESS;
        }
    };
    // Our copies of the pipe's write end went with `command`: the pipe
    // ends when the last of the job's processes closes it.
    drop(command);
    let copier = pipe.map(|(reader, redactor)| spawn_copier(reader, redactor));
    let leader = Pid::from_raw(child.id() as i32);
    writer.send(ShimEvent::Started(child.id()));

    // Set once the leader is reaped: from then on its group id may in theory
    // be reused, so no more signals are sent on the worker's behalf.
    let group = Group {
        leader,
        reaped: Arc::new(AtomicBool::new(false)),
    };
    let fence = lease_ms.map(|ms| {
        let lease = Duration::from_millis(ms);
        let fence = Arc::new(Fence::new(lease));
        let watchdog = FenceWatch {
            fence: fence.clone(),
            // Dead by the time the lease expires: SIGTERM a grace before.
            grace: Duration::from_millis(kill_grace_ms).min(lease / 3),
            group: group.clone(),
            reporter: writer.clone(),
        };
        std::thread::spawn(move || watchdog.run());
        fence
    });
    {
        let group = group.clone();
        let fence = fence.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(control).lines() {
                let Ok(line) = line else { break };
                match line.split_once(' ').unwrap_or((line.as_str(), "")) {
                    ("term", _) => group.signal(Signal::SIGTERM),
                    ("kill", _) => group.signal(Signal::SIGKILL),
                    ("lease", ms) => {
                        if let (Some(fence), Ok(ms)) = (&fence, ms.parse()) {
                            fence.renew(Duration::from_millis(ms));
                        }
                    }
                    _ => {}
                }
            }
            // EOF: the worker is gone. Nobody supervises the job any more.
            group.signal(Signal::SIGKILL);
        });
    }

    let exit = reap_until_leader_exits(leader);
    group.reaped.store(true, Ordering::SeqCst);
    if let Some(fence) = &fence {
        fence.end();
    }
    // Whatever the leader left behind in its group goes with it.
    let _ = killpg(leader, Signal::SIGKILL);
    kill_remaining_descendants(Instant::now() + STRAGGLER_WAIT);
    if let Some(copier) = copier {
        // Every writer is gone: the copier reads to the end, flushes what
        // it held back and returns. A process stuck in the kernel may
        // still hold the pipe open; then the end is reported without
        // waiting for it (what the copier holds back is at most a partial
        // match, which stays unwritten, and its count unreported).
        if let Ok(redactions) = copier.recv_timeout(STRAGGLER_WAIT)
            && redactions > 0
        {
            writer.send(ShimEvent::Redacted(redactions));
        }
    }
    writer.send(ShimEvent::Exited(exit));
    ExitCode::SUCCESS
}

/// Makes the job run as the local account `name`: its uid, gid and
/// supplementary groups (as `initgroups` would set them), and its HOME,
/// USER and LOGNAME.
fn run_as_account(command: &mut std::process::Command, name: &str) -> Result<(), String> {
    let user = match nix::unistd::User::from_name(name) {
        Ok(Some(user)) => user,
        Ok(None) => return Err(format!("no local account {name:?}")),
        Err(e) => return Err(format!("cannot look up local account {name:?}: {e}")),
    };
    let cname =
        std::ffi::CString::new(name).map_err(|_| format!("invalid account name {name:?}"))?;
    let groups: Vec<libc::gid_t> = nix::unistd::getgrouplist(&cname, user.gid)
        .map_err(|e| format!("cannot list the groups of {name:?}: {e}"))?
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    command
        .env("HOME", &user.dir)
        .env("USER", name)
        .env("LOGNAME", name);
    // SAFETY: setgroups, setgid and setuid are plain system calls, safe
    // between fork and exec; `groups` was allocated before the fork.
    unsafe {
        command.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// Points the job's stdout and stderr at a new pipe; returns its read end.
fn output_pipe(command: &mut std::process::Command) -> std::io::Result<std::io::PipeReader> {
    // Both ends are close-on-exec: the job gets the write end as fds 1
    // and 2 only.
    let (reader, writer) = std::io::pipe()?;
    command.stdout(writer.try_clone()?).stderr(writer);
    Ok(reader)
}

/// Reads the job's output from the pipe, redacts it and appends it to the
/// log file (our stdout) as it comes; the receiver hears when it is done,
/// and how many stretches it redacted.
fn spawn_copier(
    mut reader: std::io::PipeReader,
    redactor: Arc<super::redact::Redactor>,
) -> std::sync::mpsc::Receiver<u64> {
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: fd 1 stays open for the supervisor's whole life;
        // ManuallyDrop keeps this borrowed handle from closing it.
        let mut log = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
        let mut stream = redactor.stream();
        super::redact::pump(&mut reader, &mut *log, Some(&mut stream));
        let _ = done_tx.send(stream.redactions());
    });
    done
}

/// Names the process after its job: `jobctl-1234abcd` in `top` and in
/// `ps -o comm` (the kernel keeps 15 bytes). `argv[0]`, which `ps -f`
/// shows, is set by the worker when it starts us.
fn set_process_name(job_id: &str) {
    let short: String = job_id.chars().take(8).collect();
    if let Ok(name) = std::ffi::CString::new(format!("jobctl-{short}")) {
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of which the
        // kernel copies at most 16 bytes.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
    }
}

/// The control socket's sending side, shared by the threads that report.
#[derive(Clone)]
struct Reporter(Arc<Mutex<UnixStream>>);

impl Reporter {
    fn send(&self, event: ShimEvent) {
        let mut stream = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = stream.write_all(event.line().as_bytes());
    }
}

/// The job's process group.
#[derive(Clone)]
struct Group {
    leader: Pid,
    reaped: Arc<AtomicBool>,
}

impl Group {
    /// Signals the group, unless its leader has been reaped.
    fn signal(&self, signal: Signal) {
        if !self.reaped.load(Ordering::SeqCst) {
            let _ = killpg(self.leader, signal);
        }
    }
}

/// The job's lease, as far as the supervisor knows it.
struct Fence {
    state: Mutex<FenceState>,
    changed: Condvar,
}

struct FenceState {
    /// When the job must be dead unless the worker renews the lease.
    expires: Instant,
    /// When the worker last renewed it (or the job started).
    renewed: Instant,
    /// The lease ran out: renewals no longer count.
    fencing: bool,
    /// The job has ended: nothing left to fence.
    over: bool,
}

impl Fence {
    fn new(lease: Duration) -> Self {
        let now = Instant::now();
        Fence {
            state: Mutex::new(FenceState {
                expires: now + lease,
                renewed: now,
                fencing: false,
                over: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FenceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn renew(&self, valid_for: Duration) {
        let mut state = self.lock();
        if !state.fencing {
            state.renewed = Instant::now();
            state.expires = state.renewed + valid_for;
            self.changed.notify_all();
        }
    }

    fn end(&self) {
        self.lock().over = true;
        self.changed.notify_all();
    }
}

/// The thread that stops the job when its lease runs out.
struct FenceWatch {
    fence: Arc<Fence>,
    grace: Duration,
    group: Group,
    reporter: Reporter,
}

impl FenceWatch {
    fn run(self) {
        let fence = &self.fence;
        let mut state = fence.lock();
        // Wait for the moment to SIGTERM, moved on by every renewal.
        loop {
            if state.over {
                return;
            }
            let term_at = state
                .expires
                .checked_sub(self.grace)
                .unwrap_or(state.expires);
            let now = Instant::now();
            if now >= term_at {
                break;
            }
            state = fence
                .changed
                .wait_timeout(state, term_at - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        state.fencing = true;
        let kill_at = state.expires;
        let silent = state.renewed.elapsed();
        drop(state);
        note_in_log(&format!(
            "lease expiring: the worker has not renewed the job's lease for {:.0}s (it is              stopped, or cannot reach the API); stopping the job so that it does not run on              after the API counts it lost: SIGTERM now, SIGKILL in {:.0}s",
            silent.as_secs_f64(),
            self.grace.as_secs_f64()
        ));
        self.reporter.send(ShimEvent::Fenced);
        self.group.signal(Signal::SIGTERM);
        let mut state = fence.lock();
        loop {
            if state.over {
                return;
            }
            let now = Instant::now();
            if now >= kill_at {
                break;
            }
            state = fence
                .changed
                .wait_timeout(state, kill_at - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(state);
        self.group.signal(Signal::SIGKILL);
    }
}

/// Appends a `[jobctl]` line to the job's log, which is our stdout.
fn note_in_log(message: &str) {
    // SAFETY: fd 1 stays open for the supervisor's whole life; ManuallyDrop
    // keeps this borrowed handle from closing it.
    let log = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let _ = crate::logs::append_note(&log, message);
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
///
/// Children are listed (a walk of `/proc`, costly where the kernel lacks
/// `/proc/PID/task/TID/children`: it reads every process's `stat` and leaves
/// dentries the kernel must invalidate at each exit) only while `waitpid`
/// says some are still alive. Most jobs leave nothing behind: then the first
/// `waitpid` answers `ECHILD` — every orphan would have been reparented to us
/// — and no listing is made at all.
fn kill_remaining_descendants(deadline: Instant) {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                for pid in own_children() {
                    let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                }
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
            ShimEvent::Fenced,
            ShimEvent::Redacted(2),
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
