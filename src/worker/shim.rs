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
//! `--redact-secret NAME`): then both go into one pipe that the supervisor
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
//! The supervisor is single-purpose and synchronous: no tokio, no tracing,
//! and one thread. It runs for every job, so it is kept as cheap as a
//! process can be: one `poll(2)` loop waits on the control socket, a
//! `signalfd` for `SIGCHLD` (the leader's end and every orphan's) and the
//! redaction pipe, with the fence's next step as its timeout; the job is
//! started without a copy of the supervisor's memory ([`super::spawn`]).
//! Threads would each cost a stack's mappings and their creation and exit.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::redact::COPY_CHUNK;
use super::spawn::{Credentials, JobCommand};
use crate::cli::{DEFAULT_KILL_GRACE_MS, RunJobArgs};

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
pub fn run_from_argv(argv: impl IntoIterator<Item = OsString>) -> ExitCode {
    let argv: Vec<OsString> = argv.into_iter().collect();
    match parse_worker_form(argv.get(1..).unwrap_or_default()) {
        Some(args) => run(args),
        None => run(<RunJobCli as clap::Parser>::parse_from(argv).args),
    }
}

/// Reads the options in the one form the worker writes them (`--flag
/// value` pairs and flags, then `--` and the command) without clap:
/// building clap's parser was a third of a forked supervisor's start
/// (`perf`, a dwarf call graph), for a command line that never varies in
/// shape. `None` for anything else (`--flag=value`, `--help`, an unknown
/// or repeated option, no command): clap then parses it, and says what is
/// wrong. A unit test holds the two to the same answers.
fn parse_worker_form(options: &[OsString]) -> Option<RunJobArgs> {
    let mut control_fd = None;
    let mut cwd = None;
    let mut job_id = None;
    let mut lease_ms = None;
    let mut kill_grace_ms = None;
    let mut redact_shapes = false;
    let mut redact_secret = Vec::new();
    let mut run_as = None;
    // Sets an option given once at most.
    fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
        match slot {
            Some(_) => None,
            None => {
                *slot = Some(value?);
                Some(())
            }
        }
    }
    let mut rest = options.iter();
    loop {
        let option = rest.next()?.to_str()?;
        if option == "--" {
            break;
        }
        if option == "--redact-shapes" {
            if redact_shapes {
                return None;
            }
            redact_shapes = true;
            continue;
        }
        let value = rest.next()?;
        let text = || value.to_str().map(str::to_string);
        match option {
            "--control-fd" => once(&mut control_fd, text()?.parse().ok())?,
            "--cwd" => once(&mut cwd, Some(std::path::PathBuf::from(value)))?,
            "--job-id" => once(&mut job_id, text())?,
            "--lease-ms" => once(&mut lease_ms, text()?.parse().ok())?,
            "--kill-grace-ms" => once(&mut kill_grace_ms, text()?.parse().ok())?,
            "--redact-secret" => redact_secret.push(text()?),
            "--run-as" => once(&mut run_as, text())?,
            _ => return None,
        }
    }
    let command: Vec<OsString> = rest.cloned().collect();
    if command.is_empty() {
        return None;
    }
    Some(RunJobArgs {
        control_fd: control_fd?,
        cwd,
        job_id,
        lease_ms,
        kill_grace_ms: kill_grace_ms.unwrap_or(DEFAULT_KILL_GRACE_MS),
        redact_shapes,
        redact_secret,
        run_as,
        command,
    })
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
    let report = |event: ShimEvent| send(&control, event);
    let Some((program, args)) = argv.split_first() else {
        report(ShimEvent::SpawnError("empty command".into()));
        return ExitCode::SUCCESS;
    };
    if let Some(cwd) = &cwd
        && let Err(e) = std::env::set_current_dir(cwd)
    {
        let message = format!("working directory {}: {}", cwd.display(), os_error_text(&e));
        report(ShimEvent::SpawnError(message));
        return ExitCode::SUCCESS;
    }
    // SAFETY: prctl with these arguments has no memory-safety preconditions.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };

    let mut command = match JobCommand::new(program, args) {
        Ok(command) => command,
        Err(e) => {
            let message = format!("{} (program {:?})", os_error_text(&e), program);
            report(ShimEvent::SpawnError(message));
            return ExitCode::SUCCESS;
        }
    };
    if let Some(name) = &run_as
        && let Err(message) = run_as_account(&mut command, name)
    {
        report(ShimEvent::SpawnError(message));
        return ExitCode::SUCCESS;
    }
    let values: Vec<String> = redact_secret
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    let redactor = super::redact::Redactor::new(values.iter().map(String::as_str), redact_shapes);
    let mut copier = None;
    if let Some(redactor) = redactor {
        // Both ends are close-on-exec: the job gets the write end as fds 1
        // and 2 only, and our copy goes with `command` once it has started.
        match std::io::pipe() {
            Ok((reader, writer)) => {
                command.output(writer.into());
                copier = Some(Copier::new(reader, &redactor));
            }
            Err(e) => {
                let message = format!("cannot create the output pipe: {}", os_error_text(&e));
                report(ShimEvent::SpawnError(message));
                return ExitCode::SUCCESS;
            }
        }
    }
    // Blocked before the job starts, so that no end of a child is missed.
    let children = match ChildEnds::watch() {
        Ok(children) => children,
        Err(e) => {
            let message = format!("cannot watch the job's processes: {}", os_error_text(&e));
            report(ShimEvent::SpawnError(message));
            return ExitCode::SUCCESS;
        }
    };
    // After SIGCHLD is blocked, which the thread inherits: a SIGCHLD it
    // took would be lost to the signalfd.
    let copied = match copier.map(Copier::spawn).transpose() {
        Ok(copied) => copied,
        Err(e) => {
            let message = format!("cannot start the output copier: {}", os_error_text(&e));
            report(ShimEvent::SpawnError(message));
            return ExitCode::SUCCESS;
        }
    };
    let leader = match command.spawn() {
        Ok(pid) => Pid::from_raw(pid),
        Err(message) => {
            report(ShimEvent::SpawnError(message));
            return ExitCode::SUCCESS;
        }
    };
    report(ShimEvent::Started(leader.as_raw() as u32));

    let fence = lease_ms.map(|ms| {
        let lease = Duration::from_millis(ms);
        // Dead by the time the lease expires: SIGTERM a grace before.
        Fence::new(Instant::now(), lease, Duration::from_millis(kill_grace_ms))
    });
    let mut supervision = Supervision {
        control: &control,
        control_open: true,
        incoming: Vec::new(),
        children,
        fence,
        fence_note: None,
        leader,
    };
    let exit = supervision.until_leader_exits();
    // The leader is reaped: from now on its group id may in theory be
    // reused, so no more signals go to the group on the worker's behalf —
    // but for this one, whatever the leader left behind in its group goes
    // with it.
    let _ = killpg(leader, Signal::SIGKILL);
    kill_remaining_descendants(Instant::now() + STRAGGLER_WAIT);
    let deadline = Instant::now() + STRAGGLER_WAIT;
    if let Some(copied) = copied {
        // Every writer is gone: the copier reads to the end, flushes what
        // it held back. A process stuck in the kernel may still hold the
        // pipe open, or the log may not take writes (a hung network
        // filesystem); then the end is reported without waiting for it
        // (what the copier holds back is at most a partial match, which
        // stays unwritten, and its count unreported).
        let left = deadline.saturating_duration_since(Instant::now());
        if let Ok(redactions) = copied.recv_timeout(left)
            && redactions > 0
        {
            report(ShimEvent::Redacted(redactions));
        }
    }
    if let Some(written) = supervision.fence_note.take() {
        let _ = written.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    }
    report(ShimEvent::Exited(exit));
    ExitCode::SUCCESS
}

