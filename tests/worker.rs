//! `jobctl worker` as a real process running real jobs: live logs, exit
//! statuses, timeouts, cancels, leases, outages and shutdown — on SQLite and
//! on PostgreSQL.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::{ApiOptions, Backend, TestApi, wait_for, wait_gone};
use jobctl::domain::{JobId, JobStatus, Role};
use jobctl::protocol::{Job, LogChunk};
use nix::sys::signal::Signal;
use serde_json::json;

backend_tests!(
    a_running_job_log_grows_while_it_runs,
    stdout_and_stderr_interleave_in_one_file,
    env_cwd_and_unbuffered_python_reach_the_job,
    exit_codes_and_signals_become_statuses,
    jobs_that_cannot_start_fail_with_the_os_error,
    a_timeout_kills_the_whole_group_even_when_sigterm_is_ignored,
    cancel_reaches_running_and_pending_jobs,
    a_killed_worker_takes_its_jobs_with_it_and_they_end_worker_lost,
    an_api_outage_longer_than_the_lease_keeps_what_the_worker_saw,
    sigterm_drains_then_stops_running_jobs,
    many_workers_run_every_job_exactly_once,
    a_huge_line_and_invalid_utf8_stay_readable,
    revoking_a_worker_token_stops_its_jobs,
    a_stopped_worker_s_job_is_fenced_before_the_api_counts_it_lost,
    a_worker_that_cannot_write_logs_hands_jobs_back_and_stops_claiming,
);

const WITHIN: Duration = Duration::from_secs(30);

async fn setup(backend: &Backend, options: ApiOptions) -> (TestApi, String, String) {
    let api = TestApi::start_with(backend, options).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    (api, user, worker)
}

