//! Starting the job from its supervisor without copying the supervisor.
//!
//! `std::process::Command` with a `pre_exec` hook (which the supervisor
//! needs for `PR_SET_PDEATHSIG` and the checks around it) cannot use
//! `posix_spawn` and falls back to `fork`: the kernel copies the
//! supervisor's page tables, the child faults on them until it execs, and
//! both sides tear the copy down again — a sixth of a supervisor's CPU
//! (`perf`, BENCHMARKS.md). Here the job starts the way glibc's
//! `posix_spawn` starts a program: `clone(CLONE_VM | CLONE_VFORK)`, the
//! child running on a small stack of its own in the supervisor's memory
//! while the supervisor waits, until the child has exec'd or given up.
//!
//! Sharing the memory is what makes the child cheap and what makes it
//! delicate: it may not allocate, take a lock or touch anything the
//! supervisor's own code holds. So everything it needs (paths to try,
//! `argv`, `envp`, descriptors, credentials) is built beforehand in a
//! [`JobCommand`], and the child makes plain system calls only. Its errno,
//! when a step fails, comes back through the shared memory.
//!
//! The job starts as the leader of a new process group, with stdin on
//! `/dev/null`, stdout and stderr on the supervisor's (the log) or on the
//! redaction pipe, an empty signal mask and default dispositions,
//! `PR_SET_PDEATHSIG` = `SIGKILL` (set after any change of credentials,
//! which clears it), and only if the supervisor is still its parent then.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, Ordering};

/// The child's own stack. It makes a few system calls through libc and
/// nothing else; glibc's `posix_spawn` gives its child 32 KiB. Only the
/// pages it touches cost anything: it is not zeroed.
const CHILD_STACK: usize = 32 << 10;

/// The shell that runs a script without `#!`, as execvp's `_PATH_BSHELL`.
const SHELL: &std::ffi::CStr = c"/bin/sh";

/// What the child reports when the supervisor was gone before
/// `PR_SET_PDEATHSIG` took effect (no errno: nobody is left to read it).
const SUPERVISOR_GONE: i32 = -1;

/// The account a job runs as.
pub struct Credentials {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
}

/// Everything the job's start needs, built before the clone.
pub struct JobCommand {
    /// The program's name as given, for error messages.
    program: OsString,
    /// Where to exec it, tried in order (a `PATH` search).
    paths: Vec<CString>,
    /// Keeps the strings `argv` points into alive.
    _args: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    /// The job's environment when it differs from the supervisor's.
    env: Option<(Vec<CString>, Vec<*const libc::c_char>)>,
    stdin: OwnedFd,
    /// The redaction pipe's write end, the job's stdout and stderr.
    output: Option<OwnedFd>,
    credentials: Option<Credentials>,
}

impl JobCommand {
    /// A command for `program` with `args`, searched in `PATH` as `execvp`
    /// would unless it holds a slash. Fails on a NUL byte in an argument
    /// (the worker sends none) or when `/dev/null` cannot be opened.
    pub fn new(program: &OsStr, args: &[OsString]) -> std::io::Result<Self> {
        let nul = |_| std::io::Error::from_raw_os_error(libc::EINVAL);
        let name = CString::new(program.as_bytes()).map_err(nul)?;
        let paths = if program.as_bytes().contains(&b'/') {
            vec![name.clone()]
        } else {
            search_path(program, std::env::var_os("PATH").as_deref())
        };
        let mut strings = vec![name];
        for arg in args {
            strings.push(CString::new(arg.as_bytes()).map_err(nul)?);
        }
        let argv = null_terminated(&strings);
        let stdin = std::fs::File::open("/dev/null")?.into();
        Ok(JobCommand {
            program: program.to_os_string(),
            paths,
            _args: strings,
            argv,
            env: None,
            stdin,
            output: None,
            credentials: None,
        })
    }

    /// Gives the job the supervisor's environment with these variables
    /// set to these values.
    pub fn env_overrides(&mut self, overrides: &[(&str, &OsStr)]) {
        let mut strings = Vec::new();
        for (key, value) in std::env::vars_os() {
            if overrides
                .iter()
                .any(|(k, _)| OsStr::new(k) == key.as_os_str())
            {
                continue;
            }
            strings.extend(env_entry(&key, &value));
        }
        for (key, value) in overrides {
            strings.extend(env_entry(OsStr::new(key), value));
        }
        let pointers = null_terminated(&strings);
        self.env = Some((strings, pointers));
    }

