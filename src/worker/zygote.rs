//! The fork server (`jobctl __zygote`) that starts job supervisors without
//! an exec of the `jobctl` binary each.
//!
//! An exec of this big binary costs about 2.7 ms of CPU (page faults,
//! relocations, the loader) for each job; a fork of a small single-threaded
//! process that already runs it costs a fraction of that. So the worker
//! starts one zygote, on its first job, and asks it for every supervisor:
//!
//! - the request goes over a stream socket, the zygote's stdin, whose other
//!   end only the worker holds: a frame with the supervisor's `argv` (its
//!   `argv[0]`, what `ps` shows, then the `__run-job` options) and its whole
//!   environment, and four descriptors by `SCM_RIGHTS`: the supervisor's end
//!   of the control socket, the log as stdout and stderr, and the write end
//!   of a status pipe;
//! - the zygote forks; the child unblocks its signals (the zygote blocks
//!   `SIGCHLD` for its signalfd; `SIGCHLD` is back to its default), takes the
//!   control socket as fd 0 and the log as fds 1 and 2, closes everything
//!   else (the zygote's socket, other jobs' status pipes), enters a process
//!   group of its own, takes the environment it was sent, writes its `argv`
//!   over the zygote's (which is padded for that, so `ps` shows
//!   `jobctl job 1234abcd …` as for an exec'd supervisor) and runs
//!   [`super::shim::run`] — the same code as `jobctl __run-job`;
//! - on the status pipe the zygote writes `pid N` (or `error ERRNO` when the
//!   fork failed) and, once it has reaped that child, `status RAW` (the wait
//!   status); that is what the worker reads when a supervisor vanishes.
//!   `kill PID` frames ask the zygote to SIGKILL a child it has not reaped
//!   yet (the worker is not the parent, so only the zygote knows the pid is
//!   still that supervisor's).
//!
//! The zygote ends when it reads EOF on its socket: the worker has gone,
//! however it went (a `SIGKILL`ed worker included; no `PDEATHSIG`, which
//! fires when the *thread* that spawned it ends). Supervisors it forked
//! live on as before: each watches its own control socket. When the zygote
//! has died, the worker starts another; when it cannot, or the request is
//! one the zygote cannot carry (a NUL byte in an argument or a variable),
//! it execs `jobctl __run-job` directly as before (`JOBCTL_ZYGOTE=off` in
//! the worker's environment forces that). A zygote that does not take a
//! request or answer it within the start timeout is killed at once: the
//! descriptors queued on its socket include the job's log, which would
//! otherwise stay open and the job, handed back, could not start again.
//!
//! Differences from an exec'd supervisor that nothing relies on:
//! `/proc/PID/environ` of a forked supervisor shows the zygote's
//! environment (the job's is set in the process, and the job gets it);
//! `/proc/PID/cmdline` is cut to the zygote's padded `argv` (4 KiB); a
//! `kill` for a supervisor whose zygote has since been replaced reaches
//! nothing (its control socket still stops the job).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How many empty arguments pad the zygote's `argv`: room for the `argv` a
/// forked supervisor writes there.
const ARGV_PAD: usize = 4096;

/// The most a request may hold (the kernel's own limit on `argv` plus
/// environment is lower).
const MAX_REQUEST: usize = 64 << 20;

/// How long a kill request may wait for the zygote.
const KILL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The zygote's own arguments after `argv[0]`.
pub fn zygote_args() -> impl Iterator<Item = &'static str> {
    std::iter::once("__zygote").chain(std::iter::repeat_n("", ARGV_PAD))
}