/// Sends one control line to the worker.
fn send(control: &UnixStream, event: ShimEvent) {
    let _ = (&*control).write_all(event.line().as_bytes());
}

/// The running job as the supervisor's main thread watches it: a `poll(2)`
/// over the control socket and the ends of children, with the fence's next
/// step as its timeout. It never writes to the log, whose writes may block
/// (a hung network filesystem): the copier has a thread of its own, and
/// the fence's note is written by another.
struct Supervision<'a> {
    control: &'a UnixStream,
    /// Until the worker's end closes.
    control_open: bool,
    /// The start of a control line not complete yet.
    incoming: Vec<u8>,
    children: ChildEnds,
    fence: Option<Fence>,
    /// Answers once the fence's `[jobctl]` line is in the log.
    fence_note: Option<std::sync::mpsc::Receiver<()>>,
    leader: Pid,
}

impl Supervision<'_> {
    /// Runs until the leader has been reaped, reaping every other child
    /// (orphans reparented to us included) on the way.
    fn until_leader_exits(&mut self) -> JobExit {
        loop {
            if let Some(exit) = reap_children(self.leader) {
                return exit;
            }
            // Wait until something happens, or the fence's next step.
            loop {
                let timeout = self
                    .fence
                    .as_ref()
                    .and_then(|f| f.next_step())
                    .map(|at| at.saturating_duration_since(Instant::now()));
                let ready = poll(
                    [
                        self.control_open.then(|| self.control.as_raw_fd()),
                        Some(self.children.fd()),
                    ],
                    timeout,
                );
                if ready[0] {
                    self.read_control();
                }
                if let Some(fence) = &mut self.fence {
                    match fence.step(Instant::now()) {
                        Some(FenceStep::Terminate { silent }) => {
                            let _ = killpg(self.leader, Signal::SIGTERM);
                            send(self.control, ShimEvent::Fenced);
                            self.fence_note = Some(note_apart(fence_note(silent, fence.grace)));
                        }
                        Some(FenceStep::Kill) => {
                            let _ = killpg(self.leader, Signal::SIGKILL);
                        }
                        None => {}
                    }
                }
                if ready[1] {
                    self.children.clear();
                    break;
                }
            }
        }
    }

    /// Reads what the worker sent and acts on each complete line.
    fn read_control(&mut self) {
        let mut buf = [0u8; 1024];
        let n = match (&*self.control).read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(_) => 0,
        };
        if n == 0 {
            // EOF: the worker is gone. Nobody supervises the job any more.
            self.control_open = false;
            let _ = killpg(self.leader, Signal::SIGKILL);
            return;
        }
        self.incoming.extend_from_slice(&buf[..n]);
        while let Some(end) = self.incoming.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.incoming.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            match line.split_once(' ').unwrap_or((&line, "")) {
                ("term", _) => {
                    let _ = killpg(self.leader, Signal::SIGTERM);
                }
                ("kill", _) => {
                    let _ = killpg(self.leader, Signal::SIGKILL);
                }
                ("lease", ms) => {
                    if let (Some(fence), Ok(ms)) = (&mut self.fence, ms.parse()) {
                        fence.renew(Instant::now(), Duration::from_millis(ms));
                    }
                }
                _ => {}
            }
        }
    }
}