async fn logs(api: &TestApi, token: &str, id: JobId, query: &str) -> LogChunk {
    api.get(&format!("/jobs/{id}/logs?{query}"), token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn full_log(api: &TestApi, token: &str, id: JobId) -> String {
    logs(api, token, id, "offset=0").await.logs
}

async fn wait_status(api: &TestApi, token: &str, id: JobId, status: JobStatus) -> Job {
    wait_for(WITHIN, || async {
        let job = api.job(token, id).await;
        (job.status == status).then_some(job)
    })
    .await
    .unwrap_or_else(|| panic!("job {id} never became {status}"))
}

fn sh(script: &str) -> Vec<&str> {
    vec!["sh", "-c", script]
}

async fn a_running_job_log_grows_while_it_runs(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let job = api
        .submit(
            &user,
            &sh("sleep 1; for i in $(seq 40); do echo line $i; sleep 0.1; done"),
        )
        .await;
    // The log exists while the job has not written yet.
    wait_for(WITHIN, || async {
        api.log_path(job.id).exists().then_some(())
    })
    .await
    .expect("the log file is created");
    let early = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    assert!(
        !early.contains("line 1\n"),
        "created before the first line: {early:?}"
    );

    let mut sizes = Vec::new();
    let mut status = JobStatus::Running;
    while status.is_active() {
        let chunk = logs(&api, &user, job.id, "tail=1000").await;
        if chunk.status == JobStatus::Running && !chunk.logs.is_empty() {
            sizes.push(chunk.logs.len());
        }
        status = chunk.status;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    sizes.dedup();
    assert!(
        sizes.len() >= 5 && sizes.windows(2).all(|w| w[0] < w[1]),
        "the log grew in steps while the job ran: {sizes:?}"
    );
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed);
    let log = full_log(&api, &user, job.id).await;
    let expected: String = (1..=40).map(|i| format!("line {i}\n")).collect();
    assert!(log.starts_with(&expected), "{log}");
    assert!(
        log.contains("[jobctl] finished: completed"),
        "closing line: {log}"
    );
}

async fn stdout_and_stderr_interleave_in_one_file(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let job = api
        .submit(
            &user,
            &sh("for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"),
        )
        .await;
    api.wait_finished(&user, job.id, WITHIN).await;
    let log = full_log(&api, &user, job.id).await;
    let expected: String = (1..=5).map(|i| format!("out{i}\nerr{i}\n")).collect();
    assert!(log.starts_with(&expected), "in the order written: {log}");
}

async fn env_cwd_and_unbuffered_python_reach_the_job(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let job = api
        .submit_json(
            &user,
            json!({
                "command": ["sh", "-c", "echo $FOO $PYTHONUNBUFFERED $JOBCTL_JOB_ID ${JOBCTL_TOKEN:-no-token}; pwd"],
                "env": {"FOO": "bar baz"},
                "cwd": cwd.to_str().unwrap(),
            }),
        )
        .await;
    api.wait_finished(&user, job.id, WITHIN).await;
    let log = full_log(&api, &user, job.id).await;
    assert!(
        log.starts_with(&format!(
            "bar baz 1 {} no-token\n{}\n",
            job.id,
            cwd.display()
        )),
        "{log}"
    );
}

async fn exit_codes_and_signals_become_statuses(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let _w = api.worker(&worker, &["--slots", "3"]);
    let ok = api.submit(&user, &["true"]).await;
    let three = api.submit(&user, &sh("echo bye; exit 3")).await;
    let killed = api.submit(&user, &sh("kill -9 $$")).await;
    let ok = api.wait_finished(&user, ok.id, WITHIN).await;
    assert_eq!((ok.status, ok.exit_code), (JobStatus::Completed, Some(0)));
    assert_eq!(ok.failure_reason, None);
    let three = api.wait_finished(&user, three.id, WITHIN).await;
    assert_eq!(three.status, JobStatus::Failed);
    assert_eq!(three.exit_code, Some(3));
    assert_eq!(three.failure_reason.as_deref(), Some("exit code 3"));
    let log = full_log(&api, &user, three.id).await;
    assert!(
        log.contains("bye\n[jobctl] finished: failed (exit code 3) after"),
        "{log}"
    );
    let killed = api.wait_finished(&user, killed.id, WITHIN).await;
    assert_eq!(killed.status, JobStatus::Failed);
    assert_eq!(killed.failure_reason.as_deref(), Some("killed by signal 9"));
    assert_eq!(killed.worker.as_deref().map(|w| !w.is_empty()), Some(true));
}

async fn jobs_that_cannot_start_fail_with_the_os_error(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("script.sh");
    std::fs::write(&not_executable, "#!/bin/sh\necho hi\n").unwrap();
    let missing = api.submit(&user, &["no-such-program-jobctl"]).await;
    let denied = api.submit(&user, &[not_executable.to_str().unwrap()]).await;
    let bad_cwd = api
        .submit_json(
            &user,
            json!({"command": ["true"], "cwd": "/no/such/dir/jobctl"}),
        )
        .await;
    for (job, reason) in [
        (missing, "No such file or directory"),
        (denied, "Permission denied"),
        (bad_cwd, "/no/such/dir/jobctl"),
    ] {
        let job = api.wait_finished(&user, job.id, WITHIN).await;
        assert_eq!(job.status, JobStatus::Failed);
        let got = job.failure_reason.unwrap();
        assert!(got.starts_with("could not start: "), "{got}");
        assert!(got.contains(reason), "{got} should mention {reason}");
        let log = full_log(&api, &user, job.id).await;
        assert!(
            log.contains("[jobctl] could not start") && log.contains(reason),
            "{log}"
        );
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

async fn a_timeout_kills_the_whole_group_even_when_sigterm_is_ignored(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "trap '' TERM; sleep 1000 & echo $! > {d}/grandchild; echo $$ > {d}/child; \
         echo started; while true; do sleep 0.2; done",
        d = dir.path().display()
    );
    let job = api
        .submit_json(
            &user,
            json!({"command": ["sh", "-c", script], "timeout_seconds": 1}),
        )
        .await;
    let pids = wait_for(WITHIN, || async {
        Some((
            read_pid(&dir.path().join("child"))?,
            read_pid(&dir.path().join("grandchild"))?,
        ))
    })
    .await
    .expect("the job wrote its pids");
    let job = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.failure_reason.as_deref(), Some("timed out after 1s"));
    let log = full_log(&api, &user, job.id).await;
    assert!(log.contains("[jobctl] timed out after 1s"), "{log}");
    assert!(log.contains("SIGKILL"), "the trap forced a SIGKILL: {log}");
    for pid in [pids.0, pids.1] {
        assert!(
            wait_gone(pid, Duration::from_secs(5)).await,
            "process {pid} outlived the timeout"
        );
        assert!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err(),
            "process {pid} still exists (a zombie?)"
        );
    }
}

async fn cancel_reaches_running_and_pending_jobs(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let running = api.submit(&user, &sh("echo working; sleep 1000")).await;
    wait_status(&api, &user, running.id, JobStatus::Running).await;
    let pending = api.submit(&user, &sh("echo should never run")).await;
    let resp = api
        .post(&format!("/jobs/{}/cancel", pending.id), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let asked = std::time::Instant::now();
    let resp = api
        .post(&format!("/jobs/{}/cancel", running.id), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let job = api.wait_finished(&user, running.id, WITHIN).await;
    assert_eq!(job.status, JobStatus::Cancelled);
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "cancel took {:?}",
        asked.elapsed()
    );
    let log = full_log(&api, &user, running.id).await;
    assert!(log.contains("working\n[jobctl] cancelled"), "{log}");
    let pending = api.job(&user, pending.id).await;
    assert_eq!(pending.status, JobStatus::Cancelled);
    assert_eq!(pending.started_at, None, "it never ran");
    assert!(!api.log_path(pending.id).exists());
}

async fn a_killed_worker_takes_its_jobs_with_it_and_they_end_worker_lost(backend: Backend) {
    let options = ApiOptions::short_lease(Duration::from_secs(3));
    let (api, user, worker) = setup(&backend, options).await;
    let mut w = api.worker(&worker, &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "sleep 1000 & echo $! > {d}/grandchild; echo $$ > {d}/child; wait",
        d = dir.path().display()
    );
    let job = api.submit(&user, &["sh", "-c", &script]).await;
    let pids = wait_for(WITHIN, || async {
        Some((
            read_pid(&dir.path().join("child"))?,
            read_pid(&dir.path().join("grandchild"))?,
        ))
    })
    .await
    .expect("the job wrote its pids");
    w.signal(Signal::SIGKILL);
    w.wait(Duration::from_secs(5)).expect("the worker died");
    for pid in [pids.0, pids.1] {
        assert!(
            wait_gone(pid, Duration::from_secs(10)).await,
            "job process {pid} lived on without its worker"
        );
    }
    let job = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.failure_reason.as_deref(), Some("worker lost"));
    let log = full_log(&api, &user, job.id).await;
    assert!(log.contains("[jobctl] worker lost"), "{log}");
    // A new worker does not pick the lost job up again.
    let _w2 = api.worker(&worker, &[]);
    let next = api.submit(&user, &["true"]).await;
    api.wait_finished(&user, next.id, WITHIN).await;
    assert_eq!(api.job(&user, job.id).await.status, JobStatus::Failed);
}

/// Listens where the api was, while it is down: records each request the
/// workers send there (request line, headers and body), and answers nothing.
struct ApiSpy {
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiSpy {
    async fn listen(addr: std::net::SocketAddr) -> ApiSpy {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                loop {
                    let Ok((mut stream, _)) = listener.accept().await else {
                        continue;
                    };
                    // The request line, headers and body: whatever comes
                    // until the client waits for an answer.
                    let mut request = Vec::new();
                    let mut buf = vec![0u8; 4096];
                    while let Ok(Ok(n @ 1..)) =
                        tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf))
                            .await
                    {
                        request.extend_from_slice(&buf[..n]);
                    }
                    if !request.is_empty() {
                        seen.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&request).into_owned());
                    }
                }
            }
        });
        ApiSpy { seen, task }
    }

    /// Whether the worker tried to report job `id`'s end, alone or with
    /// others.
    fn saw_report_of(&self, id: JobId) -> bool {
        let id = id.to_string();
        self.seen.lock().unwrap().iter().any(|r| {
            r.starts_with(&format!("POST /jobs/{id}/status "))
                || (r.starts_with("POST /workers/reports ") && r.contains(&id))
        })
    }

    /// Stops listening, freeing the address for the api.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn an_api_outage_longer_than_the_lease_keeps_what_the_worker_saw(backend: Backend) {
    let lease = Duration::from_secs(3);
    // The production reaper grace after a restart.
    let options = ApiOptions {
        lease_timeout: lease,
        ..ApiOptions::default()
    };
    let (mut api, user, worker) = setup(&backend, options).await;
    let _w = api.worker(&worker, &["--slots", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let codes = [0, 3, 0, 7];
    let mut jobs = Vec::new();
    for code in codes {
        let script = format!(
            "echo begin; while [ ! -e {} ]; do sleep 0.05; done; echo end; exit {code}",
            go.display()
        );
        jobs.push(api.submit(&user, &["sh", "-c", &script]).await.id);
    }
    for id in &jobs {
        wait_status(&api, &user, *id, JobStatus::Running).await;
    }
    api.stop().await;
    let down_since = std::time::Instant::now();
    let spy = ApiSpy::listen(api.addr).await;
    // The jobs end early in the outage, which then outlasts their lease:
    // the worker keeps trying to report them all along.
    std::fs::write(&go, "").unwrap();
    wait_for(WITHIN, || async {
        let all_tried = jobs.iter().all(|id| spy.saw_report_of(*id));
        (all_tried && down_since.elapsed() > lease + Duration::from_secs(1)).then_some(())
    })
    .await
    .expect("the worker tries to report every job during the outage");
    spy.stop().await;
    let back_at = chrono::Utc::now();
    api.restart().await;
    for (id, code) in jobs.iter().zip(codes) {
        let job = api.wait_finished(&user, *id, WITHIN).await;
        let expected = if code == 0 {
            (JobStatus::Completed, None)
        } else {
            (JobStatus::Failed, Some(format!("exit code {code}")))
        };
        assert_eq!(
            (job.status, job.failure_reason),
            expected,
            "what the worker saw"
        );
        assert_eq!(job.exit_code, Some(code));
        let finished = job.finished_at.unwrap();
        assert!(
            finished < back_at - chrono::Duration::seconds(2),
            "finished_at is when the job ended ({finished}), not when the report landed (after {back_at})"
        );
        assert!(finished >= job.started_at.unwrap());
        let log = full_log(&api, &user, *id).await;
        assert!(log.starts_with("begin\nend\n"), "{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_worker_gives_up_undeliverable_reports_within_one_bound() {
    let (mut api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    let mut cmd = api.worker_command(&worker, &api.logs_dir, &["--drain-timeout", "1s"]);
    cmd.stderr(std::process::Stdio::piped());
    let mut w = common::ChildGuard::spawn(cmd);
    let stderr = w.child.as_mut().unwrap().stderr.take().unwrap();
    let output = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = format!("while [ ! -e {} ]; do sleep 0.05; done", go.display());
    let job = api.submit(&user, &["sh", "-c", &script]).await;
    wait_status(&api, &user, job.id, JobStatus::Running).await;
    api.stop().await;
    std::fs::write(&go, "").unwrap();
    wait_for(WITHIN, || async {
        std::fs::read_to_string(api.log_path(job.id))
            .is_ok_and(|l| l.contains("[jobctl] finished: completed"))
            .then_some(())
    })
    .await
    .expect("the job ends during the outage");
    w.signal(Signal::SIGTERM);
    // Drain 1s + kill grace 2s + the report window, and some slack.
    let bound = Duration::from_secs(1 + 2) + jobctl::worker::REPORT_WINDOW;
    let status = w
        .wait(bound + Duration::from_secs(10))
        .expect("the worker exits within its bound although the api is away");
    assert!(status.success(), "{status:?}");
    let output = output.join().unwrap();
    assert!(
        output.contains("could not be delivered") && output.contains(&job.id.to_string()),
        "the worker says which report it could not deliver: {output}"
    );
    api.restart().await;
}

async fn sigterm_drains_then_stops_running_jobs(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let mut w = api.worker(&worker, &["--slots", "2", "--drain-timeout", "3s"]);
    let short = api.submit(&user, &sh("sleep 1; echo short done")).await;
    let long = api
        .submit(&user, &sh("trap '' TERM; echo long; sleep 1000"))
        .await;
    wait_status(&api, &user, short.id, JobStatus::Running).await;
    wait_status(&api, &user, long.id, JobStatus::Running).await;
    let after = api.submit(&user, &["true"]).await;
    w.signal(Signal::SIGTERM);
    let status = w
        .wait(Duration::from_secs(30))
        .expect("the worker exits after draining");
    assert!(status.success(), "exit status {status:?}");
    let short = api.job(&user, short.id).await;
    assert_eq!(
        short.status,
        JobStatus::Completed,
        "finished within the drain"
    );
    let long = api.job(&user, long.id).await;
    assert_eq!(long.status, JobStatus::Failed);
    assert_eq!(long.failure_reason.as_deref(), Some("worker shut down"));
    let log = full_log(&api, &user, long.id).await;
    assert!(log.contains("[jobctl] worker shut down"), "{log}");
    assert_eq!(
        api.job(&user, after.id).await.status,
        JobStatus::Pending,
        "a draining worker claims nothing new"
    );
}

async fn many_workers_run_every_job_exactly_once(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let workers: Vec<_> = (0..4)
        .map(|i| api.worker(&worker, &["--name", &format!("w{i}"), "--slots", "2"]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let mut jobs = Vec::new();
    for i in 0..200 {
        let script = format!("echo {i} >> {}", runs.display());
        jobs.push(api.submit(&user, &["sh", "-c", &script]).await.id);
    }
    let done = wait_for(Duration::from_secs(120), || async {
        let list = api.list(&user, "/jobs?limit=1000&status=completed").await;
        (list.jobs.len() == 200).then_some(list.jobs)
    })
    .await
    .expect("all 200 jobs completed");
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for line in std::fs::read_to_string(&runs).unwrap().lines() {
        *counts.entry(line.parse().unwrap()).or_default() += 1;
    }
    assert_eq!(counts.len(), 200, "every job ran");
    assert!(counts.values().all(|&c| c == 1), "no job ran twice");
    let used: std::collections::HashSet<_> = done.iter().filter_map(|j| j.worker.clone()).collect();
    assert!(used.len() > 1, "the work was shared: {used:?}");
    drop(workers);
}

async fn a_huge_line_and_invalid_utf8_stay_readable(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let job = api
        .submit(
            &user,
            &sh("printf 'bad \\377\\376 bytes\\n'; head -c 20000000 /dev/zero | tr '\\0' x"),
        )
        .await;
    api.wait_finished(&user, job.id, WITHIN).await;
    let chunk = logs(&api, &user, job.id, "tail=5").await;
    assert!(chunk.truncated, "a 20 MB line is cut to the byte cap");
    assert!(chunk.logs.len() <= 1024 * 1024);
    assert!(chunk.size > 20_000_000);
    let head = logs(&api, &user, job.id, "offset=0").await;
    assert!(
        head.logs.starts_with("bad \u{FFFD}\u{FFFD} bytes\n"),
        "{:?}",
        &head.logs[..20]
    );
}

async fn revoking_a_worker_token_stops_its_jobs(backend: Backend) {
    let options = ApiOptions::short_lease(Duration::from_secs(3));
    let (api, user, worker) = setup(&backend, options).await;
    let _w = api.worker(&worker, &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = format!("echo $$ > {}/child; sleep 1000", dir.path().display());
    let job = api.submit(&user, &["sh", "-c", &script]).await;
    let pid = wait_for(WITHIN, || async { read_pid(&dir.path().join("child")) })
        .await
        .expect("the job started");
    assert!(api.store.revoke_token("w1").await.unwrap());
    assert!(
        wait_gone(pid, WITHIN).await,
        "a worker that can no longer report stops its job"
    );
    let job = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(job.failure_reason.as_deref(), Some("worker lost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_a_job_leaves_behind_dies_with_it_even_outside_its_group() {
    let (api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let dir = tempfile::tempdir().unwrap();
    // A daemon in a session of its own, and a plain background child.
    // Each records its own pid once it runs; the job ends only after that.
    let script = format!(
        "setsid sh -c 'echo $$ > {d}/daemon; exec sleep 1000' & \
         sh -c 'echo $$ > {d}/child; exec sleep 1000' & \
         while [ ! -s {d}/daemon ] || [ ! -s {d}/child ]; do sleep 0.05; done; echo bye",
        d = dir.path().display()
    );
    let job = api.submit(&user, &["sh", "-c", &script]).await;
    let job = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(job.status, JobStatus::Completed);
    for name in ["daemon", "child"] {
        let pid = read_pid(&dir.path().join(name)).unwrap();
        assert!(
            wait_gone(pid, Duration::from_secs(10)).await,
            "the job's {name} ({pid}) outlived it"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orphans_are_reaped_while_the_job_runs_and_it_starts_with_default_signals() {
    let (api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    // Each subshell leaves an orphan that the supervisor inherits; once
    // they have ended, none may stay a zombie while the leader still runs.
    let script = "(sleep 0.1 &); (sleep 0.1 &); sleep 0.3; \\
         i=0; while [ $i -lt 100 ]; do \\
           z=$(ps -o stat= --ppid $PPID | grep -c Z); [ \"$z\" = 0 ] && break; \\
           sleep 0.05; i=$((i+1)); done; \\
         echo \"zombies $z\"";
    // The supervisor blocks SIGCHLD and the Rust runtime ignores SIGPIPE:
    // neither may reach the job. Read by the leader itself: a shell would
    // clear its mask.
    let orphans = api.submit(&user, &["sh", "-c", script]).await;
    let signals = api
        .submit(&user, &["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
        .await;
    for job in [orphans.id, signals.id] {
        let job = api.wait_finished(&user, job, WITHIN).await;
        assert_eq!(job.status, JobStatus::Completed);
    }
    let log = full_log(&api, &user, orphans.id).await;
    assert!(log.contains("zombies 0\n"), "{log}");
    let log = full_log(&api, &user, signals.id).await;
    assert!(log.contains("SigBlk:\t0000000000000000\n"), "{log}");
    let ignored = log
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:\t"))
        .and_then(|mask| u64::from_str_radix(mask, 16).ok())
        .unwrap_or_else(|| panic!("no SigIgn line: {log}"));
    assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_get_only_stdin_stdout_and_stderr() {
    use std::os::unix::process::CommandExt;
    let (api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    // The worker's own parent leaves descriptor 7 open, as shells and
    // supervisors sometimes do.
    let (_keep, leaked) = std::os::unix::net::UnixStream::pair().unwrap();
    let leaked_fd = std::os::fd::AsRawFd::as_raw_fd(&leaked);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jobctl"));
    cmd.args(["worker", "--api-url", &api.url, "--token", &worker])
        .arg("--logs-dir")
        .arg(&api.logs_dir);
    // SAFETY: dup2 is async-signal-safe; it puts the socket at fd 7 without
    // close-on-exec in the child only.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(leaked_fd, 7) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let _w = common::ChildGuard::spawn_quiet(cmd);
    let job = api
        .submit(&user, &sh("ls /proc/$$/fd | sort -n | tr '\\n' ' '"))
        .await;
    api.wait_finished(&user, job.id, WITHIN).await;
    let log = full_log(&api, &user, job.id).await;
    assert!(log.starts_with("0 1 2 "), "{log}");
    assert!(
        !log.lines().next().unwrap().contains(" 7 "),
        "fd 7 leaked into the job: {log}"
    );
}

async fn a_stopped_worker_s_job_is_fenced_before_the_api_counts_it_lost(backend: Backend) {
    let lease = Duration::from_secs(3);
    let (api, user, worker) = setup(&backend, ApiOptions::short_lease(lease)).await;
    let w = api.worker(&worker, &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "echo $$ > {}/child; while true; do echo tick; sleep 0.05; done",
        dir.path().display()
    );
    let job = api.submit(&user, &["sh", "-c", &script]).await;
    let pid = wait_for(WITHIN, || async { read_pid(&dir.path().join("child")) })
        .await
        .expect("the job started");
    // Frozen, the worker can neither heartbeat nor stop its job: only the
    // supervisor can.
    w.signal(Signal::SIGSTOP);
    let lost = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(lost.status, JobStatus::Failed);
    assert_eq!(lost.failure_reason.as_deref(), Some("worker lost"));
    // The supervisor kills the job as the lease expires; the api reaps the
    // job at that moment or later. Allow for a busy machine's scheduling.
    assert!(
        wait_gone(pid, Duration::from_secs(1)).await,
        "the job still ran when the api counted it lost"
    );
    let size = std::fs::metadata(api.log_path(job.id)).unwrap().len();
    let grew = wait_for(Duration::from_secs(1), || async {
        (std::fs::metadata(api.log_path(job.id)).unwrap().len() != size).then_some(())
    })
    .await;
    let log = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    assert!(grew.is_none(), "the log grew after the job was lost: {log}");
    assert!(
        log.contains("[jobctl] lease expiring: the worker has not renewed"),
        "the supervisor says why: {log}"
    );
    // Thawed, the worker learns what happened and carries on.
    w.signal(Signal::SIGCONT);
    let next = api.submit(&user, &["true"]).await;
    let next = api.wait_finished(&user, next.id, WITHIN).await;
    assert_eq!(next.status, JobStatus::Completed);
    let lost = api.job(&user, job.id).await;
    assert_eq!(lost.failure_reason.as_deref(), Some("worker lost"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_supervisor_shows_its_job_in_ps() {
    let (api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    let _w = api.worker(&worker, &[]);
    let dir = tempfile::tempdir().unwrap();
    let script = format!("echo $PPID > {}/parent; sleep 1000", dir.path().display());
    let job = api.submit(&user, &["sh", "-c", &script]).await;
    let supervisor = wait_for(WITHIN, || async { read_pid(&dir.path().join("parent")) })
        .await
        .expect("the job started");
    let short = &job.id.to_string()[..8];
    let cmdline = std::fs::read(format!("/proc/{supervisor}/cmdline")).unwrap();
    let argv: Vec<String> = cmdline
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert_eq!(argv[0], format!("jobctl job {short}"), "{argv:?}");
    assert!(
        argv.contains(&"sleep 1000".to_string()) || argv.iter().any(|a| a.contains("sleep 1000")),
        "{argv:?}"
    );
    let comm = std::fs::read_to_string(format!("/proc/{supervisor}/comm")).unwrap();
    assert_eq!(comm.trim_end(), format!("jobctl-{short}"));
    api.post(&format!("/jobs/{}/cancel", job.id), &user)
        .send()
        .await
        .unwrap();
    api.wait_finished(&user, job.id, WITHIN).await;
}

/// A directory that can be made unwritable: a read-only tmpfs as root
/// (where permission bits stop nothing), `chmod 555` otherwise.
enum Unwritable {
    Mount(common::Tmpfs),
    Chmod(std::path::PathBuf),
}

impl Unwritable {
    fn new(dir: &Path) -> Unwritable {
        std::fs::create_dir_all(dir).unwrap();
        if common::is_root() {
            Unwritable::Mount(common::Tmpfs::mount(dir, "4m"))
        } else {
            Unwritable::Chmod(dir.to_path_buf())
        }
    }

    fn set_writable(&self, writable: bool) {
        use std::os::unix::fs::PermissionsExt;
        match self {
            Unwritable::Mount(fs) => fs.set_read_only(!writable),
            Unwritable::Chmod(dir) => {
                let mode = if writable { 0o755 } else { 0o555 };
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
}

async fn a_worker_that_cannot_write_logs_hands_jobs_back_and_stops_claiming(backend: Backend) {
    let (api, user, worker) = setup(&backend, ApiOptions::default()).await;
    let broken_logs = api.dir.path().join("broken-logs");
    let fault = Unwritable::new(&broken_logs);
    fault.set_writable(false);
    let broken = common::ChildGuard::spawn_quiet(api.worker_command(
        &worker,
        &broken_logs,
        &["--name", "broken", "--metrics-listen", "127.0.0.1:0"],
    ));
    let mut jobs = Vec::new();
    for i in 0..6 {
        jobs.push(api.submit(&user, &sh(&format!("echo job {i}"))).await.id);
    }
    // The broken worker claims one job, cannot create its log, hands it
    // back, and claims nothing more: no job fails for it.
    let handed_back = wait_for(WITHIN, || async {
        jobs.iter()
            .find(|id| {
                std::fs::read_to_string(api.log_path(**id))
                    .is_ok_and(|l| l.contains("[jobctl] worker broken could not start the job"))
            })
            .copied()
    })
    .await
    .expect("the broken worker hands its job back");
    let log = std::fs::read_to_string(api.log_path(handed_back)).unwrap();
    assert!(
        log.contains("Read-only file system") || log.contains("Permission denied"),
        "says why: {log}"
    );
    // Its own /healthz says so too, and why.
    let healthz = {
        let out = broken.output();
        let addr = out
            .split("health at /healthz addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("the worker names its metrics address: {out}"))
            .to_string();
        format!("http://{addr}/healthz")
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let answer = http.get(&healthz).send().await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let text = answer.text().await.unwrap();
    assert!(
        text.contains("not claiming jobs: cannot create log file"),
        "{text}"
    );
    let healthy = api.worker(&worker, &["--name", "healthy"]);
    for id in &jobs {
        let job = api.wait_finished(&user, *id, WITHIN).await;
        assert_eq!(job.status, JobStatus::Completed, "{job:?}");
        assert_eq!(job.worker.as_deref(), Some("healthy"));
    }
    let hand_backs: usize = jobs
        .iter()
        .map(|id| {
            std::fs::read_to_string(api.log_path(*id))
                .unwrap()
                .matches("could not start the job")
                .count()
        })
        .sum();
    assert_eq!(hand_backs, 1, "the broken worker stopped claiming");
    let log = full_log(&api, &user, handed_back).await;
    let n: usize = jobs.iter().position(|id| *id == handed_back).unwrap();
    assert!(
        log.contains(&format!("job {n}\n[jobctl] finished: completed")),
        "the healthy worker appended to the same log: {log}"
    );

    // Once its logs dir is writable again, the broken worker claims again.
    let mut healthy = healthy;
    healthy.signal(Signal::SIGTERM);
    healthy.wait(WITHIN).expect("the healthy worker stops");
    fault.set_writable(true);
    let later = api.submit(&user, &["true"]).await;
    let later = api
        .wait_finished(&user, later.id, Duration::from_secs(60))
        .await;
    assert_eq!(later.status, JobStatus::Completed);
    assert_eq!(later.worker.as_deref(), Some("broken"));
    let answer = http.get(&healthz).send().await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::OK, "healthy again");
    drop(broken);
}

/// The parent pid of `pid`, from `/proc/PID/stat`.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn comm_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// Submits `echo $PPID > FILE; sleep 1000` and returns the job and its
/// supervisor's pid once it runs.
async fn sleeper(api: &TestApi, user: &str, dir: &Path, name: &str) -> (Job, i32) {
    let file = dir.join(name);
    let script = format!("echo $PPID > {}; sleep 1000", file.display());
    let job = api.submit(user, &["sh", "-c", &script]).await;
    let supervisor = wait_for(WITHIN, || async { read_pid(&file) })
        .await
        .expect("the job started");
    (job, supervisor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supervisors_are_forked_by_a_zygote_that_is_replaced_when_it_dies() {
    let (api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    let w = api.worker(&worker, &["--slots", "4"]);
    let dir = tempfile::tempdir().unwrap();
    let (first, supervisor) = sleeper(&api, &user, dir.path(), "first").await;
    let zygote = parent_of(supervisor).unwrap();
    assert_eq!(comm_of(zygote), "jobctl-zygote");
    assert_eq!(parent_of(zygote), Some(w.pid()), "the worker's child");
    let cmdline = std::fs::read(format!("/proc/{zygote}/cmdline")).unwrap();
    assert!(cmdline.starts_with(b"jobctl zygote\0__zygote\0"));

    // Its supervisor killed, a job ends at once and says why: the zygote
    // reaped it and told the worker how it died.
    let (lost, lost_supervisor) = sleeper(&api, &user, dir.path(), "lost").await;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(lost_supervisor), Signal::SIGKILL).unwrap();
    let lost = api.wait_finished(&user, lost.id, WITHIN).await;
    assert_eq!(lost.status, JobStatus::Failed, "{lost:?}");
    assert_eq!(
        lost.failure_reason.as_deref(),
        Some("job supervisor killed by signal 9")
    );

    // The zygote dies: running supervisors carry on, the next job gets a
    // new zygote.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(zygote), Signal::SIGKILL).unwrap();
    let next = api.submit(&user, &["sh", "-c", "exit 3"]).await;
    let next = api.wait_finished(&user, next.id, WITHIN).await;
    assert_eq!(next.status, JobStatus::Failed, "{next:?}");
    assert_eq!(next.exit_code, Some(3));
    let (third, supervisor) = sleeper(&api, &user, dir.path(), "third").await;
    let second_zygote = parent_of(supervisor).unwrap();
    assert_ne!(second_zygote, zygote);
    assert_eq!(comm_of(second_zygote), "jobctl-zygote");
    for job in [&first, &third] {
        api.post(&format!("/jobs/{}/cancel", job.id), &user)
            .send()
            .await
            .unwrap();
        let done = api.wait_finished(&user, job.id, WITHIN).await;
        assert_eq!(done.status, JobStatus::Cancelled, "{done:?}");
    }
    // When the worker goes, so does its zygote.
    drop(w);
    assert!(
        wait_gone(second_zygote, WITHIN).await,
        "the zygote outlived its worker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_zygote_the_worker_spawns_supervisors_itself() {
    let (api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    let mut command = api.worker_command(&worker, &api.logs_dir, &[]);
    command.env("JOBCTL_ZYGOTE", "off");
    let w = common::ChildGuard::spawn_quiet(command);
    let dir = tempfile::tempdir().unwrap();
    let (job, supervisor) = sleeper(&api, &user, dir.path(), "job").await;
    assert_eq!(parent_of(supervisor), Some(w.pid()));
    let short = &job.id.to_string()[..8];
    assert_eq!(comm_of(supervisor), format!("jobctl-{short}"));
    api.post(&format!("/jobs/{}/cancel", job.id), &user)
        .send()
        .await
        .unwrap();
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Cancelled, "{done:?}");
}

/// The live children of `pid` named `comm`.
fn children_named(pid: i32, comm: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&child| parent_of(child) == Some(pid) && comm_of(child) == comm)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_zygote_costs_one_hand_back_then_is_replaced() {
    let (api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    let w = api.worker(&worker, &[]);
    let first = api.submit(&user, &["true"]).await;
    let first = api.wait_finished(&user, first.id, WITHIN).await;
    assert_eq!(first.status, JobStatus::Completed);
    let zygotes = children_named(w.pid(), "jobctl-zygote");
    assert_eq!(zygotes.len(), 1, "{zygotes:?}");
    let zygote = nix::unistd::Pid::from_raw(zygotes[0]);
    nix::sys::signal::kill(zygote, Signal::SIGSTOP).unwrap();
    // The start times out (the 30 s filesystem timeout + 5 s), the job goes
    // back to the queue, and the next start gets a new zygote.
    let job = api.submit(&user, &["echo", "ran"]).await;
    let done = api
        .wait_finished(&user, job.id, Duration::from_secs(120))
        .await;
    let log = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    assert_eq!(done.status, JobStatus::Completed, "{done:?} {log}");
    assert!(
        log.contains("did not start the job supervisor in time"),
        "{log}"
    );
    assert!(log.contains("ran\n"), "{log}");
    assert!(
        wait_gone(zygote.as_raw(), WITHIN).await,
        "the hung zygote was not retired"
    );
    let now = children_named(w.pid(), "jobctl-zygote");
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0], zygote.as_raw());
}

/// A zygote that hangs while jobs it forked run does not hold up their
/// ends: each job is reported when it ends (the worker stops waiting to
/// hear that its supervisor was reaped), so a worker whose every slot is
/// such a job is not wedged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_end_and_are_reported_while_their_zygote_is_hung() {
    let (api, user, worker) = setup(&Backend::Sqlite, ApiOptions::default()).await;
    let w = api.worker(&worker, &["--slots", "1"]);
    let job = api
        .submit(&user, &["sh", "-c", "echo up; sleep 2; echo done"])
        .await;
    let path = api.log_path(job.id);
    let up = wait_for(WITHIN, || async {
        std::fs::read_to_string(&path)
            .is_ok_and(|log| log.contains("up\n"))
            .then_some(())
    })
    .await;
    assert!(up.is_some(), "the job never started");
    let zygotes = children_named(w.pid(), "jobctl-zygote");
    assert_eq!(zygotes.len(), 1, "{zygotes:?}");
    let zygote = nix::unistd::Pid::from_raw(zygotes[0]);
    // Killed when the test ends, whatever happens: stopped, it would never
    // see its worker go.
    struct KillOnDrop(nix::unistd::Pid);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(self.0, Signal::SIGKILL);
        }
    }
    let _zygote = KillOnDrop(zygote);
    nix::sys::signal::kill(zygote, Signal::SIGSTOP).unwrap();
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    let log = std::fs::read_to_string(&path).unwrap();
    assert_eq!(done.status, JobStatus::Completed, "{done:?} {log}");
    assert!(log.contains("done\n"), "{log}");
}

/// The supervisor alone, as the worker starts it: `jobctl __run-job
/// --control-fd 3 ARGS`, with the other end of the control socket returned,
/// its stdout and stderr on `output`, and SIGCHLD ignored when
/// `ignore_sigchld` (inherited, as from a parent that ignores it).
fn supervisor(
    args: &[&str],
    output: std::os::fd::OwnedFd,
    ignore_sigchld: bool,
) -> (common::ChildGuard, std::os::unix::net::UnixStream) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jobctl"));
    cmd.args(["__run-job", "--control-fd", "3"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(output.try_clone().unwrap()))
        .stderr(std::process::Stdio::from(output));
    // SAFETY: dup2 and signal are async-signal-safe; the child alone gets
    // the socket as fd 3 (without close-on-exec) and the disposition.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if ignore_sigchld {
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            }
            Ok(())
        });
    }
    // Not spawn_quiet: that would put its own pipes on stdout and stderr.
    let child = common::ChildGuard::spawn(cmd);
    drop(theirs);
    ours.set_read_timeout(Some(WITHIN)).unwrap();
    (child, ours)
}

/// Every control line the supervisor sends until it closes its end.
fn control_lines(control: std::os::unix::net::UnixStream) -> Vec<String> {
    use std::io::BufRead;
    std::io::BufReader::new(control)
        .lines()
        .map_while(Result::ok)
        .collect()
}

/// A supervisor that inherits SIGCHLD ignored (from a worker whose own
/// parent ignores it) still sees its job end: ignored, the kernel would reap
/// the job unseen and the end would never be reported.
#[test]
fn a_supervisor_started_with_sigchld_ignored_reports_its_job_s_end() {
    let log = tempfile::tempfile().unwrap();
    let (_supervisor, control) = supervisor(&["--", "sh", "-c", "exit 4"], log.into(), true);
    let lines = control_lines(control);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("started "), "{lines:?}");
    assert_eq!(lines[1], "exited 4");
}

/// A log that takes no writes (a hung network filesystem; here a pipe
/// nobody reads) holds up the copy of the job's output, not the fence: the
/// job is stopped as its lease runs out, and killed when the worker is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_takes_no_writes_holds_up_neither_the_fence_nor_the_kill() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    // More than a pipe holds, then a job that would run on.
    let script = format!(
        "echo $$ > {}; head -c 1000000 /dev/zero | tr '\\0' a; exec sleep 100",
        pid_file.display()
    );
    for fence in [true, false] {
        let (unread, log) = std::io::pipe().unwrap();
        let _ = std::fs::remove_file(&pid_file);
        let mut args = if fence {
            vec!["--lease-ms", "1500", "--kill-grace-ms", "300"]
        } else {
            vec![]
        };
        args.extend(["--redact-shapes", "--", "sh", "-c", &script]);
        let (_supervisor, control) = supervisor(&args, log.into(), false);
        let pid = wait_for(WITHIN, || async { read_pid(&pid_file) })
            .await
            .expect("the job started");
        // The log is full: the supervisor's copier is stuck writing to it
        // (or, on a slow machine, the fence has already done its work).
        wait_for(WITHIN, || async {
            (pipe_full(&unread) || (fence && !common::process_alive(pid))).then_some(())
        })
        .await
        .expect("the log fills up");
        if fence {
            assert!(
                wait_gone(pid, Duration::from_secs(5)).await,
                "the job ran on after its lease"
            );
        } else {
            // The worker goes away.
            drop(control);
            assert!(
                wait_gone(pid, Duration::from_secs(3)).await,
                "the job ran on after the worker was gone"
            );
        }
        drop(unread);
    }
}

/// Whether the pipe holds all it can (64 KiB, Linux's default size): its
/// writer blocks.
fn pipe_full(reader: &std::io::PipeReader) -> bool {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: FIONREAD writes the byte count into the int it is given.
    let ok = unsafe { libc::ioctl(reader.as_raw_fd(), libc::FIONREAD, &mut queued) } == 0;
    ok && queued >= 64 << 10
}