/// The zygote process: serves requests on fd 0 until EOF.
pub fn serve() -> ExitCode {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"jobctl-zygote".as_ptr(), 0, 0, 0) };
    let area = ArgvArea::of_self();
    // Work every supervisor would repeat, done once here and inherited by
    // each fork: the CPU feature detection (cpuid, slow in a VM) behind
    // the SIMD searches, and the token-shape redactor of jobs without
    // secrets.
    #[cfg(target_arch = "x86_64")]
    let _ = std::arch::is_x86_feature_detected!("avx2");
    let _ = super::redact::Redactor::new([], true);
    let child_ends = match super::shim::ChildEnds::watch() {
        Ok(ends) => ends,
        Err(e) => {
            eprintln!("jobctl __zygote: signalfd: {e}");
            return ExitCode::from(crate::exit::ERROR);
        }
    };
    // Children not reaped yet, with their status pipes.
    let mut children: HashMap<i32, std::fs::File> = HashMap::new();
    loop {
        let mut polls = [
            libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: child_ends.fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `polls` is a valid array of two pollfd.
        if unsafe { libc::poll(polls.as_mut_ptr(), 2, -1) } < 0 {
            continue; // EINTR
        }
        if polls[1].revents != 0 {
            child_ends.clear();
            reap(&mut children);
        }
        if polls[0].revents != 0 {
            match read_request(0) {
                Ok(Some(Request::Spawn { argv, env, fds })) => {
                    spawn(argv, env, fds, &area, &mut children)
                }
                Ok(Some(Request::Kill(pid))) => {
                    if children.contains_key(&pid) {
                        // SAFETY: kill has no memory-safety preconditions;
                        // the pid is our unreaped child.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
                // EOF: the worker is gone.
                Ok(None) => return ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("jobctl __zygote: bad request: {e}");
                    return ExitCode::from(crate::exit::ERROR);
                }
            }
        }
    }
}

enum Request {
    Spawn {
        argv: Vec<OsString>,
        env: Vec<(OsString, OsString)>,
        fds: Vec<OwnedFd>,
    },
    Kill(i32),
}

/// Reaps every child that has ended and reports its status.
fn reap(children: &mut HashMap<i32, std::fs::File>) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if let Some(mut pipe) = children.remove(&pid) {
            let _ = pipe.write_all(format!("status {status}\n").as_bytes());
        }
    }
}

fn spawn(
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    fds: Vec<OwnedFd>,
    area: &ArgvArea,
    children: &mut HashMap<i32, std::fs::File>,
) {
    let Ok::<[OwnedFd; 4], _>([control, out, err, status]) = fds.try_into() else {
        return; // not what the worker sends: nothing to answer on
    };
    let mut status = std::fs::File::from(status);
    // SAFETY: this process has a single thread, so the child may run any code.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        become_supervisor(argv, env, [control, out, err], area);
    }
    if pid < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let _ = status.write_all(format!("error {errno}\n").as_bytes());
        forget_secrets(argv, env);
        return;
    }
    let _ = status.write_all(format!("pid {pid}\n").as_bytes());
    children.insert(pid, status);
    forget_secrets(argv, env);
}

/// Zeroes this copy of a request's strings (the job's secrets are among
/// the environment): the child has its own, and every later fork would
/// otherwise copy what is left of them in the freed heap.
fn forget_secrets(argv: Vec<OsString>, env: Vec<(OsString, OsString)>) {
    use zeroize::Zeroize;
    let strings = argv
        .into_iter()
        .chain(env.into_iter().flat_map(|(k, v)| [k, v]));
    for s in strings {
        s.into_vec().zeroize();
    }
}

/// The forked child: set up as the module docs say, then run the supervisor.
fn become_supervisor(
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    [control, out, err]: [OwnedFd; 3],
    area: &ArgvArea,
) -> ! {
    let fds = [control.into_raw_fd(), out.into_raw_fd(), err.into_raw_fd()];
    // SAFETY: signal-mask, dup2, close_range and setpgid calls on values we
    // own; this process has one thread.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        for (target, fd) in fds.into_iter().enumerate() {
            libc::dup2(fd, target as RawFd);
        }
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            // Kernels before 5.9: every descriptor up to the limit (a
            // zygote with many jobs running holds more than 1024).
            let mut limit: libc::rlimit = std::mem::zeroed();
            let top = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur.min(1 << 20) as RawFd
            } else {
                1 << 16
            };
            for fd in 3..top {
                libc::close(fd);
            }
        }
        libc::setpgid(0, 0);
    }
    area.write(&argv);
    replace_environment(env);
    // A panic must not unwind into the zygote's frames below us (their
    // destructors would close descriptors that are no longer theirs).
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::shim::run_from_argv(argv)
    }));
    let code = match run {
        Ok(code) if code == ExitCode::SUCCESS => 0,
        _ => crate::exit::ERROR.into(),
    };
    // Not `exit`: the exit handlers are the zygote's (ld.so's destructors,
    // the unwinder's frame tables, a crypto library's random generator),
    // and running them, page faults and all, was 8 % of a supervisor's
    // CPU (`perf`). The supervisor buffers nothing: its lines went out
    // with direct writes, and a panic was printed.
    // SAFETY: _exit ends the process at once.
    unsafe { libc::_exit(code) }
}

