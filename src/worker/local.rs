//! The local executor: each job runs on this machine under its own
//! supervisor process ([`super::shim`], `jobctl __run-job`), which the
//! worker drives over a control socket.
//!
//! The supervisor's stdout and stderr are the job's log file, inherited
//! straight through to the job. The socket carries only control lines (see
//! the supervisor's module docs): the worker asks for SIGTERM or SIGKILL of
//! the job's process group and passes on each lease renewal; it hears when
//! the job started, when the supervisor fenced it, and how it ended.
//!
//! The supervisor is forked by the worker's zygote ([`super::zygote`]),
//! which costs far less CPU than an exec of `jobctl` per job; when no
//! zygote can take the request, the worker spawns `jobctl __run-job`
//! itself. Both give the supervisor the same arguments, environment and
//! descriptors, and either way the worker learns how it ended (from the
//! zygote's status pipe, or from its own `wait`). With `--run-as-owner` the
//! supervisor runs as root either way (the zygote is the worker's child) and
//! drops to the owner's account only for the job.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::executor::{ExecEvent, Execution, Executor, Launch, StartError};
use super::fs::{self, FsError};
use super::logfile::LogFile;
use super::redact::RedactMode;
use super::shim::{ShimEvent, os_error_text};
use super::zygote::{Fork, Forked, Zygote};

/// Runs jobs as supervised process groups on this machine.
pub struct LocalExecutor {
    /// The `jobctl` binary, run as each job's supervisor (`__run-job`).
    pub shim_program: PathBuf,
    /// How long a filesystem call (the cwd check) may take.
    pub fs_timeout: Duration,
    /// What the supervisor redacts from the job's output.
    pub redact: RedactMode,
    /// Run each job as the local account named like its owner (the worker
    /// runs as root).
    pub run_as_owner: bool,
    /// Forks the supervisors (falls back to spawning them directly).
    pub zygote: Arc<Zygote>,
}

#[async_trait]
impl Executor for LocalExecutor {
    async fn start(
        &self,
        launch: &Launch,
        log: &LogFile,
    ) -> Result<Box<dyn Execution>, StartError> {
        if let Some(cwd) = &launch.cwd {
            check_cwd(cwd, self.fs_timeout).await?;
        }
        if self.run_as_owner {
            let owner = &launch.job.owner;
            let user = match nix::unistd::User::from_name(owner) {
                Ok(Some(user)) => user,
                Ok(None) => {
                    return Err(StartError::Job(format!("no local account {owner:?}")));
                }
                Err(e) => {
                    return Err(StartError::Worker(format!(
                        "cannot look up local account {owner:?}: {e}"
                    )));
                }
            };
            log.give_to(user.uid.as_raw()).await.map_err(|e| {
                StartError::Worker(format!("cannot give the log to {owner:?}: {e}"))
            })?;
        }
        let supervised = Supervised::spawn(self, launch, log).await?;
        Ok(Box::new(supervised))
    }
}

/// A missing or unusable directory is the job's fault; a hung or broken
/// filesystem is this worker's.
async fn check_cwd(cwd: &str, timeout: Duration) -> Result<(), StartError> {
    let path = PathBuf::from(cwd);
    match fs::blocking(timeout, move || std::fs::metadata(path)).await {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(StartError::Job(format!(
            "working directory {cwd}: Not a directory"
        ))),
        Err(e @ FsError::TimedOut(_)) => {
            Err(StartError::Worker(format!("working directory {cwd}: {e}")))
        }
        Err(e) if e.is_storage_fault() => {
            Err(StartError::Worker(format!("working directory {cwd}: {e}")))
        }
        Err(e) => Err(StartError::Job(format!("working directory {cwd}: {e}"))),
    }
}

/// How long the worker waits to hear that a forked supervisor was reaped.
const REAP_WAIT: Duration = Duration::from_secs(10);

/// The supervisor process itself: spawned by the worker, or forked by
/// its zygote ([`super::zygote`]).
enum Process {
    Spawned(tokio::process::Child),
    Forked(Forked, Arc<Zygote>),
}