    /// Sends the job's stdout and stderr to `writer` instead of ours.
    pub fn output(&mut self, writer: OwnedFd) {
        self.output = Some(writer);
    }

    /// Runs the job as this account.
    pub fn credentials(&mut self, credentials: Credentials) {
        self.credentials = Some(credentials);
    }

    /// Starts the job; returns its pid, or the message of why it could not
    /// start (`No such file or directory (program "x")`).
    pub fn spawn(self) -> Result<libc::pid_t, String> {
        let failed = |errno: i32| {
            let text = super::shim::os_error_text(&std::io::Error::from_raw_os_error(errno));
            format!("{text} (program {:?})", self.program)
        };
        let environ = match &self.env {
            Some((_, pointers)) => pointers.as_ptr(),
            // SAFETY: reads the pointer only; the supervisor changes no
            // variable from here until the child has exec'd.
            None => unsafe { environ_pointer() },
        };
        let paths: Vec<*const libc::c_char> = self.paths.iter().map(|p| p.as_ptr()).collect();
        // For a file without `#!` that the kernel will not run (ENOEXEC):
        // `/bin/sh FILE ARGS…`, as execvp does; the child fills in FILE.
        let mut script_argv = Vec::with_capacity(self.argv.len() + 1);
        script_argv.push(SHELL.as_ptr());
        script_argv.push(std::ptr::null());
        script_argv.extend_from_slice(&self.argv[1..]);
        let groups = self.credentials.as_ref().map(|c| &c.groups[..]);
        let child = Child {
            paths: &paths,
            argv: self.argv.as_ptr(),
            script_argv: script_argv.as_mut_ptr(),
            envp: environ,
            stdin: self.stdin.as_raw_fd(),
            output: self.output.as_ref().map(|fd| fd.as_raw_fd()),
            credentials: self
                .credentials
                .as_ref()
                .map(|c| (c.uid, c.gid, groups.unwrap_or(&[]))),
            parent: std::process::id() as libc::pid_t,
            errno: AtomicI32::new(0),
        };
        let mut stack = Vec::<u8>::with_capacity(CHILD_STACK);
        // The stack grows down from its 16-byte aligned top.
        let top = {
            let end = stack.as_mut_ptr().wrapping_add(CHILD_STACK) as usize;
            (end & !15) as *mut libc::c_void
        };
        let all = full_signal_set();
        let mut previous = empty_signal_set();
        // SAFETY: the child runs `start_job` on `stack`, which outlives it
        // (CLONE_VFORK: clone returns once the child has exec'd or exited),
        // and reads `child`, alive as long. Every signal is blocked across
        // the clone so that no handler of ours runs in the child (it shares
        // our memory) before it has reset its dispositions; the mask is
        // restored at once.
        let pid = unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut previous);
            let pid = libc::clone(
                start_job,
                top,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&child as *const Child).cast_mut().cast(),
            );
            let errno = std::io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &previous, std::ptr::null_mut());
            if pid < 0 {
                return Err(failed(errno.raw_os_error().unwrap_or(libc::EAGAIN)));
            }
            pid
        };
        match child.errno.load(Ordering::SeqCst) {
            0 => Ok(pid),
            errno => {
                // The child has exited (CLONE_VFORK): reap it here, not as
                // one of the job's.
                let mut status = 0;
                // SAFETY: waitpid writes the status into a local.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                if errno == SUPERVISOR_GONE {
                    Err("job supervisor exited during start".into())
                } else {
                    Err(failed(errno))
                }
            }
        }
    }
}

/// What the child reads, in the supervisor's memory.
struct Child<'a> {
    paths: &'a [*const libc::c_char],
    argv: *const *const libc::c_char,
    /// `/bin/sh`, a slot for the script's path, then the arguments.
    script_argv: *mut *const libc::c_char,
    envp: *const *const libc::c_char,
    stdin: libc::c_int,
    output: Option<libc::c_int>,
    credentials: Option<(libc::uid_t, libc::gid_t, &'a [libc::gid_t])>,
    parent: libc::pid_t,
    /// Set by the child when it gives up: the errno of the step that failed.
    errno: AtomicI32,
}

