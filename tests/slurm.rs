//! `jobctl worker --executor slurm` against a real Slurm: the one-node
//! cluster that `ci/slurm.sh` starts on this machine (test.sh runs it when
//! Slurm is not up). Real `sbatch` jobs, real `squeue`, real `scancel`.
//!
//! Without Slurm these tests print SKIPPED and pass, except in CI
//! (`CI=true`), where they fail. They use SQLite only: the Slurm executor
//! talks to the api like any worker, and the api's side of it (pending
//! reasons, hand-backs) is tested on both stores in `tests/api.rs`.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{ApiOptions, Backend, TestApi, wait_for};
use jobctl::domain::{JobId, JobStatus, Role};
use jobctl::protocol::Job;
use nix::sys::signal::Signal;
use serde_json::json;

/// Generous: Slurm schedules in seconds, and the machine is shared.
const WITHIN: Duration = Duration::from_secs(90);

/// Whether the test cluster answers; panics in CI when it does not.
fn slurm_is_up() -> bool {
    let up = Command::new("sinfo")
        .args(["--noheader", "--nodes=localhost", "--format=%t"])
        .output()
        .map(|out| {
            let state = String::from_utf8_lossy(&out.stdout);
            out.status.success()
                && ["idle", "mix", "alloc", "comp"]
                    .iter()
                    .any(|s| state.trim_start().starts_with(s))
        })
        .unwrap_or(false);
    if !up {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("Slurm is not running: ci/slurm.sh (run by test.sh) should have started it");
        }
        eprintln!("SKIPPED: Slurm test (run ci/slurm.sh as root to start a one-node Slurm)");
    }
    up
}

/// One test's api, user token and worker token, plus a unique prefix for
/// its workers' names, so its Slurm jobs can be told from other tests'.
struct Setup {
    api: TestApi,
    user: String,
    worker_token: String,
    tag: String,
}

async fn setup(options: ApiOptions) -> Setup {
    let api = TestApi::start_with(&Backend::Sqlite, options).await;
    let user = api.token("alice", Role::User).await;
    let worker_token = api.token("w1", Role::Worker).await;
    let tag = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    Setup {
        api,
        user,
        worker_token,
        tag,
    }
}

impl Drop for Setup {
    /// Nothing a test submitted outlives it in Slurm.
    fn drop(&mut self) {
        for (slurm_id, _) in slurm_jobs_of(&self.tag, true) {
            let _ = Command::new("scancel").arg(slurm_id.to_string()).status();
        }
    }
}

/// A `jobctl worker --executor slurm` process. Its log goes to a file that
/// is printed only when the test fails.
struct SlurmWorker {
    child: Option<Child>,
    log: PathBuf,
}

impl Setup {
    fn worker(&self, name: &str, extra: &[&str]) -> SlurmWorker {
        self.worker_with_env(name, extra, &[])
    }