impl Process {
    async fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        match self {
            Process::Spawned(child) => child.wait().await,
            // A hung (stopped) zygote must not hold up the job's end: the
            // supervisor itself ends right after its last line.
            Process::Forked(forked, _) => tokio::time::timeout(REAP_WAIT, forked.wait())
                .await
                .unwrap_or_else(|_| {
                    Err(std::io::Error::other(
                        "its zygote did not report the job supervisor's end in time",
                    ))
                }),
        }
    }

    async fn kill(&mut self) {
        match self {
            Process::Spawned(child) => {
                let _ = child.start_kill();
            }
            Process::Forked(forked, zygote) => zygote.kill(forked).await,
        }
    }
}

/// The supervisor process of one job and its control socket.
struct Supervised {
    process: Process,
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    commands: tokio::net::unix::OwnedWriteHalf,
    /// The job leader's pid, which is also its process group id.
    pid: u32,
}

impl Supervised {
    /// Starts the supervisor and waits until the job has started (or could
    /// not).
    async fn spawn(
        executor: &LocalExecutor,
        launch: &Launch,
        log: &LogFile,
    ) -> Result<Self, StartError> {
        let worker_fault = |what: &str, e: std::io::Error| {
            StartError::Worker(format!("{what}: {}", os_error_text(&e)))
        };
        // Both ends are close-on-exec: the supervisor's end reaches it as
        // its stdin (fd 0), which the spawn sets up in the child alone. No
        // code runs between fork and exec, so std spawns with posix_spawn
        // (vfork semantics) instead of copying this big process with fork.
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| worker_fault("cannot create the control socket", e))?;
        let (out, err) = log
            .job_stdio()
            .map_err(|e| worker_fault("cannot share the log file", e))?;
        let id = launch.job_id.to_string();
        // What `ps` shows: the job it supervises, not `/proc/self/exe`.
        let arg0 = format!("jobctl job {}", &id[..8]);
        // The supervisor's argv: what `ps` shows, then its options.
        let mut argv: Vec<OsString> = vec![OsString::from(&arg0)];
        let mut arg = |a: &dyn AsRef<std::ffi::OsStr>| argv.push(a.as_ref().to_owned());
        arg(&"--control-fd");
        arg(&"0");
        arg(&"--job-id");
        arg(&id);
        arg(&"--lease-ms");
        arg(&launch.lease.as_millis().to_string());
        arg(&"--kill-grace-ms");
        arg(&launch.kill_grace.as_millis().to_string());
        if executor.run_as_owner {
            arg(&"--run-as");
            arg(&launch.job.owner);
        }
        if executor.redact.shapes() {
            arg(&"--redact-shapes");
        }
        if executor.redact.secrets() {
            for (name, _) in launch.secrets.iter() {
                arg(&"--redact-secret");
                arg(&name);
            }
        }
        // The supervisor enters the directory, not the worker: on a hung
        // mount that blocks the supervisor alone.
        if let Some(cwd) = &launch.cwd {
            arg(&"--cwd");
            arg(cwd);
        }
        arg(&"--");
        for a in &launch.argv {
            arg(a);
        }
        // The worker's own settings (its token above all) are not the job's
        // business; a `jobctl` run inside a job should use the job's env.
        let mut env: BTreeMap<OsString, OsString> = std::env::vars_os()
            .filter(|(key, _)| !super::is_worker_setting(key))
            .collect();
        env.extend(launch.env.iter().map(|(k, v)| (k.into(), v.into())));
        env.extend(launch.secrets.iter().map(|(k, v)| (k.into(), v.into())));
        let env: Vec<(OsString, OsString)> = env.into_iter().collect();
        let theirs = std::os::fd::OwnedFd::from(theirs);
        let start_timeout = executor.fs_timeout + Duration::from_secs(5);
        let forked = (executor.zygote)
            .fork(&argv, &env, [&theirs, &out, &err], start_timeout)
            .await;
        let process = match forked {
            Fork::Forked(forked) => {
                // Only the supervisor may hold its end of the control
                // socket: its death must reach us as EOF at once.
                drop((theirs, out, err));
                Process::Forked(forked, executor.zygote.clone())
            }
            Fork::Failed(e) => return Err(StartError::Worker(e)),
            Fork::Unavailable => {
                let mut command = tokio::process::Command::new(&executor.shim_program);
                command
                    .arg0(&arg0)
                    .arg("__run-job")
                    .args(&argv[1..])
                    .stdin(Stdio::from(theirs))
                    .stdout(Stdio::from(out))
                    .stderr(Stdio::from(err))
                    // Its own group: a Ctrl-C meant for the worker must not
                    // reach the supervisor, which outlives the worker's drain.
                    .process_group(0)
                    .kill_on_drop(false)
                    .env_clear()
                    .envs(env);
                let child = command.spawn().map_err(|e| {
                    let text = format!(
                        "cannot run the job supervisor {}: {}",
                        executor.shim_program.display(),
                        os_error_text(&e)
                    );
                    // Too long a command or environment is the job's doing.
                    if e.raw_os_error() == Some(libc::E2BIG) {
                        StartError::Job(text)
                    } else {
                        StartError::Worker(text)
                    }
                })?;
                Process::Spawned(child)
            }
        };
        ours.set_nonblocking(true)
            .map_err(|e| worker_fault("control socket", e))?;
        let stream = UnixStream::from_std(ours).map_err(|e| worker_fault("control socket", e))?;
        let (read, write) = stream.into_split();
        let mut supervised = Supervised {
            process,
            lines: BufReader::new(read).lines(),
            commands: write,
            pid: 0,
        };
        // Entering the cwd may hang on a dead mount: give up in time.
        let first = tokio::time::timeout(
            executor.fs_timeout + Duration::from_secs(5),
            supervised.next_line(),
        )
        .await;
        match first {
            Ok(Some(ShimEvent::Started(pid))) => {
                supervised.pid = pid;
                Ok(supervised)
            }
            Ok(Some(ShimEvent::SpawnError(e))) => {
                supervised.reap().await;
                Err(StartError::Job(e))
            }
            Ok(_) => Err(StartError::Worker(supervised.lost_reason().await)),
            Err(_) => {
                supervised.process.kill().await;
                supervised.reap().await;
                Err(StartError::Worker(format!(
                    "the job supervisor did not start the job within {}s",
                    executor.fs_timeout.as_secs() + 5
                )))
            }
        }
    }

    /// The next control line; `None` when the supervisor has gone.
    async fn next_line(&mut self) -> Option<ShimEvent> {
        loop {
            match self.lines.next_line().await {
                Ok(Some(line)) => match ShimEvent::parse(&line) {
                    Some(event) => return Some(event),
                    None => tracing::warn!(line, "unknown line from the job supervisor"),
                },
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Sends one control line to the supervisor.
    async fn send(&mut self, command: &str) {
        let _ = self
            .commands
            .write_all(format!("{command}\n").as_bytes())
            .await;
    }

    /// Why the supervisor vanished without reporting an exit.
    async fn lost_reason(&mut self) -> String {
        match self.process.wait().await {
            Ok(status) => match (
                status.code(),
                std::os::unix::process::ExitStatusExt::signal(&status),
            ) {
                (_, Some(sig)) => format!("job supervisor killed by signal {sig}"),
                (Some(code), _) => format!("job supervisor exited with code {code}"),
                _ => "job supervisor ended unexpectedly".into(),
            },
            Err(e) => format!("job supervisor lost: {e}"),
        }
    }

    async fn reap(&mut self) {
        let _ = self.process.wait().await;
    }
}

#[async_trait]
impl Execution for Supervised {
    fn describe(&self) -> String {
        format!("pid {}", self.pid)
    }

    async fn next_event(&mut self) -> ExecEvent {
        loop {
            match self.next_line().await {
                Some(ShimEvent::Exited(exit)) => return ExecEvent::Ended(exit),
                Some(ShimEvent::Fenced) => return ExecEvent::Fenced,
                Some(ShimEvent::Redacted(n)) => crate::metrics::worker_redacted(n),
                Some(_) => continue,
                None => {
                    // The supervisor died (OOM killer, a stray kill):
                    // PDEATHSIG took the job's leader, but not the rest of
                    // its group. The group id cannot be reused while any
                    // member lives, so this hits only them.
                    if self.pid > 0 {
                        let _ = nix::sys::signal::killpg(
                            nix::unistd::Pid::from_raw(self.pid as i32),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                    return ExecEvent::Lost(self.lost_reason().await);
                }
            }
        }
    }

    async fn terminate(&mut self) {
        self.send("term").await;
    }

    async fn kill(&mut self) {
        self.send("kill").await;
    }

    async fn renew_lease(&mut self, valid_for: Duration) {
        self.send(&format!("lease {}", valid_for.as_millis())).await;
    }

    async fn finish(&mut self) {
        self.reap().await;
    }
}
