//! The client commands through the real binary (assert_cmd) against a real
//! api and worker: submit, list, show, cancel, logs --follow, tokens, and
//! `jobctl up` with no set-up at all.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use common::{Backend, ChildGuard, TestApi, wait_for};
use jobctl::domain::{JobId, JobStatus, Role};
use jobctl::protocol::{Job, JobList};
use nix::sys::signal::Signal;

const WITHIN: Duration = Duration::from_secs(60);

/// `jobctl` with a clean environment pointed at `api`.
fn jobctl(api: &TestApi, token: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    isolate(&mut cmd, api.dir.path());
    cmd.env("JOBCTL_API_URL", &api.url)
        .env("JOBCTL_TOKEN", token);
    cmd
}

/// No config file, data dir or token from the machine running the tests.
fn isolate(cmd: &mut Command, home: &std::path::Path) {
    for var in [
        "JOBCTL_API_URL",
        "JOBCTL_TOKEN",
        "JOBCTL_CONFIG",
        "JOBCTL_DATA_DIR",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home.join("home")).env("NO_COLOR", "1");
}

fn std_jobctl(api: &TestApi, token: &str) -> StdCommand {
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_jobctl"));
    for var in [
        "JOBCTL_CONFIG",
        "JOBCTL_DATA_DIR",
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

async fn setup() -> (TestApi, String, String) {
    let api = TestApi::start(&Backend::Sqlite).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    (api, user, worker)
}

fn submit(api: &TestApi, token: &str, args: &[&str]) -> JobId {
    let out = jobctl(api, token)
        .arg("submit")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.ends_with('\n') && stdout.lines().count() == 1,
        "the id alone: {stdout:?}"
    );
    JobId::parse(stdout.trim()).unwrap()
}

/// What the job wrote, without the worker's own `[jobctl]` lines.
fn job_output(log: &str) -> String {
    log.lines()
        .filter(|l| !l.starts_with("[jobctl]"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follow_prints_every_byte_once_even_in_bursts() {
    let (api, user, worker) = setup().await;
    let _w = api.worker(&worker, &[]);
    let script = "i=1; while [ $i -le 5000 ]; do echo \"line $i of 5000\"; \
                  if [ $((i % 1000)) -eq 0 ]; then sleep 0.5; fi; i=$((i+1)); done";
    let id = submit(&api, &user, &["--", "sh", "-c", script]);
    let out = jobctl(&api, &user)
        .args(["logs", &id.to_string(), "--follow", "--interval", "200ms"])
        .timeout(WITHIN)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let expected: String = (1..=5000).map(|i| format!("line {i} of 5000\n")).collect();
    assert!(
        job_output(&stdout) == expected,
        "follow output differs from the job's output ({} vs {} bytes)",
        stdout.len(),
        expected.len()
    );
    let file = std::fs::read_to_string(api.log_path(id)).unwrap();
    assert_eq!(stdout, file, "exactly the log file, byte for byte");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submit_follow_waits_for_a_pending_job_then_exits_with_its_status() {
    let (api, user, worker) = setup().await;
    let mut follow = std_jobctl(&api, &user)
        .args([
            "submit",
            "--follow",
            "--interval",
            "200ms",
            "--",
            "sh",
            "-c",
        ])
        .arg("echo hello from the job; exit 3")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // No worker yet: the job stays pending and follow keeps waiting.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        follow.try_wait().unwrap().is_none(),
        "follow waits for a pending job"
    );
    let _w = api.worker(&worker, &[]);
    let out = tokio::task::spawn_blocking(move || follow.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a failed job exits 1");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("hello from the job\n"), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("submitted job"),
        "the id goes to stderr: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follow_survives_an_api_restart() {
    let (mut api, user, worker) = setup().await;
    let _w = api.worker(&worker, &[]);
    let id = submit(
        &api,
        &user,
        &[
            "--",
            "sh",
            "-c",
            "for i in $(seq 1 30); do echo tick $i; sleep 0.1; done",
        ],
    );
    let mut follow = std_jobctl(&api, &user)
        .args(["logs", &id.to_string(), "--follow", "--interval", "200ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stop the api once following is under way: the first tick is printed.
    let mut reader = BufReader::new(follow.stdout.take().unwrap());
    let mut first = String::new();
    let reader = tokio::task::spawn_blocking(move || {
        reader.read_line(&mut first).unwrap();
        (reader, first)
    })
    .await
    .unwrap();
    assert_eq!(reader.1, "tick 1\n");
    api.stop().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    api.restart().await;
    let (mut reader, first) = reader;
    let out = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        (follow.wait_with_output().unwrap(), first + &rest)
    })
    .await
    .unwrap();
    let (out, stdout) = out;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: String = (1..=30).map(|i| format!("tick {i}\n")).collect();
    assert_eq!(
        job_output(&stdout),
        expected,
        "nothing lost, nothing doubled"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cannot reach the API"),
        "the outage is reported: {stderr}"
    );
    assert!(stderr.contains("answers again"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follow_exit_status_says_how_the_job_ended() {
    let (api, user, worker) = setup().await;
    let _w = api.worker(&worker, &["--slots", "3"]);
    let ok = submit(&api, &user, &["--", "true"]);
    let failed = submit(&api, &user, &["--", "false"]);
    let slow = submit(&api, &user, &["--", "sleep", "1000"]);
    for (id, code) in [(ok, 0), (failed, 1)] {
        jobctl(&api, &user)
            .args(["logs", &id.to_string(), "-f", "--interval", "100ms"])
            .timeout(WITHIN)
            .assert()
            .code(code);
    }
    let mut follow = std_jobctl(&api, &user);
    follow
        .args(["logs", &slow.to_string(), "-f", "--interval", "100ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut follow = ChildGuard::spawn(follow);
    wait_for(WITHIN, || async {
        (api.job(&user, slow).await.status == JobStatus::Running).then_some(())
    })
    .await
    .unwrap();
    jobctl(&api, &user)
        .args(["cancel", &slow.to_string()[..8]])
        .assert()
        .success();
    let status = follow.wait(WITHIN).expect("follow ends with the job");
    assert_eq!(status.code(), Some(3), "a cancelled job exits 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_stops_following_but_not_the_job() {
    let (api, user, worker) = setup().await;
    let _w = api.worker(&worker, &[]);
    let id = submit(&api, &user, &["--", "sh", "-c", "echo up; sleep 1000"]);
    let mut follow = std_jobctl(&api, &user)
        .args(["logs", &id.to_string(), "-f", "--interval", "100ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(follow.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "up\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(follow.id() as i32),
        Signal::SIGINT,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || follow.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(
        api.job(&user, id).await.status,
        JobStatus::Running,
        "the job goes on"
    );
    jobctl(&api, &user)
        .args(["cancel", &id.to_string()])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closed_pipe_ends_logs_quietly() {
    let (api, user, worker) = setup().await;
    let _w = api.worker(&worker, &[]);
    let id = submit(&api, &user, &["--", "seq", "1", "200000"]);
    api.wait_finished(&user, id, WITHIN).await;
    let mut logs = std_jobctl(&api, &user)
        .args(["logs", &id.to_string(), "--tail", "10000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    logs.stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(logs.stdout.take()); // like `| head -c 10`
    let out = tokio::task::spawn_blocking(move || logs.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "no error on a closed pipe"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ids_resolve_from_unique_prefixes() {
    let (api, user, _) = setup().await;
    let id = submit(&api, &user, &["--name", "first", "--", "true"]);
    let full = id.to_string();
    for given in [&full[..4], &full[..8], &full.to_uppercase(), &full] {
        let out = jobctl(&api, &user)
            .args(["show", given, "--json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{given}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let job: Job = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(job.id, id);
    }
    // Two jobs sharing a prefix, planted straight in the database.
    let pool = sqlx::SqlitePool::connect(&api.database_url).await.unwrap();
    for suffix in ["1111", "2222"] {
        sqlx::query(
            "INSERT INTO jobs (id, owner, command, status, created_at) \
             VALUES (?1, 'alice', '[\"true\"]', 'completed', 0)",
        )
        .bind(format!("abcd{suffix}-0000-4000-8000-000000000000"))
        .execute(&pool)
        .await
        .unwrap();
    }
    let out = jobctl(&api, &user).args(["show", "abcd"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ambiguous"), "{stderr}");
    assert!(
        stderr.contains("abcd1111-") && stderr.contains("abcd2222-"),
        "lists the candidates: {stderr}"
    );
    jobctl(&api, &user)
        .args(["show", "abcd1"])
        .assert()
        .success();
    for (bad, says) in [
        ("ffff0000", "no job with an id starting with"),
        ("abc", "at least 4"),
        ("zzzz", "invalid job id"),
        ("00000000-0000-4000-8000-000000000000", "no job"),
    ] {
        let out = jobctl(&api, &user).args(["logs", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{bad}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn json_output_carries_every_field() {
    let (api, user, worker) = setup().await;
    let _w = api.worker(&worker, &[]);
    let id = submit(
        &api,
        &user,
        &[
            "--name",
            "train",
            "--timeout",
            "2h",
            "--env",
            "SEED=7",
            "--",
            "echo",
            "hi",
        ],
    );
    api.wait_finished(&user, id, WITHIN).await;
    let out = jobctl(&api, &user)
        .args(["show", &id.to_string(), "--json"])
        .output()
        .unwrap();
    let raw: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "id",
        "name",
        "owner",
        "command",
        "cwd",
        "env",
        "timeout_seconds",
        "status",
        "exit_code",
        "failure_reason",
        "worker",
        "created_at",
        "started_at",
        "finished_at",
    ] {
        assert!(raw.get(field).is_some(), "show --json lacks {field}");
    }
    let job: Job = serde_json::from_value(raw).unwrap();
    assert_eq!(job.timeout_seconds, Some(7200));
    assert_eq!(job.env["SEED"], "7");
    assert_eq!(job.status, JobStatus::Completed);
    assert!(job.cwd.is_some(), "the current directory by default");
    let out = jobctl(&api, &user)
        .args(["list", "--json"])
        .output()
        .unwrap();
    let list: JobList = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.jobs.len(), 1);
    assert_eq!(list.jobs[0], job);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_and_show_escape_control_characters() {
    let (api, user, _) = setup().await;
    let admin = api.token("root", Role::Admin).await;
    let id = submit(
        &api,
        &user,
        &["--name", "evil\u{1b}[31mred\nname", "--", "true"],
    );
    let out = jobctl(&api, &user).arg("list").output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains('\u{1b}'),
        "no raw escape reaches the terminal: {stdout:?}"
    );
    assert!(stdout.contains("evil\\u{1b}[31mred\\nname"), "{stdout}");
    assert!(stdout.contains(&id.to_string()[..8]));
    let out = jobctl(&api, &user)
        .args(["show", &id.to_string()])
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stdout).unwrap().contains('\u{1b}'));
    // Admins see owners with --all; without it, their own jobs only.
    let out = jobctl(&api, &admin)
        .args(["list", "--all"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("OWNER") && stdout.contains("alice"),
        "{stdout}"
    );
    let out = jobctl(&api, &admin).arg("list").output().unwrap();
    assert!(!String::from_utf8(out.stdout).unwrap().contains("alice"));
    // A user's --all is refused, saying why, rather than silently narrowed.
    let out = jobctl(&api, &user)
        .args(["list", "--all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--all needs an admin token"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn errors_say_what_to_do() {
    let (api, user, _) = setup().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    isolate(&mut cmd, api.dir.path());
    let out = cmd
        .args(["list"])
        .env("JOBCTL_API_URL", &api.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no token: set JOBCTL_TOKEN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = jobctl(&api, &user)
        .env("JOBCTL_API_URL", "http://127.0.0.1:9")
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the API at http://127.0.0.1:9")
            && stderr.contains("connection refused")
            && stderr.contains("is `jobctl api` running there?"),
        "{stderr}"
    );
    let out = jobctl(&api, "jobctl_000000000000_00")
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the token"));
    let out = jobctl(&api, &user)
        .args(["submit", "--timeout", "soon", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

/// With the api down, the message names the address tried and the command
/// that starts the api in this set-up: `jobctl up` where `up` wrote the
/// address, either way when nothing is configured.
#[test]
fn an_unreachable_api_names_the_command_that_starts_it_here() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let run = |data_dir: Option<&std::path::Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
        isolate(&mut cmd, dir.path());
        cmd.env("JOBCTL_TOKEN", "jobctl_000000000000_00");
        if let Some(d) = data_dir {
            cmd.env("JOBCTL_DATA_DIR", d);
        }
        let out = cmd.arg("list").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A data dir where `jobctl up` once wrote its (now dead) address.
    std::fs::write(data.join("api-url"), "http://127.0.0.1:9\n").unwrap();
    let stderr = run(Some(&data));
    assert!(
        stderr.contains("cannot reach the API at http://127.0.0.1:9")
            && stderr.contains("Start it with `jobctl up`"),
        "{stderr}"
    );
    // Nothing configured at all: the default address, and both ways out.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let stderr = run(Some(&empty));
    assert!(
        stderr.contains("cannot reach the API at http://127.0.0.1:8765")
            && stderr.contains("`jobctl up`")
            && stderr.contains("--api-url"),
        "{stderr}"
    );
}

#[test]
fn tokens_are_created_listed_and_revoked_on_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
        isolate(&mut cmd, dir.path());
        cmd.arg("token")
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["create", "--name", "alice", "--role", "user"]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("jobctl.db"),
        "says which database it wrote to"
    );
    // The storage flags also work after the action, as DESIGN.md writes them.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    isolate(&mut cmd, dir.path());
    let db = format!("sqlite://{}/jobctl.db", dir.path().display());
    let out = cmd
        .args([
            "token",
            "create",
            "--name",
            "bob",
            "--role",
            "worker",
            "--database",
            &db,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(
        token.starts_with("jobctl_") && token.lines().count() == 1,
        "{token:?}"
    );
    let dup = run(&["create", "--name", "alice", "--role", "admin"]);
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let out = run(&["list"]);
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(listed.contains("alice") && listed.contains("user"));
    assert!(!listed.contains(token.trim()), "never the secret");
    assert!(listed.contains("bob") && listed.contains("worker"));
    assert!(run(&["revoke", "alice"]).status.success());
    assert!(run(&["revoke", "bob"]).status.success());
    assert_eq!(run(&["revoke", "alice"]).status.code(), Some(2));
    let out = run(&["list", "--json"]);
    let tokens: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(tokens.is_empty());
}

/// `jobctl up` on free ports with `home` as `$HOME` and `data` as its data
/// dir, and none of this shell's client settings.
fn up_command(home: &std::path::Path, data: &std::path::Path) -> StdCommand {
    let mut up = StdCommand::new(env!("CARGO_BIN_EXE_jobctl"));
    for var in [
        "JOBCTL_API_URL",
        "JOBCTL_TOKEN",
        "JOBCTL_CONFIG",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
    ] {
        up.env_remove(var);
    }
    up.env("HOME", home)
        .env("JOBCTL_DATA_DIR", data)
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--web-listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    up
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_up_client_commands_need_no_setup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = up_command(dir.path(), &data);
    let mut up = ChildGuard::spawn(up);
    let mut banner = String::new();
    let mut stdout = BufReader::new(up.child.as_mut().unwrap().stdout.take().unwrap());
    while !banner.contains("Stop with Ctrl-C") {
        assert!(
            stdout.read_line(&mut banner).unwrap() > 0,
            "up exited: {banner}"
        );
    }
    assert!(
        banner.contains("API:") && banner.contains("admin.token"),
        "{banner}"
    );
    let token_file = data.join("admin.token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let client = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
        isolate(&mut cmd, dir.path());
        cmd.env("HOME", dir.path()).env("JOBCTL_DATA_DIR", &data);
        cmd
    };
    let out = client()
        .args(["submit", "--", "echo", "hello"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap();
    let out = client()
        .args(["logs", id.trim(), "--follow", "--interval", "200ms"])
        .timeout(WITHIN)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("hello\n")
    );

    up.signal(Signal::SIGTERM);
    let status = up
        .wait(Duration::from_secs(30))
        .expect("up stops on SIGTERM");
    assert!(status.success());
    // A second start reuses the tokens.
    let token_before = std::fs::read_to_string(&token_file).unwrap();
    let again = up_command(dir.path(), &data);
    let mut again = ChildGuard::spawn(again);
    let mut line = String::new();
    let mut stdout = BufReader::new(again.child.as_mut().unwrap().stdout.take().unwrap());
    while !line.contains("API:") {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0);
    }
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), token_before);
}

#[test]
fn completions_print_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(env!("CARGO_BIN_EXE_jobctl"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("jobctl") && text.contains("submit"),
            "{shell}"
        );
    }
}

#[test]
fn help_lists_every_subcommand() {
    let out = Command::new(env!("CARGO_BIN_EXE_jobctl"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "api",
        "worker",
        "web",
        "up",
        "submit",
        "list",
        "show",
        "cancel",
        "logs",
        "token",
        "completions",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "--help lacks {sub}: {help}"
        );
    }
    assert!(!help.contains("__run-job"), "the supervisor stays hidden");
    assert!(
        !help.contains("__redact"),
        "the Slurm output filter stays hidden"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_with_a_bad_token_or_no_api_exits_non_zero_saying_why() {
    let (api, user, _) = setup().await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    isolate(&mut cmd, api.dir.path());
    let out = cmd
        .args(["worker", "--api-url", &api.url, "--token", &user])
        .arg("--logs-dir")
        .arg(&api.logs_dir)
        .timeout(WITHIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refused the worker token"), "{stderr}");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    isolate(&mut cmd, api.dir.path());
    let out = cmd
        .args([
            "worker",
            "--api-url",
            "http://127.0.0.1:9",
            "--token",
            "x",
            "--startup-timeout",
            "1s",
        ])
        .arg("--logs-dir")
        .arg(&api.logs_dir)
        .timeout(WITHIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot reach the API at http://127.0.0.1:9")
            && stderr.contains("--api-url"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_pages_through_more_jobs_than_one_answer_holds() {
    let (api, user, _worker) = setup().await;
    // 1 005 jobs, more than the API's largest page, written straight into
    // the database (newest: job 1005).
    let pool = sqlx::SqlitePool::connect(&api.database_url).await.unwrap();
    sqlx::raw_sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1005) \
         INSERT INTO jobs (id, name, owner, command, status, created_at) \
         SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'job ' || i, 'alice', \
                '[\"true\"]', CASE i % 2 WHEN 0 THEN 'completed' ELSE 'failed' END, \
                1700000000000000 + i * 1000 \
         FROM n",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let list_json = |args: &[&str]| {
        let out = jobctl(&api, &user)
            .arg("list")
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<JobList>(&out.stdout).unwrap()
    };

    let all = list_json(&["--all-pages"]);
    assert_eq!(all.jobs.len(), 1005);
    assert!(all.next_cursor.is_none());
    let names: std::collections::HashSet<_> =
        all.jobs.iter().map(|j| j.name.clone().unwrap()).collect();
    assert_eq!(names.len(), 1005, "each job once");
    assert_eq!(
        all.jobs[0].name.as_deref(),
        Some("job 1005"),
        "newest first"
    );

    let some = list_json(&["--limit", "1003"]);
    assert_eq!(some.jobs.len(), 1003);
    let cursor = some.next_cursor.expect("two jobs remain");
    let rest = list_json(&["--cursor", &cursor]);
    assert_eq!(
        rest.jobs
            .iter()
            .map(|j| j.name.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["job 2", "job 1"]
    );
    assert!(rest.next_cursor.is_none());

    let failed = list_json(&["--status", "failed,running", "--all-pages"]);
    assert_eq!(failed.jobs.len(), 503);
    let repeated = list_json(&[
        "--status", "failed", "--status", "running", "--limit", "5000",
    ]);
    assert_eq!(repeated.jobs.len(), 503);
    let found = list_json(&["--search", "JOB 100"]);
    assert_eq!(found.jobs.len(), 7, "job 100 and 1000..=1005");

    // The table says how to go on when more jobs match.
    let out = jobctl(&api, &user)
        .args(["list", "--limit", "2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 3, "a header and two jobs: {stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("--cursor ") && stderr.contains("--all-pages"),
        "{stderr}"
    );
    let out = jobctl(&api, &user)
        .args(["list", "--limit", "2", "--all-pages"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "--limit and --all-pages conflict");
    let out = jobctl(&api, &user)
        .args(["list", "--cursor", "bogus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid cursor"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gpus_and_cpus_are_asked_for_shown_and_found_by_gpus_auto() {
    let (api, user, worker) = setup().await;
    // Out of bounds: refused by the CLI, nothing submitted.
    let out = jobctl(&api, &user)
        .args(["submit", "--gpus", "65", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--gpus"));

    let id = submit(
        &api,
        &user,
        &[
            "--gpus",
            "2",
            "--cpus",
            "3",
            "--",
            "sh",
            "-c",
            "echo \"[$CUDA_VISIBLE_DEVICES]\"",
        ],
    );
    let show = jobctl(&api, &user)
        .args(["show", &id.to_string()])
        .output()
        .unwrap();
    let show = String::from_utf8(show.stdout).unwrap();
    for line in [
        "gpus            2",
        "cpus            3",
        "gpu_ids         -",
    ] {
        let (key, value) = line.split_once(' ').unwrap();
        assert!(
            show.lines()
                .any(|l| l.starts_with(key) && l[key.len()..].trim() == value.trim()),
            "{line:?} in {show}"
        );
    }
    let list = jobctl(&api, &user).arg("list").output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.lines().next().unwrap().contains("GPUS"), "{list}");

    // `--gpus auto` without a driver: a clear error, no worker.
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobctl"));
    isolate(&mut cmd, api.dir.path());
    let out = cmd
        .args([
            "worker",
            "--api-url",
            &api.url,
            "--token",
            &worker,
            "--gpus",
            "auto",
        ])
        .arg("--logs-dir")
        .arg(&api.logs_dir)
        .env("PATH", empty.path())
        .timeout(WITHIN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nvidia-smi") && stderr.contains("--gpus"),
        "{stderr}"
    );

    // With a driver (a recorded `nvidia-smi -L` of two GPUs): the job gets both.
    let bin = tempfile::tempdir().unwrap();
    let smi = bin.path().join("nvidia-smi");
    std::fs::write(
        &smi,
        "#!/bin/sh\n[ \"$1\" = -L ] || exit 9\n\
         echo 'GPU 0: NVIDIA L4 (UUID: GPU-1b2c3d4e-0000-0000-0000-000000000000)'\n\
         echo 'GPU 1: NVIDIA L4 (UUID: GPU-1b2c3d4e-0000-0000-0000-000000000001)'\n",
    )
    .unwrap();
    std::fs::set_permissions(&smi, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = api.worker_command(&worker, &api.logs_dir, &["--gpus", "auto", "--cpus", "4"]);
    cmd.env("PATH", path);
    let _w = ChildGuard::spawn_quiet(cmd);
    let done = api.wait_finished(&user, id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(done.gpu_ids, Some(vec!["0".to_string(), "1".to_string()]));
    let log = std::fs::read_to_string(api.log_path(id)).unwrap();
    assert!(log.starts_with("[0,1]\n"), "{log}");
}

/// `jobctl __redact`, the output filter of Slurm batch scripts: redacts
/// however its input is split, and outlives a SIGTERM (a cancel reaches
/// every process of a Slurm job) to write the job's last bytes.
#[test]
fn the_slurm_output_filter_redacts_and_outlives_sigterm() {
    use std::io::Write;
    let value = "filter-Secret-9876";
    let shaped = format!("glpat-{}", "x1Y2z3".repeat(4));
    let mut child = StdCommand::new(env!("CARGO_BIN_EXE_jobctl"))
        .args(["__redact", "--shapes", "--secret", "JOB_SECRET"])
        .env("JOB_SECRET", value)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"one filter-Sec").unwrap();
    stdin.flush().unwrap();
    // The bytes that cannot begin a secret are released at once: once they
    // are out, the filter runs (it sets its signal dispositions first).
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"one ");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGTERM,
    )
    .unwrap();
    stdin
        .write_all(format!("ret-9876 two {shaped}\nlast {value}").as_bytes())
        .unwrap();
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(rest, "[redacted] two [redacted]\nlast [redacted]");
}