    fn worker_with_env(&self, name: &str, extra: &[&str], env: &[(&str, &str)]) -> SlurmWorker {
        let name = format!("{}-{name}", self.tag);
        let log = self.api.dir.path().join(format!("worker-{name}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
        cmd.arg("worker")
            .args(["--executor", "slurm", "--name", &name])
            .arg("--api-url")
            .arg(&self.api.url)
            .arg("--logs-dir")
            .arg(&self.api.logs_dir)
            .args(["--kill-grace", "2s", "--slurm-poll-interval", "500ms"])
            .args(extra)
            .env_remove("JOBCTL_CONFIG")
            // As under systemd's EnvironmentFile; the job must not see it.
            .env("JOBCTL_TOKEN", &self.worker_token)
            .env("JOBCTL_DATA_DIR", self.api.dir.path().join("worker-data"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        SlurmWorker {
            child: Some(cmd.spawn().expect("spawn jobctl worker")),
            log,
        }
    }

    async fn submit(&self, body: serde_json::Value) -> Job {
        self.api.submit_json(&self.user, body).await
    }

    async fn job(&self, id: JobId) -> Job {
        self.api.job(&self.user, id).await
    }

    async fn finished(&self, id: JobId) -> Job {
        self.api.wait_finished(&self.user, id, WITHIN).await
    }

    fn log(&self, id: JobId) -> String {
        String::from_utf8_lossy(&std::fs::read(self.api.log_path(id)).unwrap_or_default())
            .into_owned()
    }

    /// Waits until the job's log contains `text`.
    async fn log_shows(&self, id: JobId, text: &str) {
        wait_for(WITHIN, || async {
            self.log(id).contains(text).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("the log never showed {text:?}: {}", self.log(id)));
    }

    /// The Slurm job id from the log's `submitted to Slurm as job N` line.
    async fn slurm_id(&self, id: JobId) -> u64 {
        self.log_shows(id, "submitted to Slurm as job ").await;
        let log = self.log(id);
        let rest = &log[log.find("submitted to Slurm as job ").unwrap() + 26..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    }
}

impl SlurmWorker {
    fn signal(&self, sig: Signal) {
        if let Some(child) = &self.child {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig);
        }
    }

    /// Waits for the worker to exit.
    fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker did not exit: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        self.wait(Duration::from_secs(10));
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SlurmWorker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- worker log {} ---\n{}",
                self.log.display(),
                self.output()
            );
        }
    }
}

/// This test's Slurm jobs (by the worker-name prefix in their comments):
/// Slurm id and state; only the live ones (pending, running, completing)
/// when `live`.
fn slurm_jobs_of(tag: &str, live: bool) -> Vec<(u64, String)> {
    let mut args = vec!["--noheader", "--me", "--format=%i|%T|%k"];
    if !live {
        args.push("--states=all");
    }
    let Ok(out) = Command::new("squeue").args(&args).output() else {
        return Vec::new();
    };
    let marker = format!(" worker={tag}-");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&marker))
        .filter_map(|l| {
            let mut f = l.splitn(3, '|');
            Some((f.next()?.parse().ok()?, f.next()?.to_string()))
        })
        .collect()
}