/// Waits until one of `fds` (the `None`s are left out) is readable or has
/// closed, or `timeout` has passed (`None`: no limit); says which are.
fn poll<const N: usize>(fds: [Option<RawFd>; N], timeout: Option<Duration>) -> [bool; N] {
    let mut polls = fds.map(|fd| libc::pollfd {
        // A negative fd is ignored by poll.
        fd: fd.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    });
    let timeout = timeout.map_or(-1, |t| {
        // Round up: waking a millisecond early would spin until the step.
        t.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
    });
    // SAFETY: `polls` is a valid array of N pollfd.
    let n = unsafe { libc::poll(polls.as_mut_ptr(), N as libc::nfds_t, timeout) };
    if n <= 0 {
        return [false; N]; // timed out, or EINTR
    }
    polls.map(|p| p.revents != 0)
}

/// The ends of a process's children, as a `signalfd` for `SIGCHLD`
/// (blocked, so that it is only counted there; `waitpid` does the rest).
/// The supervisor's, and the zygote's for its supervisors.
pub(super) struct ChildEnds(OwnedFd);

impl ChildEnds {
    /// Call while the process has one thread: threads started later inherit
    /// the blocked signal, and none can take it from the signalfd.
    pub(super) fn watch() -> std::io::Result<Self> {
        // SAFETY: a disposition and signal-mask calls on a local set, with
        // one thread. The job gets an empty mask (super::spawn), the
        // zygote's children theirs (super::zygote).
        let fd = unsafe {
            // Inherited as ignored (from a worker whose parent ignores it),
            // SIGCHLD would have the kernel reap children itself, unseen: no
            // signal, and no end to report.
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut mask);
            libc::sigaddset(&mut mask, libc::SIGCHLD);
            libc::pthread_sigmask(libc::SIG_BLOCK, &mask, std::ptr::null_mut());
            libc::signalfd(-1, &mask, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: signalfd just returned this new descriptor.
        Ok(ChildEnds(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub(super) fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Empties the queue (`waitpid` tells who ended).
    pub(super) fn clear(&self) {
        let mut info = [0u8; 128 * 4];
        // SAFETY: reads into a local buffer of the size given.
        while unsafe { libc::read(self.fd(), info.as_mut_ptr().cast(), info.len()) } > 0 {}
    }
}

/// Reaps every child that has ended; says how the leader did once it has.
fn reap_children(leader: Pid) -> Option<JobExit> {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == leader => return Some(JobExit::Code(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == leader => {
                return Some(JobExit::Signal(sig as i32));
            }
            Ok(WaitStatus::StillAlive) => return None,
            Ok(_) | Err(Errno::EINTR) => continue,
            // ECHILD cannot happen while the leader is ours; if it does,
            // there is nothing left to wait for.
            Err(_) => return Some(JobExit::Signal(libc::SIGKILL)),
        }
    }
}

/// Makes the job run as the local account `name`: its uid, gid and
/// supplementary groups (as `initgroups` would set them), and its HOME,
/// USER and LOGNAME.
fn run_as_account(command: &mut JobCommand, name: &str) -> Result<(), String> {
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
    command.env_overrides(&[
        ("HOME", user.dir.as_os_str()),
        ("USER", OsStr::new(name)),
        ("LOGNAME", OsStr::new(name)),
    ]);
    command.credentials(Credentials {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
    });
    Ok(())
}

/// Reads the job's output from the pipe, redacts it and appends it to the
/// log file (our stdout) as it comes.
struct Copier {
    /// `None` once the pipe has ended.
    reader: Option<std::io::PipeReader>,
    stream: super::redact::RedactStream,
    /// The read buffer, allocated on the first read and never initialised
    /// as a whole (see `copy_available`).
    storage: Vec<u8>,
    /// The log file (fd 1); writes stop at the first that fails.
    writable: bool,
}

impl Copier {
    fn new(reader: std::io::PipeReader, redactor: &Arc<super::redact::Redactor>) -> Self {
        Copier {
            reader: Some(reader),
            stream: redactor.stream(),
            storage: Vec::new(),
            writable: true,
        }
    }

    /// Copies on a thread of its own until the pipe ends, then flushes what
    /// the redaction held back and sends how many stretches it redacted.
    /// A write to the log that blocks (a hung network filesystem) holds up
    /// only the copy, never the fence or the kill when the worker is gone.
    fn spawn(mut self) -> std::io::Result<std::sync::mpsc::Receiver<u64>> {
        let (done, redactions) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("copier".into())
            .spawn(move || {
                while self.reader.is_some() {
                    self.copy_available();
                }
                let writable = &mut self.writable;
                self.stream.finish_with(|piece| put(writable, piece));
                let _ = done.send(self.stream.redactions());
            })?;
        Ok(redactions)
    }

    /// Copies one read's worth, waiting for it.
    fn copy_available(&mut self) {
        let Some(reader) = &mut self.reader else {
            return;
        };
        // Page-aligned, like `cat`'s: the kernel's copy out of the pipe
        // into a buffer 16 bytes off a page (what the allocator hands out)
        // took 43 % of the copier's time (`perf`, BENCHMARKS.md 4b). Not
        // zeroed: a job that writes a line touches one page of it, not 33.
        self.storage.reserve_exact(COPY_CHUNK + 4096);
        let offset = self.storage.as_ptr().align_offset(4096);
        let buf = self.storage.as_mut_ptr().wrapping_add(offset);
        // SAFETY: `buf` has COPY_CHUNK bytes of the storage's capacity
        // after it; read writes at most that many.
        let n = unsafe { libc::read(reader.as_raw_fd(), buf.cast(), COPY_CHUNK) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            return;
        }
        if n <= 0 {
            self.reader = None;
            return;
        }
        // SAFETY: read initialised the first n bytes at `buf`.
        let output = unsafe { std::slice::from_raw_parts(buf, n as usize) };
        let writable = &mut self.writable;
        self.stream.write_with(output, |piece| put(writable, piece));
    }
}

/// Appends `piece` to the log (fd 1) while that works.
fn put(writable: &mut bool, piece: &[u8]) {
    if *writable && !piece.is_empty() {
        // SAFETY: fd 1 stays open for the supervisor's whole life;
        // ManuallyDrop keeps this borrowed handle from closing it.
        let mut log = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
        *writable = log.write_all(piece).is_ok();
    }
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

/// The job's lease, as far as the supervisor knows it: when the worker
/// stops renewing it, the job is stopped before it expires.
#[derive(Debug)]
struct Fence {
    /// When the job must be dead unless the worker renews the lease.
    expires: Instant,
    /// When the worker last renewed it (or the job started).
    renewed: Instant,
    /// Between SIGTERM and SIGKILL.
    grace: Duration,
    stage: FenceStage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FenceStage {
    /// The lease holds; renewals move it on.
    Holding,
    /// The lease ran out and the job got SIGTERM: renewals no longer
    /// count, SIGKILL follows at this moment.
    Terminated { kill_at: Instant },
    /// Nothing left to do.
    Killed,
}

/// What the fence asks of the supervisor now.
#[derive(Debug, PartialEq, Eq)]
enum FenceStep {
    /// SIGTERM the job: the lease was not renewed for `silent`.
    Terminate { silent: Duration },
    /// SIGKILL it.
    Kill,
}

impl Fence {
    fn new(now: Instant, lease: Duration, kill_grace: Duration) -> Self {
        Fence {
            expires: now + lease,
            renewed: now,
            grace: kill_grace.min(lease / 3),
            stage: FenceStage::Holding,
        }
    }

    fn renew(&mut self, now: Instant, valid_for: Duration) {
        if self.stage == FenceStage::Holding {
            self.renewed = now;
            self.expires = now + valid_for;
        }
    }

    /// When the next step is due.
    fn next_step(&self) -> Option<Instant> {
        match self.stage {
            FenceStage::Holding => Some(self.term_at()),
            FenceStage::Terminated { kill_at } => Some(kill_at),
            FenceStage::Killed => None,
        }
    }

    fn term_at(&self) -> Instant {
        self.expires.checked_sub(self.grace).unwrap_or(self.expires)
    }

    /// The step due at `now`, if any; each is taken once.
    fn step(&mut self, now: Instant) -> Option<FenceStep> {
        match self.stage {
            FenceStage::Holding if now >= self.term_at() => {
                self.stage = FenceStage::Terminated {
                    kill_at: self.expires,
                };
                Some(FenceStep::Terminate {
                    silent: now.saturating_duration_since(self.renewed),
                })
            }
            FenceStage::Terminated { kill_at } if now >= kill_at => {
                self.stage = FenceStage::Killed;
                Some(FenceStep::Kill)
            }
            _ => None,
        }
    }
}

/// The `[jobctl]` line of a job stopped by its fence.
fn fence_note(silent: Duration, grace: Duration) -> String {
    format!(
        "lease expiring: the worker has not renewed the job's lease for {:.0}s (it is \
         stopped, or cannot reach the API); stopping the job so that it does not run on \
         after the API counts it lost: SIGTERM now, SIGKILL in {:.0}s",
        silent.as_secs_f64(),
        grace.as_secs_f64()
    )
}

/// Appends a `[jobctl]` line to the log on a thread of its own, so that a
/// write that blocks holds up nothing else; the receiver answers once it is
/// written.
fn note_apart(message: String) -> std::sync::mpsc::Receiver<()> {
    let (written, answer) = std::sync::mpsc::sync_channel(1);
    let write = move || {
        note_in_log(&message);
        let _ = written.send(());
    };
    // No thread to be had: the line is not worth stopping for (nor a
    // message about it, which would go to the log too).
    let _ = std::thread::Builder::new().spawn(write);
    answer
}

/// Appends a `[jobctl]` line to the job's log, which is our stdout.
fn note_in_log(message: &str) {
    // SAFETY: fd 1 stays open for the supervisor's whole life; ManuallyDrop
    // keeps this borrowed handle from closing it.
    let log = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let _ = crate::logs::append_note(&log, message);
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

    /// `argv[0]` and then these words.
    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("jobctl job 1")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn by_clap(argv: &[OsString]) -> Result<RunJobArgs, clap::Error> {
        <RunJobCli as clap::Parser>::try_parse_from(argv).map(|cli| cli.args)
    }

    #[test]
    fn the_worker_s_form_is_read_as_clap_reads_it() {
        for words in [
            &["--control-fd", "0", "--", "true"][..],
            &[
                "--control-fd",
                "0",
                "--job-id",
                "1234abcd-x",
                "--lease-ms",
                "30000",
                "--kill-grace-ms",
                "5000",
                "--run-as",
                "alice",
                "--redact-shapes",
                "--redact-secret",
                "A",
                "--redact-secret",
                "B",
                "--cwd",
                "/tmp/a b",
                "--",
                "sh",
                "-c",
                "echo --control-fd",
                "--",
                "",
            ],
            &["--redact-shapes", "--control-fd", "7", "--", "--help"],
        ] {
            let argv = argv(words);
            let fast = parse_worker_form(&argv[1..]).expect("the worker's form");
            let clap = by_clap(&argv).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "{words:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_clap() {
        for words in [
            &["--control-fd=0", "--", "true"][..],
            &["--control-fd", "0"],
            &["--control-fd", "0", "--"],
            &["--control-fd", "x", "--", "true"],
            &["--control-fd", "0", "--control-fd", "1", "--", "true"],
            &[
                "--control-fd",
                "0",
                "--redact-shapes",
                "--redact-shapes",
                "--",
                "true",
            ],
            &["--lease-ms", "5", "--", "true"],
            &["--control-fd", "0", "--help", "--", "true"],
            &["--control-fd", "0", "--lease-ms", "-1", "--", "true"],
            &["--control-fd", "0", "--job-id"],
        ] {
            let argv = argv(words);
            assert!(parse_worker_form(&argv[1..]).is_none(), "{words:?}");
        }
    }

    #[test]
    fn a_fence_terminates_a_grace_before_the_lease_expires_then_kills() {
        let start = Instant::now();
        let s = Duration::from_secs;
        let mut fence = Fence::new(start, s(30), s(60));
        // The grace is at most a third of the lease.
        assert_eq!(fence.next_step(), Some(start + s(20)));
        assert_eq!(fence.step(start + s(19)), None);
        // A renewal moves both moments on.
        fence.renew(start + s(10), s(30));
        assert_eq!(fence.step(start + s(25)), None);
        assert_eq!(
            fence.step(start + s(30)),
            Some(FenceStep::Terminate { silent: s(20) })
        );
        // Once fencing, renewals no longer count and nothing repeats.
        fence.renew(start + s(31), s(30));
        assert_eq!(fence.next_step(), Some(start + s(40)));
        assert_eq!(fence.step(start + s(39)), None);
        assert_eq!(fence.step(start + s(40)), Some(FenceStep::Kill));
        assert_eq!(fence.next_step(), None);
        assert_eq!(fence.step(start + s(100)), None);
    }
}
