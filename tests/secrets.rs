//! Write-only secrets, redaction before the disk and credentials out of the
//! jobs' reach (issue 13) — through the real api, real workers and real
//! jobs, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use std::path::Path;
use std::time::Duration;

use common::{Backend, ChildGuard, TestApi, wait_for};
use jobctl::domain::{JobId, JobStatus, Role};
use jobctl::protocol::{ClaimedJob, ErrorBody};
use serde_json::json;

backend_tests!(
    secrets_are_write_only_and_removed_when_the_job_ends,
    bad_secrets_are_refused_with_the_reason,
    submit_secret_reads_the_environment_and_the_job_gets_it,
    a_secret_printed_any_way_never_reaches_the_log,
    redaction_loses_no_output_and_can_be_turned_off,
    the_worker_counts_what_it_redacted,
    a_job_cannot_read_its_worker_s_token,
    run_as_owner_runs_each_job_as_its_owner,
);

const WITHIN: Duration = Duration::from_secs(30);

/// Two values no other text in a test contains.
const API_KEY: &str = "sk-live-4f9a8c2e7d1b";
const DB_PASSWORD: &str = "correct horse battery staple";

/// How many times `needle` occurs in the file (0 if it does not exist):
/// what `grep -c` on the database file and its WAL says.
fn occurrences_in_file(path: &Path, needle: &str) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 0;
    };
    bytes
        .windows(needle.len())
        .filter(|w| *w == needle.as_bytes())
        .count()
}