/// The state Slurm gives job `slurm_id`.
fn slurm_state(slurm_id: u64) -> String {
    let out = Command::new("squeue")
        .args(["--noheader", "--states=all", "--format=%T"])
        .arg(format!("--jobs={slurm_id}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sh(script: &str) -> serde_json::Value {
    json!(["sh", "-c", script])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slurm_job_log_grows_live_and_the_job_sees_its_slurm_job_id() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    let _w = t.worker("live", &[]);
    let job = t
        .submit(json!({"command": sh(
            "echo slurm=$SLURM_JOB_ID; sleep 1; for i in $(seq 30); do echo line $i; sleep 0.1; done"
        )}))
        .await;
    // The log exists (empty to the api) before the job writes anything.
    wait_for(WITHIN, || async {
        t.api.log_path(job.id).exists().then_some(())
    })
    .await
    .expect("the log file is created at the claim");
    let slurm_id = t.slurm_id(job.id).await;

    let mut sizes = Vec::new();
    loop {
        let chunk: jobctl::protocol::LogChunk = t
            .api
            .get(&format!("/jobs/{}/logs?offset=0", job.id), &t.user)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if chunk.status == JobStatus::Running && chunk.logs.contains("line 1\n") {
            sizes.push(chunk.size);
        }
        if chunk.status.is_terminal() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    sizes.dedup();
    assert!(
        sizes.len() >= 5 && sizes.windows(2).all(|w| w[0] < w[1]),
        "the log grew in steps while the Slurm job ran: {sizes:?}"
    );
    let done = t.finished(job.id).await;
    assert_eq!(done.status, JobStatus::Completed, "{}", t.log(job.id));
    assert_eq!(done.exit_code, Some(0));
    assert_eq!(done.pending_reason, None);
    let log = t.log(job.id);
    assert!(log.contains(&format!("slurm={slurm_id}\n")), "{log}");
    let expected: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    assert!(log.contains(&expected), "{log}");
    assert!(
        log.contains(&format!("[jobctl] submitted to Slurm as job {slurm_id}\n"))
            && log.contains(&format!(
                "[jobctl] Slurm job {slurm_id} started on localhost\n"
            )),
        "{log}"
    );
    assert!(
        log.lines()
            .last()
            .unwrap()
            .starts_with("[jobctl] finished: completed"),
        "closing line: {log}"
    );
    assert_eq!(slurm_state(slurm_id), "COMPLETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exit_codes_and_jobs_that_cannot_start() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    let _w = t.worker("exit", &[]);
    let ok = t.submit(json!({"command": sh("exit 0")})).await;
    let three = t
        .submit(json!({"command": sh("echo failing; exit 3")}))
        .await;
    let missing = t
        .submit(json!({"command": ["no-such-program-jobctl", "x"]}))
        .await;
    let gone = t.api.dir.path().join("gone");
    let no_cwd = t
        .submit(json!({"command": ["true"], "cwd": gone.to_str().unwrap()}))
        .await;

    let done = t.finished(ok.id).await;
    assert_eq!(
        (done.status, done.exit_code),
        (JobStatus::Completed, Some(0))
    );

    let done = t.finished(three.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.exit_code, Some(3));
    assert_eq!(done.failure_reason.as_deref(), Some("exit code 3"));
    assert!(t.log(three.id).contains("failing\n"));

    let done = t.finished(missing.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(
        done.failure_reason.as_deref(),
        Some("could not start: No such file or directory (program \"no-such-program-jobctl\")")
    );
    assert!(
        t.log(missing.id)
            .contains("[jobctl] could not start: No such file or directory"),
        "{}",
        t.log(missing.id)
    );

    let done = t.finished(no_cwd.id).await;
    assert_eq!(
        done.failure_reason,
        Some(format!(
            "could not start: working directory {}: No such file or directory",
            gone.display()
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn arguments_environment_and_cwd_reach_the_job_exactly() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    let _w = t.worker_with_env("args", &[], &[("WORKER_ONLY_MARKER", "leaked")]);
    let tricky = [
        "two words",
        "it's",
        "\"double\"",
        "$HOME ${PATH} $(id) `id`",
        "a;b && c | d > /tmp/jobctl-never",
        "line one\nline two",
        "back\\slash",
        "*",
        "",
    ];
    let mut argv = vec!["printf", "<%s>\\n"];
    argv.extend(tricky);
    let quoted = t.submit(json!({"command": argv})).await;
    let cwd = t.api.dir.path().join("a dir with 'quotes' and $x");
    std::fs::create_dir(&cwd).unwrap();
    let env = t
        .submit(json!({
            "command": sh("printf '%s|' \"$A\" \"${WORKER_ONLY_MARKER-unset}\" \"${JOBCTL_TOKEN-unset}\" \"$JOBCTL_JOB_ID\" \"$(pwd)\""),
            "cwd": cwd.to_str().unwrap(),
            "env": {"A": "x y $z 'q' \"dq\"\nnext; echo no"},
        }))
        .await;

    let done = t.finished(quoted.id).await;
    assert_eq!(done.status, JobStatus::Completed, "{}", t.log(quoted.id));
    let expected: String = tricky.iter().map(|a| format!("<{a}>\n")).collect();
    assert!(
        t.log(quoted.id).contains(&expected),
        "each argument arrives as one word, byte for byte: {}",
        t.log(quoted.id)
    );

    let done = t.finished(env.id).await;
    assert_eq!(done.status, JobStatus::Completed, "{}", t.log(env.id));
    assert!(
        t.log(env.id).contains(&format!(
            "x y $z 'q' \"dq\"\nnext; echo no|unset|unset|{}|{}|",
            env.id,
            cwd.display()
        )),
        "the job's env and cwd, none of the worker's: {}",
        t.log(env.id)
    );
    assert!(!Path::new("/tmp/jobctl-never").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_reaches_jobs_pending_in_slurm_and_running_ones() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    // Held jobs stay pending in Slurm (reason JobHeldUser) until released.
    let held = t.worker("held", &["--sbatch-arg=--hold"]);
    let waiting = t.submit(json!({"command": ["sleep", "300"]})).await;
    let slurm_id = t.slurm_id(waiting.id).await;
    let job = wait_for(WITHIN, || async {
        let job = t.job(waiting.id).await;
        job.pending_reason.is_some().then_some(job)
    })
    .await
    .expect("the job shows Slurm's pending reason");
    assert_eq!(job.status, JobStatus::Running);
    assert_eq!(
        job.pending_reason,
        Some(format!("in Slurm's queue as job {slurm_id}: JobHeldUser"))
    );
    assert_eq!(slurm_state(slurm_id), "PENDING");
    // The CLI says so too.
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_jobctl"))
            .args(args)
            .args(["--api-url", &t.api.url, "--token", &t.user])
            .env_remove("JOBCTL_CONFIG")
            .env("JOBCTL_DATA_DIR", t.api.dir.path().join("cli-data"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = cli(&["show", &waiting.id.to_string()]);
    assert!(
        shown.contains(&format!("in Slurm's queue as job {slurm_id}: JobHeldUser")),
        "{shown}"
    );
    let listed = cli(&["list"]);
    assert!(listed.contains("running (queued)"), "{listed}");
    t.api
        .post(&format!("/jobs/{}/cancel", waiting.id), &t.user)
        .send()
        .await
        .unwrap();
    let done = t.finished(waiting.id).await;
    assert_eq!(done.status, JobStatus::Cancelled);
    assert_eq!(done.pending_reason, None);
    assert_eq!(slurm_state(slurm_id), "CANCELLED");
    assert!(
        t.log(waiting.id).contains(&format!(
            "[jobctl] cancelled; cancelling Slurm job {slurm_id}, which had not started"
        )),
        "{}",
        t.log(waiting.id)
    );
    drop(held);

    let _w = t.worker("run", &[]);
    let running = t
        .submit(json!({"command": sh("echo started; sleep 300")}))
        .await;
    let slurm_id = t.slurm_id(running.id).await;
    t.log_shows(running.id, "started\n").await;
    t.api
        .post(&format!("/jobs/{}/cancel", running.id), &t.user)
        .send()
        .await
        .unwrap();
    let done = t.finished(running.id).await;
    assert_eq!(done.status, JobStatus::Cancelled);
    let log = t.log(running.id);
    assert!(
        log.contains(&format!(
            "[jobctl] cancelled; sending SIGTERM to Slurm job {slurm_id}"
        )),
        "{log}"
    );
    assert!(log.contains("[jobctl] finished: cancelled"), "{log}");
    assert_ne!(slurm_state(slurm_id), "RUNNING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timeout_is_enforced_exactly_even_when_the_job_ignores_sigterm() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    let _w = t.worker("timeout", &[]);
    let job = t
        .submit(json!({
            "command": sh("trap '' TERM; echo started; sleep 300"),
            "timeout_seconds": 5,
        }))
        .await;
    let slurm_id = t.slurm_id(job.id).await;
    let done = t.finished(job.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.failure_reason.as_deref(), Some("timed out after 5s"));
    let log = t.log(job.id);
    assert!(log.contains("started\n"), "{log}");
    assert!(
        log.contains(&format!(
            "[jobctl] timed out after 5s; sending SIGTERM to Slurm job {slurm_id}"
        )),
        "{log}"
    );
    assert!(log.contains("after SIGTERM; sending SIGKILL"), "{log}");
    wait_for(WITHIN, || async {
        (slurm_state(slurm_id) != "RUNNING").then_some(())
    })
    .await
    .expect("the Slurm job ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_or_stopped_mid_job_takes_it_back_and_it_runs_once() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    let runs = t.api.dir.path().join("runs");
    let mut w = t.worker("readopt", &[]);
    let job = t
        .submit(json!({"command": sh(&format!(
            "echo run >> '{}'; for i in $(seq 10); do echo step $i; sleep 1; done",
            runs.display()
        ))}))
        .await;
    t.log_shows(job.id, "step 2\n").await;
    w.kill();
    let mut w = t.worker("readopt", &[]);
    t.log_shows(job.id, "restarted; carrying on with Slurm job")
        .await;
    t.log_shows(job.id, "step 5\n").await;
    // A graceful stop leaves the Slurm job running, to be taken back too.
    w.signal(Signal::SIGTERM);
    assert!(w.wait(Duration::from_secs(30)).success());
    t.log_shows(job.id, "goes on, and the worker takes it back")
        .await;
    assert_eq!(t.job(job.id).await.status, JobStatus::Running);
    let _w = t.worker("readopt", &[]);
    let done = t.finished(job.id).await;
    assert_eq!(done.status, JobStatus::Completed, "{}", t.log(job.id));
    assert_eq!(std::fs::read_to_string(&runs).unwrap(), "run\n", "ran once");
    let log = t.log(job.id);
    for i in 1..=10 {
        assert_eq!(
            log.matches(&format!("step {i}\n")).count(),
            1,
            "step {i} once: {log}"
        );
    }
    assert_eq!(log.matches("[jobctl] finished:").count(), 1, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_declared_lost_while_its_worker_was_away_is_cancelled_in_slurm() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions {
        lease_timeout: Duration::from_secs(3),
        ..ApiOptions::default()
    })
    .await;
    let mut w = t.worker("lost", &[]);
    let job = t
        .submit(json!({"command": sh("echo started; sleep 300")}))
        .await;
    let slurm_id = t.slurm_id(job.id).await;
    t.log_shows(job.id, "started\n").await;
    w.kill();
    let lost = t.finished(job.id).await;
    assert_eq!(lost.failure_reason.as_deref(), Some("worker lost"));
    assert_eq!(slurm_state(slurm_id), "RUNNING");
    let _w = t.worker("lost", &[]);
    wait_for(WITHIN, || async {
        (slurm_state(slurm_id) != "RUNNING").then_some(())
    })
    .await
    .expect("the restarted worker cancels the Slurm job");
    t.log_shows(job.id, "[jobctl] lease lost: the API has given this job up")
        .await;
    // The api keeps its verdict.
    assert_eq!(
        t.job(job.id).await.failure_reason.as_deref(),
        Some("worker lost")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slurm_refusals_fail_the_job_and_outages_hand_it_back() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;

    // The worker's own settings are checked once, at start.
    let mut bad = t.worker("bad", &["--partition", "no-such-partition"]);
    let status = bad.wait(Duration::from_secs(60));
    assert!(!status.success());
    assert!(
        bad.output()
            .contains("Slurm refuses jobs with this worker's settings")
            && bad.output().contains("Invalid partition"),
        "{}",
        bad.output()
    );

    // The job's fault: longer than the partition allows.
    let short = t.worker("short", &["--partition", "short"]);
    let long = t
        .submit(json!({"command": ["true"], "timeout_seconds": 7200}))
        .await;
    let done = t.finished(long.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let reason = done.failure_reason.unwrap();
    assert!(
        reason.starts_with("could not start: Slurm refused the job: ")
            && reason.contains("time limit"),
        "{reason}"
    );
    drop(short);

    // The cluster's fault: the controller cannot be reached.
    let conf = t.api.dir.path().join("unreachable-slurm.conf");
    let real = std::fs::read_to_string("/etc/slurm/slurm.conf").unwrap();
    std::fs::write(
        &conf,
        format!("{real}\nSlurmctldPort=6999\nMessageTimeout=1\n"),
    )
    .unwrap();
    let mut down = t.worker_with_env("down", &[], &[("SLURM_CONF", conf.to_str().unwrap())]);
    let job = t.submit(json!({"command": sh("echo ran")})).await;
    // The worker does not claim while Slurm is down: the job stays pending.
    wait_for(WITHIN, || async {
        down.output()
            .contains("no job is claimed until it does")
            .then_some(())
    })
    .await
    .expect("the worker says it waits for Slurm");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(t.job(job.id).await.status, JobStatus::Pending);
    down.signal(Signal::SIGTERM);
    down.wait(Duration::from_secs(30));

    // Slurm goes down between the check and the submission: the job comes
    // back to pending with why, and the worker stops claiming.
    let conf_flip = t.api.dir.path().join("flip-slurm.conf");
    std::fs::write(&conf_flip, &real).unwrap();
    let flip = t.worker_with_env("flip", &[], &[("SLURM_CONF", conf_flip.to_str().unwrap())]);
    // A job through it first: Slurm takes its jobs, so it claims.
    let warm = t.submit(json!({"command": ["true"]})).await;
    assert_eq!(t.finished(warm.id).await.status, JobStatus::Completed);
    // It also took the job left pending above: that one must be over too
    // before Slurm goes away, or the flipped worker could never report it.
    assert_eq!(t.finished(job.id).await.status, JobStatus::Completed);
    std::fs::write(
        &conf_flip,
        format!("{real}\nSlurmctldPort=6999\nMessageTimeout=1\n"),
    )
    .unwrap();
    let bounced = t.submit(json!({"command": sh("echo ran once")})).await;
    t.log_shows(
        bounced.id,
        "could not start the job (Slurm could not take the job: ",
    )
    .await;
    assert!(
        t.log(bounced.id)
            .contains("Unable to contact slurm controller"),
        "{}",
        t.log(bounced.id)
    );
    let back = wait_for(WITHIN, || async {
        let job = t.job(bounced.id).await;
        (job.status == JobStatus::Pending).then_some(job)
    })
    .await
    .expect("the job is handed back");
    assert_eq!(back.worker, None);
    // The worker does not claim again while Slurm stays away.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(t.job(bounced.id).await.status, JobStatus::Pending);
    assert_eq!(
        t.log(bounced.id).matches("could not start the job").count(),
        1,
        "{}",
        t.log(bounced.id)
    );
    drop(flip);

    let _good = t.worker("good", &[]);
    for id in [job.id, bounced.id] {
        let done = t.finished(id).await;
        assert_eq!(done.status, JobStatus::Completed, "{}", t.log(id));
    }
    assert_eq!(t.log(bounced.id).matches("ran once\n").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_short_jobs_run_once_each_with_at_most_eight_in_slurm() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    let runs = t.api.dir.path().join("runs");
    let _w = t.worker("many", &["--max-jobs", "8"]);
    let mut ids = Vec::new();
    for _ in 0..100 {
        let job = t
            .submit(json!({"command": sh(&format!(
                "echo $JOBCTL_JOB_ID >> '{}'",
                runs.display()
            ))}))
            .await;
        ids.push(job.id);
    }
    // Watch Slurm's queue while they run.
    let tag = t.tag.clone();
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let watching = watching.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(slurm_jobs_of(&tag, true).len());
                std::thread::sleep(Duration::from_millis(50));
            }
            most
        })
    };
    for id in &ids {
        let done = t
            .api
            .wait_finished(&t.user, *id, Duration::from_secs(300))
            .await;
        assert_eq!(done.status, JobStatus::Completed, "{}", t.log(*id));
    }
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let most = watcher.join().unwrap();
    assert!(most <= 8, "{most} jobs in Slurm at once");
    assert!(most >= 2, "the jobs ran side by side ({most} at most)");
    let lines: Vec<String> = std::fs::read_to_string(&runs)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 100, "every job ran once");
    let distinct: BTreeSet<&String> = lines.iter().collect();
    assert_eq!(distinct.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_stay_out_of_slurm_and_the_log_and_the_status_is_the_jobs() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    let _w = t.worker("secrets", &[]);
    let value = "s3cr3t-Slurm-Value-42";
    let shaped = format!("ghp_{}", "A1b2C3d4E5".repeat(4));
    // One character at a time with sleeps, in the middle of a line; then
    // a pause to look at Slurm; then the value as the very last bytes.
    let script = format!(
        "v=\"$TOKEN\"; i=0; printf 'before '; \
         while [ $i -lt ${{#v}} ]; do printf %s \"${{v:$i:1}}\"; sleep 0.02; i=$((i+1)); done; \
         echo ' after'; echo 'shape {shaped}'; echo job-is-up; sleep 4; \
         printf 'last:%s' \"$TOKEN\" >&2; exit 3"
    );
    let job = t
        .submit(json!({
            "command": ["bash", "-c", script],
            "secrets": {"TOKEN": value},
        }))
        .await;
    let slurm_id = t.slurm_id(job.id).await;
    t.log_shows(job.id, "job-is-up\n").await;
    let secrets_file = t
        .api
        .logs_dir
        .join(".slurm")
        .join(format!("{}.secrets", job.id));
    assert!(
        !secrets_file.exists(),
        "the batch script removes the secrets file as it starts: {}",
        t.log(job.id)
    );
    let show = Command::new("scontrol")
        .args(["show", "job", "-dd", &slurm_id.to_string()])
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&show.stdout).into_owned();
    assert!(show.contains(&format!("JobId={slurm_id}")), "{show}");
    assert!(!show.contains(value), "scontrol show job: {show}");
    let batch = Command::new("scontrol")
        .args(["write", "batch_script", &slurm_id.to_string(), "-"])
        .output()
        .unwrap();
    let batch = String::from_utf8_lossy(&batch.stdout).into_owned();
    assert!(
        batch.contains("__redact"),
        "the saved batch script: {batch}"
    );
    assert!(!batch.contains(value), "the saved batch script: {batch}");

    let done = t.finished(job.id).await;
    let log = t.log(job.id);
    assert_eq!(done.status, JobStatus::Failed, "{log}");
    assert_eq!(
        done.exit_code,
        Some(3),
        "the job's status, not the filter's: {log}"
    );
    // (The worker's own `started on` line may fall in between.)
    assert!(
        log.contains("before ") && log.contains("[redacted] after\n"),
        "{log}"
    );
    assert!(log.contains("shape [redacted]\n"), "{log}");
    assert!(log.contains("last:[redacted]"), "{log}");
    assert!(!log.contains(value) && !log.contains(&shaped), "{log}");
    assert!(!secrets_file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancelled_slurm_job_leaves_no_secrets_file_and_its_last_output_redacted() {
    if !slurm_is_up() {
        return;
    }
    let t = setup(ApiOptions::default()).await;
    let _w = t.worker("secrets-cancel", &[]);
    let value = "another-Secret-Value-7";
    // A job that ignores nothing: the cancel's SIGTERM ends it; the filter
    // outlives it and flushes what it held.
    let job = t
        .submit(json!({
            "command": sh("printf 'x%s' \"$TOKEN\"; echo; echo job-is-up; sleep 300"),
            "secrets": {"TOKEN": value},
        }))
        .await;
    t.log_shows(job.id, "job-is-up\n").await;
    t.api
        .post(&format!("/jobs/{}/cancel", job.id), &t.user)
        .send()
        .await
        .unwrap();
    let done = t.finished(job.id).await;
    let log = t.log(job.id);
    assert_eq!(done.status, JobStatus::Cancelled, "{log}");
    assert!(log.contains("x[redacted]\n"), "{log}");
    assert!(!log.contains(value), "{log}");
    let slurm_dir = t.api.logs_dir.join(".slurm");
    let left: Vec<_> = std::fs::read_dir(&slurm_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".secrets"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