/// Makes `env` this process's whole environment, in one array: a
/// `setenv` per variable copies and searches the table each time (5 % of
/// the zygote's CPU, child included, with a few dozen variables, `perf`).
fn replace_environment(env: Vec<(OsString, OsString)>) {
    let entries: Vec<std::ffi::CString> = env
        .into_iter()
        .filter_map(|(key, value)| {
            let mut entry = key.into_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            // The worker sends no NUL bytes (it execs the supervisor itself then).
            std::ffi::CString::new(entry).ok()
        })
        .collect();
    let mut table: Vec<*mut libc::c_char> = entries
        .iter()
        .map(|e| e.as_ptr().cast_mut())
        .chain(std::iter::once(std::ptr::null_mut()))
        .collect();
    // SAFETY: this process has one thread and reads the environment only
    // through libc, which takes `environ` as it finds it (a later setenv
    // copies the table first). The table and its strings live as long as
    // the process: they are leaked below.
    unsafe { libc::environ = table.as_mut_ptr() };
    std::mem::forget(table);
    std::mem::forget(entries);
}

/// Where the kernel finds this process's `argv` (`/proc/PID/cmdline`).
struct ArgvArea {
    start: usize,
    end: usize,
}

impl ArgvArea {
    fn of_self() -> Self {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after `(comm)` start at field 3; arg_start and arg_end are 48 and 49.
        let fields: Vec<usize> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(45)
            .take(2)
            .filter_map(|f| f.parse().ok())
            .collect();
        match fields[..] {
            [start, end] if end > start => ArgvArea { start, end },
            _ => ArgvArea { start: 0, end: 0 },
        }
    }

    /// Writes `argv` there, NUL-separated, cut to fit, the rest zeroed.
    fn write(&self, argv: &[OsString]) {
        let len = self.end - self.start;
        if len == 0 {
            return;
        }
        let mut bytes = vec![0u8; len];
        let mut at = 0;
        for arg in argv {
            let arg = arg.as_bytes();
            let n = arg.len().min(len - 1 - at);
            bytes[at..at + n].copy_from_slice(&arg[..n]);
            at += n;
            if at + 1 >= len {
                break;
            }
            at += 1; // the NUL
        }
        // SAFETY: [start, end) is this process's own argv strings, on its
        // stack, read by nothing in this process any more.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.start as *mut u8, len) };
    }
}

// ---- the wire format -------------------------------------------------------
//
// A frame: u32 length (little endian) of the body, then the body: b'S',
// u32 argc, u32 envc, then argc strings and envc name/value pairs, each
// string a u32 length and its bytes; or b'K' and an i32 pid. The
// descriptors of a spawn ride on the frame's first bytes.

fn put_str(body: &mut Vec<u8>, s: &OsStr) {
    body.extend_from_slice(&(s.len() as u32).to_le_bytes());
    body.extend_from_slice(s.as_bytes());
}

fn spawn_frame(argv: &[OsString], env: &[(OsString, OsString)]) -> Vec<u8> {
    let mut body = vec![0, 0, 0, 0, b'S'];
    body.extend_from_slice(&(argv.len() as u32).to_le_bytes());
    body.extend_from_slice(&(env.len() as u32).to_le_bytes());
    for arg in argv {
        put_str(&mut body, arg);
    }
    for (key, value) in env {
        put_str(&mut body, key);
        put_str(&mut body, value);
    }
    let len = (body.len() - 4) as u32;
    body[..4].copy_from_slice(&len.to_le_bytes());
    body
}