/// Every place a value could linger in the store once its job ended: the
/// SQLite file and its WAL, or PostgreSQL's `job_secrets` table.
async fn stored_secret_count(api: &TestApi, value: &str) -> usize {
    if let Some(path) = api.database_url.strip_prefix("sqlite://") {
        let db = Path::new(path);
        ["", "-wal", "-journal"]
            .iter()
            .map(|suffix| {
                let mut p = db.as_os_str().to_owned();
                p.push(suffix);
                occurrences_in_file(Path::new(&p), value)
            })
            .sum()
    } else {
        let pool = sqlx::PgPool::connect(&api.database_url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM job_secrets WHERE value = $1")
            .bind(value)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n as usize
    }
}

async fn claim(api: &TestApi, worker: &str) -> ClaimedJob {
    let resp = api
        .post("/workers/claim", worker)
        .json(&json!({"worker": "test-worker"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn secrets_are_write_only_and_removed_when_the_job_ends(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let admin = api.token("root", Role::Admin).await;
    let worker = api.token("w1", Role::Worker).await;
    let resp = api
        .post("/jobs", &user)
        .json(&json!({
            "command": ["true"],
            "env": {"PLAIN": "visible"},
            "secrets": {"DB_PASSWORD": DB_PASSWORD, "API_KEY": API_KEY},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains(API_KEY) && !text.contains(DB_PASSWORD),
        "{text}"
    );
    let job: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(job["secret_names"], json!(["API_KEY", "DB_PASSWORD"]));
    assert!(job.get("secrets").is_none(), "no secrets field: {job}");
    let id: JobId = job["id"].as_str().unwrap().parse().unwrap();

    // A second job, cancelled while pending: its secrets go too.
    let pending = api
        .submit_json(
            &user,
            json!({"command": ["true"], "secrets": {"OTHER": "pending-job-secret"}}),
        )
        .await;

    // No route a person can call shows a value.
    for (token, path) in [
        (&user, format!("/jobs/{id}")),
        (&admin, format!("/jobs/{id}")),
        (&user, "/jobs".to_string()),
        (&admin, "/jobs?limit=1000".to_string()),
        (&user, format!("/jobs/{id}/logs")),
        (&user, format!("/jobs/{id}/logs/download")),
    ] {
        let body = api
            .get(&path, token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !body.contains(API_KEY) && !body.contains(DB_PASSWORD),
            "{path} shows a secret: {body}"
        );
    }

    // The claiming worker, and only it, gets the values.
    let claimed = claim(&api, &worker).await;
    assert_eq!(claimed.job.id, id);
    assert_eq!(claimed.secrets.0["API_KEY"], API_KEY);
    assert_eq!(claimed.secrets.0["DB_PASSWORD"], DB_PASSWORD);
    assert!(
        !format!("{claimed:?}").contains(API_KEY),
        "Debug never prints a value"
    );
    let shown = api.job(&admin, id).await;
    assert_eq!(shown.status, JobStatus::Running);
    assert_eq!(shown.secret_names, vec!["API_KEY", "DB_PASSWORD"]);

    let cancelled = api
        .post(&format!("/jobs/{}/cancel", pending.id), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);

    let resp = api
        .post(&format!("/jobs/{id}/status"), &worker)
        .json(&json!({"lease_token": claimed.lease_token, "status": "completed", "exit_code": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ended = api.job(&user, id).await;
    assert_eq!(ended.status, JobStatus::Completed);
    assert_eq!(
        ended.secret_names,
        vec!["API_KEY", "DB_PASSWORD"],
        "the names stay for people to see"
    );
    assert!(
        api.store
            .claimed_secrets(id, &claimed.lease_token)
            .await
            .unwrap()
            .is_empty()
    );
    for value in [API_KEY, DB_PASSWORD, "pending-job-secret"] {
        let left = wait_for(WITHIN, || async {
            let n = stored_secret_count(&api, value).await;
            (n == 0).then_some(())
        })
        .await;
        assert!(
            left.is_some(),
            "{value:?} is still in the store after its job ended ({} copies)",
            stored_secret_count(&api, value).await
        );
    }
}

async fn bad_secrets_are_refused_with_the_reason(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    for (secrets, env, reason) in [
        (json!({"K": "12345"}), json!({}), "at least 6"),
        (
            json!({"1K": "long enough"}),
            json!({}),
            "invalid secret name",
        ),
        (json!({"K": "long\u{0}enough"}), json!({}), "NUL"),
        (json!({"K": "long enough"}), json!({"K": "v"}), "both"),
        (
            json!({"K": "é".repeat(16 * 1024 + 1)}),
            json!({}),
            "16385 characters long (at most 16384 allowed)",
        ),
    ] {
        let resp = api
            .post("/jobs", &user)
            .json(&json!({"command": ["true"], "secrets": secrets, "env": env}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: ErrorBody = resp.json().await.unwrap();
        assert_eq!(status, 400, "{secrets}");
        assert!(
            body.error.contains(reason),
            "{:?} should say {reason:?}",
            body.error
        );
        assert!(!body.error.contains("12345") && !body.error.contains("long enough"));
    }
    let short = api
        .post("/jobs", &user)
        .json(&json!({"command": ["true"], "secrets": {"K": "12345"}}))
        .send()
        .await
        .unwrap();
    let body: ErrorBody = short.json().await.unwrap();
    assert!(body.error.contains("redact"), "say why: {}", body.error);
}

/// `jobctl` pointed at `api` with `token`, nothing from this machine.
fn jobctl(api: &TestApi, token: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jobctl"));
    for var in [
        "JOBCTL_CONFIG",
        "JOBCTL_DATA_DIR",
        "JOBCTL_TOKEN_FILE",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", api.dir.path().join("home"))
        .env("NO_COLOR", "1")
        .env("JOBCTL_API_URL", &api.url)
        .env("JOBCTL_TOKEN", token);
    cmd
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

async fn submit_secret_reads_the_environment_and_the_job_gets_it(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;

    let missing = jobctl(&api, &user)
        .args(["submit", "--secret", "NOT_SET_ANYWHERE", "--", "true"])
        .env_remove("NOT_SET_ANYWHERE")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("NOT_SET_ANYWHERE") && err.contains("not set"),
        "{err}"
    );
    let inline = jobctl(&api, &user)
        .args([
            "submit",
            "--secret",
            &format!("API_KEY={API_KEY}"),
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(inline.status.code(), Some(2));
    let err = String::from_utf8_lossy(&inline.stderr);
    assert!(
        err.contains("never from the command line") && !err.contains(API_KEY),
        "{err}"
    );

    // The job proves it has the value without printing it.
    let out = jobctl(&api, &user)
        .args(["submit", "--secret", "API_KEY", "--", "sh", "-c"])
        .arg(r#"printf %s "$API_KEY" | sha256sum"#)
        .env("API_KEY", API_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: JobId = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _w = ChildGuard::spawn_quiet(api.worker_command(&worker, &api.logs_dir, &[]));
    let job = api.wait_finished(&user, id, WITHIN).await;
    assert_eq!(job.status, JobStatus::Completed, "{job:?}");
    let log = std::fs::read_to_string(api.log_path(id)).unwrap();
    assert!(log.contains(&sha256_hex(API_KEY)), "{log}");

    for args in [
        vec!["show".to_string(), id.to_string()],
        vec!["show".to_string(), "--json".to_string(), id.to_string()],
        vec!["list".to_string(), "--json".to_string()],
        vec!["list".to_string()],
        vec!["logs".to_string(), id.to_string()],
    ] {
        let out = jobctl(&api, &user).args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains(API_KEY), "{args:?} shows the value: {text}");
        if args[0] == "show" {
            assert!(
                text.contains("API_KEY"),
                "{args:?} names the secret: {text}"
            );
        }
    }
}

/// Prints its secret one character at a time with flushes and sleeps, in
/// the middle of a line, base64-encoded, on stderr, a token of a
/// well-known shape, and the secret again as the very last bytes, with no
/// newline.
const PRINTS_ITS_SECRET: &str = r#"
import base64, os, sys, time
v = os.environ["API_KEY"]
def slow(s):
    for c in s:
        sys.stdout.write(c); sys.stdout.flush(); time.sleep(0.003)
sys.stdout.write("start "); slow(v); sys.stdout.write(" middle\n")
print(base64.b64encode(v.encode()).decode(), flush=True)
sys.stderr.write("err " + v + "\n"); sys.stderr.flush()
print("gh" + "p_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", flush=True)
sys.stdout.write("last "); slow(v)
"#;

const REDACTED_OUTPUT: &str =
    "start [redacted] middle\n[redacted]\nerr [redacted]\n[redacted]\nlast [redacted]";

async fn a_secret_printed_any_way_never_reaches_the_log(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let _w = ChildGuard::spawn_quiet(api.worker_command(&worker, &api.logs_dir, &[]));
    let job = api
        .submit_json(
            &user,
            json!({
                "command": ["python3", "-c", PRINTS_ITS_SECRET],
                "secrets": {"API_KEY": API_KEY},
            }),
        )
        .await;
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    let file = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    let (output, closing) = file.split_once("\n[jobctl] ").unwrap();
    assert_eq!(output, REDACTED_OUTPUT);
    assert!(closing.starts_with("finished: completed"), "{closing}");
    let base64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(API_KEY)
    };
    for path in [
        format!("/jobs/{}/logs?offset=0", job.id),
        format!("/jobs/{}/logs", job.id),
        format!("/jobs/{}/logs/download", job.id),
        format!("/jobs/{}", job.id),
    ] {
        let body = api
            .get(&path, &user)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !body.contains(API_KEY) && !body.contains(&base64) && !body.contains("ghp_"),
            "{path}: {body}"
        );
    }
    let out = jobctl(&api, &user)
        .args(["logs", &job.id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.starts_with(REDACTED_OUTPUT), "{shown}");
}

async fn redaction_loses_no_output_and_can_be_turned_off(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    // Two million lines as fast as `seq` writes them: the pipe slows the
    // job, nothing is lost.
    let mut w = ChildGuard::spawn_quiet(api.worker_command(&worker, &api.logs_dir, &[]));
    let job = api.submit(&user, &["seq", "1", "2000000"]).await;
    let done = api
        .wait_finished(&user, job.id, Duration::from_secs(120))
        .await;
    assert_eq!(done.status, JobStatus::Completed);
    let expected: String = (1..=2_000_000).map(|i| format!("{i}\n")).collect();
    let log = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    let (output, _closing) = log.rsplit_once("[jobctl] ").unwrap();
    assert!(
        output == expected,
        "{} bytes, expected {}",
        output.len(),
        expected.len()
    );
    w.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(w.wait(WITHIN).is_some());

    // --redact off: the job's output goes to the file untouched.
    let _off =
        ChildGuard::spawn_quiet(api.worker_command(&worker, &api.logs_dir, &["--redact", "off"]));
    let token = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789";
    let job = api.submit(&user, &["echo", token]).await;
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed);
    let log = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    assert!(log.starts_with(&format!("{token}\n[jobctl] ")), "{log}");
}

async fn the_worker_counts_what_it_redacted(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let mut cmd = api.worker_command(&worker, &api.logs_dir, &["--metrics-listen", "127.0.0.1:0"]);
    cmd.env("NO_COLOR", "1").env_remove("JOBCTL_LOG");
    let w = ChildGuard::spawn_quiet(cmd);
    let metrics = wait_for(WITHIN, || {
        let output = w.output();
        async move {
            let line = output.lines().find(|l| l.contains("serving metrics"))?;
            let addr = line.split("addr=").nth(1)?.split_whitespace().next()?;
            Some(format!("http://{}/metrics", addr.trim_matches('"')))
        }
    })
    .await
    .unwrap_or_else(|| panic!("the worker logs its metrics address: {}", w.output()));
    let scrape = || async { reqwest::get(&metrics).await.unwrap().text().await.unwrap() };
    const SERIES: &str = "jobctl_worker_redactions_total";
    assert_eq!(common::metric_sample(&scrape().await, SERIES), 0.0);

    // The secret twice, apart: two markers, counted 2.
    let job = api
        .submit_json(
            &user,
            json!({
                "command": ["sh", "-c", "echo \"$API_KEY\"; echo \"once more: $API_KEY.\""],
                "secrets": {"API_KEY": API_KEY},
            }),
        )
        .await;
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    let log = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    assert!(
        log.starts_with("[redacted]\nonce more: [redacted].\n"),
        "{log}"
    );
    // Counted as the job ends, before its end is reported.
    let text = scrape().await;
    assert_eq!(common::metric_sample(&text, SERIES), 2.0, "{text}");

    // Nothing to redact: the count stays.
    let job = api.submit(&user, &["echo", "nothing secret"]).await;
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    let text = scrape().await;
    assert_eq!(common::metric_sample(&text, SERIES), 2.0, "{text}");
}

/// A worker whose token is in a private file and, as under systemd's
/// EnvironmentFile, in its environment too — never on its command line.
fn worker_with_token_file(api: &TestApi, token: &str, extra: &[&str]) -> ChildGuard {
    let file = api.dir.path().join("worker.token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jobctl"));
    cmd.arg("worker")
        .arg("--api-url")
        .arg(&api.url)
        .arg("--token-file")
        .arg(&file)
        .arg("--logs-dir")
        .arg(&api.logs_dir)
        .args(extra)
        .env_remove("JOBCTL_CONFIG")
        .env("JOBCTL_TOKEN", token)
        .env("JOBCTL_TOKEN_FILE", &file)
        .env("JOBCTL_DATA_DIR", api.dir.path().join("worker-data"))
        .stdin(std::process::Stdio::null());
    ChildGuard::spawn_quiet(cmd)
}

async fn a_job_cannot_read_its_worker_s_token(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    // Redaction off: what keeps the token out is the scrub, not the redactor.
    let w = worker_with_token_file(&api, &worker, &["--redact", "off"]);
    let pid = w.pid();
    // As root a job could read any process's environment; as the worker's
    // own user, a non-dumpable worker's environment is closed to it.
    let environ = if common::is_root() {
        String::new()
    } else {
        format!("cat /proc/{pid}/environ || echo worker-environ-denied; echo;")
    };
    let script = format!(
        "cat /proc/$PPID/environ; echo; cat /proc/{pid}/cmdline; echo; {environ} env; echo done"
    );
    let job = api.submit(&user, &["sh", "-c", &script]).await;
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    let log = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    assert!(
        log.contains("JOBCTL_JOB_ID=") && log.contains("--token-file"),
        "{log}"
    );
    assert!(
        !log.contains(&worker),
        "the job saw the worker's token: {log}"
    );
    for var in ["JOBCTL_TOKEN=", "JOBCTL_TOKEN_FILE="] {
        assert!(!log.contains(var), "{var} reached the job: {log}");
    }
    if !common::is_root() {
        assert!(log.contains("worker-environ-denied"), "{log}");
    }

    // Logs are private to their owner and group.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode(&api.log_path(job.id)) & 0o007,
        0,
        "no access for others"
    );
    assert_eq!(mode(&api.logs_dir) & 0o007, 0, "no access for others");
}

#[test]
fn token_files_readable_by_others_are_refused_and_token_on_the_command_line_warns() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "jobctl_x\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_jobctl"))
            .arg("worker")
            .args(args)
            .args(["--api-url", "http://127.0.0.1:9", "--startup-timeout", "1s"])
            .env_remove("JOBCTL_TOKEN")
            .env_remove("JOBCTL_TOKEN_FILE")
            .env_remove("JOBCTL_CONFIG")
            .env("JOBCTL_DATA_DIR", dir.path())
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["--token-file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("readable by everyone") && err.contains("chmod 600"),
        "{err}"
    );

    let out = run(&["--token", "jobctl_not_a_real_token"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--token-file"), "warns: {err}");
    assert!(!out.status.success());
}

/// Local accounts made for one test, removed when it ends however it ends.
struct Accounts(Vec<String>);

impl Accounts {
    fn create(names: &[String]) -> Accounts {
        let mut made = Accounts(Vec::new());
        for name in names {
            let status = std::process::Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/sh", name])
                .status()
                .expect("useradd runs");
            assert!(status.success(), "useradd {name}");
            made.0.push(name.clone());
        }
        made
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = std::process::Command::new("userdel").arg(name).status();
        }
    }
}

fn uid_of(name: &str) -> u32 {
    nix::unistd::User::from_name(name)
        .unwrap()
        .unwrap()
        .uid
        .as_raw()
}

async fn run_as_owner_runs_each_job_as_its_owner(backend: Backend) {
    if !common::is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root: --run-as-owner must be tested there"
        );
        eprintln!("SKIPPED: --run-as-owner needs root (useradd, setuid)");
        return;
    }
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let names = [format!("jca{tag}"), format!("jcb{tag}")];
    let _accounts = Accounts::create(&names);
    let api = TestApi::start(&backend).await;
    let worker = api.token("w1", Role::Worker).await;
    let alice = api.token(&names[0], Role::User).await;
    let bob = api.token(&names[1], Role::User).await;
    let nobody = api.token("no-such-account-here", Role::User).await;
    let _w = ChildGuard::spawn_quiet(api.worker_command(
        &worker,
        &api.logs_dir,
        &["--run-as-owner", "--slots", "2"],
    ));

    let a = api
        .submit(
            &alice,
            &[
                "sh",
                "-c",
                "id -u; echo HOME=$HOME USER=$USER; echo secret-of-a",
            ],
        )
        .await;
    let a_done = api.wait_finished(&alice, a.id, WITHIN).await;
    assert_eq!(a_done.status, JobStatus::Completed, "{a_done:?}");
    let a_log = api.log_path(a.id);
    let script = format!(
        "id -u; cat {} && echo READ-IT || echo cannot-read",
        a_log.display()
    );
    let b = api.submit(&bob, &["sh", "-c", &script]).await;
    let b_done = api.wait_finished(&bob, b.id, WITHIN).await;
    assert_eq!(b_done.status, JobStatus::Completed, "{b_done:?}");

    let a_text = std::fs::read_to_string(&a_log).unwrap();
    assert!(
        a_text.starts_with(&format!("{}\n", uid_of(&names[0]))),
        "{a_text}"
    );
    assert!(a_text.contains(&format!("USER={}", names[0])), "{a_text}");
    let b_text = std::fs::read_to_string(api.log_path(b.id)).unwrap();
    assert!(
        b_text.starts_with(&format!("{}\n", uid_of(&names[1]))),
        "{b_text}"
    );
    assert!(
        b_text.contains("cannot-read") && !b_text.contains("secret-of-a"),
        "{b_text}"
    );
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&a_log).unwrap();
    assert_eq!(meta.uid(), uid_of(&names[0]), "the owner owns the log");
    assert_eq!(meta.mode() & 0o007, 0, "others cannot read it");

    let c = api.submit(&nobody, &["true"]).await;
    let c_done = api.wait_finished(&nobody, c.id, WITHIN).await;
    assert_eq!(c_done.status, JobStatus::Failed);
    assert_eq!(
        c_done.failure_reason.as_deref(),
        Some("could not start: no local account \"no-such-account-here\"")
    );
}

#[test]
fn run_as_owner_is_refused_without_root() {
    if common::is_root() {
        eprintln!("SKIPPED: runs as root, so --run-as-owner is allowed here");
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jobctl"))
        .args([
            "worker",
            "--run-as-owner",
            "--token",
            "x",
            "--api-url",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs the worker to run as root"));
}