/// The cloned child: sets the job up and execs it, or records why not and
/// exits. Plain system calls only (see the module docs).
extern "C" fn start_job(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Child` the supervisor keeps alive until we exec
    // or exit.
    let child = unsafe { &*(arg as *const Child) };
    let give_up = |errno: i32| -> ! {
        // Never 0, which means "started"; SUPERVISOR_GONE stays as it is.
        let errno = if errno == SUPERVISOR_GONE {
            errno
        } else {
            errno.max(1)
        };
        child.errno.store(errno, Ordering::SeqCst);
        // SAFETY: _exit ends this process without running anything of the
        // supervisor's (atexit handlers, buffers) in its memory.
        unsafe { libc::_exit(127) }
    };
    let errno = || {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO)
    };
    // SAFETY: every call below is a system call on plain values or on
    // memory the supervisor prepared and keeps unchanged until we are done.
    unsafe {
        // Handlers set by the Rust runtime would run in the supervisor's
        // memory; SIGPIPE, which it ignores, would stay ignored in the job.
        for signal in [libc::SIGPIPE, libc::SIGSEGV, libc::SIGBUS] {
            libc::signal(signal, libc::SIG_DFL);
        }
        if libc::setpgid(0, 0) != 0 {
            give_up(errno());
        }
        if !install(child.stdin, 0) {
            give_up(errno());
        }
        if let Some(output) = child.output
            && !(install(output, 1) && install(output, 2))
        {
            give_up(errno());
        }
        // Raw system calls: glibc's setuid and friends would signal every
        // thread of the supervisor, whose memory and thread list we share,
        // to change its credentials too.
        if let Some((uid, gid, groups)) = child.credentials
            && (libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0
                || libc::syscall(libc::SYS_setgid, gid) != 0
                || libc::syscall(libc::SYS_setuid, uid) != 0)
        {
            give_up(errno());
        }
        // After the credentials: a change of them clears PDEATHSIG.
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            give_up(errno());
        }
        // The supervisor may have been killed before the prctl took effect.
        if libc::getppid() != child.parent {
            give_up(SUPERVISOR_GONE);
        }
        let empty = empty_signal_set();
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // As execvp: go on past a directory that has no such program, and
        // report EACCES if one had it but may not run it.
        let mut denied = false;
        let mut last = libc::ENOENT;
        for &path in child.paths {
            libc::execve(path, child.argv, child.envp);
            last = errno();
            if last == libc::ENOEXEC {
                // A script without `#!`: the shell runs it, as with execvp.
                // The supervisor waits (CLONE_VFORK) and reads nothing of
                // `script_argv` until we are done with it.
                *child.script_argv.add(1) = path;
                libc::execve(SHELL.as_ptr(), child.script_argv, child.envp);
                break;
            }
            if last == libc::EACCES {
                denied = true;
            } else if !is_search_miss(last) {
                break;
            }
        }
        give_up(if denied && is_search_miss(last) {
            libc::EACCES
        } else {
            last
        })
    }
}

/// Whether execvp would look further after this errno.
fn is_search_miss(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT
    )
}

/// Makes `fd` the descriptor `target`, inherited across exec.
///
/// # Safety
/// Async-signal-safe; for the cloned child only.
unsafe fn install(fd: libc::c_int, target: libc::c_int) -> bool {
    if fd == target {
        // dup2 onto itself would leave close-on-exec set.
        // SAFETY: F_SETFD changes only the descriptor's flags.
        return unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == 0;
    }
    // SAFETY: dup2 on two descriptor numbers.
    unsafe { libc::dup2(fd, target) >= 0 }
}

/// The places execvp would try for a program without a slash, in order:
/// each directory of `PATH` (an empty one is the working directory), or
/// glibc's default when it is unset.
fn search_path(program: &OsStr, path: Option<&OsStr>) -> Vec<CString> {
    let path = path.unwrap_or(OsStr::new("/bin:/usr/bin"));
    path.as_bytes()
        .split(|&b| b == b':')
        .filter_map(|dir| {
            let mut full = Vec::with_capacity(dir.len() + 1 + program.len());
            if !dir.is_empty() {
                full.extend_from_slice(dir);
                full.push(b'/');
            }
            full.extend_from_slice(program.as_bytes());
            CString::new(full).ok()
        })
        .collect()
}