fn kill_frame(pid: i32) -> Vec<u8> {
    let mut frame = 5u32.to_le_bytes().to_vec();
    frame.push(b'K');
    frame.extend_from_slice(&pid.to_le_bytes());
    frame
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn u32(&mut self) -> std::io::Result<u32> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        if self.0.len() < n {
            return Err(std::io::Error::other("truncated request"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn string(&mut self) -> std::io::Result<OsString> {
        let n = self.u32()? as usize;
        Ok(OsString::from_vec(self.take(n)?.to_vec()))
    }
}

/// Reads one frame from `fd`; `None` at EOF before it.
fn read_request(fd: RawFd) -> std::io::Result<Option<Request>> {
    let mut header = [0u8; 4];
    let mut fds = Vec::new();
    let n = recv_with_fds(fd, &mut header, &mut fds)?;
    if n == 0 {
        return Ok(None);
    }
    // SAFETY: fd 0 stays open; ManuallyDrop keeps this handle from closing it.
    let mut socket = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    socket.read_exact(&mut header[n..])?;
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_REQUEST {
        return Err(std::io::Error::other("request too large"));
    }
    // It holds the job's secrets: zeroed when dropped (every later fork
    // copies this heap), on the error paths too.
    let mut body = zeroize::Zeroizing::new(vec![0u8; len]);
    socket.read_exact(&mut body)?;
    let mut cursor = Cursor(&body);
    match cursor.take(1)? {
        b"S" => {
            let argc = cursor.u32()?;
            let envc = cursor.u32()?;
            let argv = (0..argc)
                .map(|_| cursor.string())
                .collect::<std::io::Result<_>>()?;
            let env = (0..envc)
                .map(|_| Ok((cursor.string()?, cursor.string()?)))
                .collect::<std::io::Result<_>>()?;
            Ok(Some(Request::Spawn { argv, env, fds }))
        }
        b"K" => Ok(Some(Request::Kill(cursor.u32()? as i32))),
        _ => Err(std::io::Error::other("unknown request")),
    }
}

/// `recvmsg`, keeping the descriptors that came along (close-on-exec).
fn recv_with_fds(fd: RawFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> std::io::Result<usize> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    // Room for more than the four a request carries: a request with more
    // is refused by `spawn`, not cut here.
    let mut space = nix::cmsg_space!([RawFd; 16]);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = loop {
        match recvmsg::<()>(fd, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other?,
        }
    };
    let cmsgs = msg
        .cmsgs()
        .map_err(|_| std::io::Error::other("descriptors truncated"))?;
    for cmsg in cmsgs {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            // SAFETY: the kernel just installed these descriptors for us.
            fds.extend(
                received
                    .into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    Ok(msg.bytes)
}

/// `sendmsg` of `buf` with `fds` attached; returns the bytes sent.
fn send_with_fds(fd: RawFd, buf: &[u8], fds: &[RawFd]) -> std::io::Result<usize> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let iov = [std::io::IoSlice::new(buf)];
    let rights = [ControlMessage::ScmRights(fds)];
    Ok(sendmsg::<()>(
        fd,
        &iov,
        &rights,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?)
}

// ---- the worker's side -----------------------------------------------------

/// The worker's handle on its zygote, started on first use and again after
/// it died.
pub struct Zygote {
    program: PathBuf,
    enabled: bool,
    running: tokio::sync::Mutex<Option<Running>>,
    /// How many zygotes this worker has started: each one's number tells
    /// it from its successors (a pid alone could be reused).
    started: std::sync::atomic::AtomicU64,
}

struct Running {
    process: tokio::process::Child,
    socket: tokio::net::UnixStream,
    /// No frame was left half sent (by a send that failed, timed out or
    /// was cancelled): the zygote reads the stream as the worker wrote it.
    in_sync: bool,
    /// Which of this worker's zygotes it is.
    generation: u64,
}

/// What became of a request for a supervisor.
pub enum Fork {
    Forked(Forked),
    /// No zygote could take it: start the supervisor some other way.
    Unavailable,
    /// The zygote failed to start this supervisor (a worker fault).
    Failed(String),
}

/// A supervisor the zygote forked.
pub struct Forked {
    pub pid: i32,
    /// The zygote that forked it, which alone may signal it.
    generation: u64,
    status: tokio::io::Lines<BufReader<tokio::net::unix::pipe::Receiver>>,
    exited: Option<ExitStatus>,
}

impl Zygote {
    pub fn new(program: PathBuf) -> Self {
        let enabled = std::env::var_os("JOBCTL_ZYGOTE").is_none_or(|v| v != "off");
        Zygote {
            program,
            enabled,
            running: tokio::sync::Mutex::new(None),
            started: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn start(&self) -> std::io::Result<Running> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .arg0("jobctl zygote")
            .args(zygote_args())
            .stdin(std::process::Stdio::from(OwnedFd::from(theirs)))
            .stdout(std::process::Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        super::remove_worker_settings(&mut command);
        let process = command.spawn()?;
        ours.set_nonblocking(true)?;
        let socket = tokio::net::UnixStream::from_std(ours)?;
        Ok(Running {
            process,
            socket,
            in_sync: true,
            generation: self
                .started
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Asks the zygote for a supervisor with this `argv` (`argv[0]` first),
    /// environment and stdin/stdout/stderr; gives up `within` this long.
    pub async fn fork(
        &self,
        argv: &[OsString],
        env: &[(OsString, OsString)],
        stdio: [&OwnedFd; 3],
        within: std::time::Duration,
    ) -> Fork {
        let carries = |s: &OsStr| !s.as_bytes().contains(&0);
        if !self.enabled
            || !argv.iter().all(|a| carries(a))
            || !env.iter().all(|(k, v)| {
                carries(k) && carries(v) && !k.is_empty() && !k.as_bytes().contains(&b'=')
            })
        {
            return Fork::Unavailable;
        }
        let (status_read, status_write) = match std::io::pipe() {
            Ok(pipe) => pipe,
            Err(e) => return Fork::Failed(format!("cannot create a status pipe: {e}")),
        };
        let frame = zeroize::Zeroizing::new(spawn_frame(argv, env));
        // A request the zygote would refuse (and die of) goes the direct
        // way, where a command too long is the job's fault (E2BIG).
        if frame.len().saturating_sub(4) > MAX_REQUEST {
            return Fork::Unavailable;
        }
        let fds = [
            stdio[0].as_raw_fd(),
            stdio[1].as_raw_fd(),
            stdio[2].as_raw_fd(),
            status_write.as_raw_fd(),
        ];
        // Which zygote took the request (its pid), once one has.
        let mut taken_by = None;
        {
            let mut running = self.running.lock().await;
            // A dead zygote is replaced once; then the caller falls back.
            for _ in 0..2 {
                if let Some(r) = running.as_mut()
                    && (!r.in_sync || !matches!(r.process.try_wait(), Ok(None)))
                {
                    let _ = r.process.start_kill();
                    *running = None;
                }
                if running.is_none() {
                    match self.start() {
                        Ok(r) => *running = Some(r),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot start the zygote: spawning supervisors directly");
                            return Fork::Unavailable;
                        }
                    }
                }
                let r = running.as_mut().expect("started above");
                r.in_sync = false;
                match tokio::time::timeout(within, send_frame(&mut r.socket, &frame, &fds)).await {
                    Ok(Ok(())) => {
                        r.in_sync = true;
                        taken_by = Some(r.generation);
                        break;
                    }
                    // It died: the next start of one takes over.
                    Ok(Err(_)) => {
                        let _ = r.process.start_kill();
                        *running = None;
                    }
                    // Hung (stopped?): retired now, so that the descriptors
                    // queued on its socket (this job's log) are closed.
                    Err(_) => {
                        let _ = r.process.start_kill();
                        *running = None;
                        return Fork::Failed("the zygote did not take the request in time".into());
                    }
                }
            }
        }
        let Some(generation) = taken_by else {
            return Fork::Unavailable;
        };
        drop(status_write);
        let status =
            match tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(status_read)) {
                Ok(r) => r,
                Err(e) => return Fork::Failed(format!("status pipe: {e}")),
            };
        let mut status = BufReader::new(status).lines();
        let Ok(first) = tokio::time::timeout(within, status.next_line()).await else {
            // Hung (stopped?): retired now (a zygote that holds this job's
            // log would keep it in use); the next request starts another.
            let mut running = self.running.lock().await;
            if let Some(r) = running.as_mut()
                && r.generation == generation
            {
                let _ = r.process.start_kill();
                *running = None;
            }
            return Fork::Failed("the zygote did not start the job supervisor in time".into());
        };
        match first {
            Ok(Some(line)) => {
                if let Some(pid) = line.strip_prefix("pid ").and_then(|p| p.parse().ok()) {
                    return Fork::Forked(Forked {
                        pid,
                        generation,
                        status,
                        exited: None,
                    });
                }
                match line.strip_prefix("error ").and_then(|e| e.parse().ok()) {
                    Some(errno) => Fork::Failed(format!(
                        "cannot fork the job supervisor: {}",
                        super::shim::os_error_text(&std::io::Error::from_raw_os_error(errno))
                    )),
                    None => Fork::Failed(format!(
                        "the zygote answered {:?} instead of the supervisor's pid",
                        line.chars().take(80).collect::<String>()
                    )),
                }
            }
            // It died with our request: whether it forked is unknown, so
            // this start fails (any such child sees its control socket close
            // and stops the job).
            _ => Fork::Failed("the zygote ended while starting the job supervisor".into()),
        }
    }

    /// SIGKILLs a supervisor it forked, unless it has been reaped already.
    /// Only the zygote that forked it is asked: a successor's child may
    /// have been given the same pid. A zygote that does not take the
    /// request in time is retired (a hung one must not hold up the starts
    /// that wait for this lock).
    pub async fn kill(&self, forked: &Forked) {
        let Ok(mut running) = tokio::time::timeout(KILL_WAIT, self.running.lock()).await else {
            return;
        };
        if let Some(r) = running.as_mut()
            && r.in_sync
            && r.generation == forked.generation
        {
            r.in_sync = false;
            let sent =
                tokio::time::timeout(KILL_WAIT, r.socket.write_all(&kill_frame(forked.pid))).await;
            if let Ok(Ok(())) = sent {
                r.in_sync = true;
            } else {
                let _ = r.process.start_kill();
                *running = None;
            }
        }
    }
}

/// Sends a frame, the descriptors with its first bytes.
async fn send_frame(
    socket: &mut tokio::net::UnixStream,
    frame: &[u8],
    fds: &[RawFd],
) -> std::io::Result<()> {
    let sent = loop {
        socket.writable().await?;
        match socket.try_io(tokio::io::Interest::WRITABLE, || {
            send_with_fds(socket.as_raw_fd(), frame, fds)
        }) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    };
    socket.write_all(&frame[sent..]).await
}

impl Forked {
    /// Waits until the zygote has reaped the supervisor.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        while let Some(line) = self.status.next_line().await? {
            if let Some(raw) = line.strip_prefix("status ").and_then(|s| s.parse().ok()) {
                let status = ExitStatus::from_raw(raw);
                self.exited = Some(status);
                return Ok(status);
            }
        }
        Err(std::io::Error::other(
            "the zygote that forked it ended before it",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let argv: Vec<OsString> = ["jobctl job 1", "--control-fd", "0", "--", "a\u{e9}b", ""]
            .iter()
            .map(OsString::from)
            .collect();
        let env = vec![(OsString::from("A"), OsString::from("x=y"))];
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let frame = spawn_frame(&argv, &env);
        let (r, w) = std::io::pipe().unwrap();
        let sent = send_with_fds(a.as_raw_fd(), &frame, &[w.as_raw_fd(); 4]).unwrap();
        (&a).write_all(&frame[sent..]).unwrap();
        (&a).write_all(&kill_frame(42)).unwrap();
        match read_request(b.as_raw_fd()).unwrap() {
            Some(Request::Spawn {
                argv: got,
                env: got_env,
                fds,
            }) => {
                assert_eq!(got, argv);
                assert_eq!(got_env, env);
                assert_eq!(fds.len(), 4);
            }
            _ => panic!("not a spawn"),
        }
        assert!(matches!(
            read_request(b.as_raw_fd()).unwrap(),
            Some(Request::Kill(42))
        ));
        drop(a);
        assert!(read_request(b.as_raw_fd()).unwrap().is_none());
        drop(r);
    }
}