fn env_entry(key: &OsStr, value: &OsStr) -> Option<CString> {
    let mut entry = key.as_bytes().to_vec();
    entry.push(b'=');
    entry.extend_from_slice(value.as_bytes());
    CString::new(entry).ok()
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The process's environment as libc keeps it (`environ`).
///
/// # Safety
/// The pointer is valid until the environment is next changed.
unsafe fn environ_pointer() -> *const *const libc::c_char {
    // SAFETY: reads libc's global; see the function's contract.
    unsafe { libc::environ.cast_const().cast() }
}

fn empty_signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set it is given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        set
    }
}

fn full_signal_set() -> libc::sigset_t {
    // SAFETY: sigfillset initialises the zeroed set it is given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_search_tries_each_directory_in_order() {
        let tried = search_path(OsStr::new("tool"), Some(OsStr::new("/a:/b/c::/d")));
        let tried: Vec<&[u8]> = tried.iter().map(|c| c.as_bytes()).collect();
        assert_eq!(tried, [&b"/a/tool"[..], b"/b/c/tool", b"tool", b"/d/tool"]);
        let default = search_path(OsStr::new("sh"), None);
        assert_eq!(default, [c"/bin/sh".to_owned(), c"/usr/bin/sh".to_owned()]);
    }

    fn wait(pid: libc::pid_t) -> i32 {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        status
    }

    /// Runs `command` with its stdout and stderr on a pipe: what it wrote,
    /// and its wait status.
    fn run_for_output(mut command: JobCommand) -> (String, i32) {
        let (reader, writer) = std::io::pipe().unwrap();
        command.output(writer.into());
        let pid = command.spawn().unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut { reader }, &mut out).unwrap();
        (out, wait(pid))
    }

    #[test]
    fn a_started_job_leads_its_own_group_and_runs_to_its_end() {
        let args = [OsString::from("-c"), OsString::from("exit 7")];
        let pid = JobCommand::new(OsStr::new("sh"), &args)
            .unwrap()
            .spawn()
            .unwrap();
        // SAFETY: getpgid on a pid that is our unreaped child.
        let group = unsafe { libc::getpgid(pid) };
        let status = wait(pid);
        assert_eq!(group, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 7);
    }

    #[test]
    fn a_missing_program_is_reported_with_its_name() {
        let error = JobCommand::new(OsStr::new("no-such-program-jobctl"), &[])
            .unwrap()
            .spawn()
            .unwrap_err();
        assert_eq!(
            error,
            "No such file or directory (program \"no-such-program-jobctl\")"
        );
        let error = JobCommand::new(OsStr::new("/no/such/dir/prog"), &[])
            .unwrap()
            .spawn()
            .unwrap_err();
        assert!(error.starts_with("No such file or directory"), "{error}");
    }

    #[test]
    fn a_file_that_may_not_run_is_permission_denied() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("not-executable");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let error = JobCommand::new(script.as_os_str(), &[])
            .unwrap()
            .spawn()
            .unwrap_err();
        assert!(error.starts_with("Permission denied (program "), "{error}");
    }

    #[test]
    fn a_script_without_a_shebang_runs_with_the_shell() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("no-shebang");
        std::fs::write(&script, "printf '%s|%s' \"$0\" \"$1\"\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let command = JobCommand::new(script.as_os_str(), &[OsString::from("an arg")]).unwrap();
        let (out, status) = run_for_output(command);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert_eq!(out, format!("{}|an arg", script.display()));
    }

    #[test]
    fn the_job_gets_the_environment_and_output_it_was_given() {
        let args = [
            OsString::from("-c"),
            OsString::from(
                "printf '%s' \"$JOBCTL_SPAWN_TEST\"; printf x >&2; read -r l || printf eof",
            ),
        ];
        let mut command = JobCommand::new(OsStr::new("sh"), &args).unwrap();
        command.env_overrides(&[("JOBCTL_SPAWN_TEST", OsStr::new("v a l"))]);
        let (out, _) = run_for_output(command);
        assert_eq!(out, "v a lxeof");
    }
}
