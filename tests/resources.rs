//! GPUs and CPUs (issue 15) with real worker processes and fake device ids:
//! jobs get their own devices, never shared, given back however they end;
//! a big job is not starved by small ones; workers take only what fits —
//! on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::{ApiOptions, Backend, TestApi, wait_for};
use jobctl::domain::{JobId, JobStatus, Role};
use jobctl::protocol::Job;
use serde_json::json;

backend_tests!(
    one_gpu_jobs_never_share_a_device_and_at_most_four_run,
    each_job_sees_exactly_its_devices,
    cpus_limit_what_runs_at_once,
    a_big_job_is_not_starved_by_a_stream_of_small_ones,
    cancelled_timed_out_and_unstartable_jobs_give_their_devices_back,
    two_workers_with_different_gpus_take_only_what_fits,
    bad_resource_requests_are_refused,
    a_job_no_live_worker_fits_says_so_and_starts_when_one_joins,
    one_batch_claim_hands_out_what_fits_together,
    a_worker_claims_and_reports_one_at_a_time_from_an_api_without_batches,
);

const WITHIN: Duration = Duration::from_secs(60);

async fn setup(backend: &Backend) -> (TestApi, String, String) {
    let api = TestApi::start_with(backend, ApiOptions::default()).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    (api, user, worker)
}

async fn submit(api: &TestApi, user: &str, gpus: u32, cpus: u32, script: &str) -> Job {
    api.submit_json(
        user,
        json!({ "command": ["sh", "-c", script], "gpus": gpus, "cpus": cpus }),
    )
    .await
}

async fn log(api: &TestApi, user: &str, id: JobId) -> String {
    let chunk: jobctl::protocol::LogChunk = api
        .get(&format!("/jobs/{id}/logs?offset=0"), user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    chunk.logs
}

async fn wait_status(api: &TestApi, token: &str, id: JobId, status: JobStatus) -> Job {
    wait_for(WITHIN, || async {
        let job = api.job(token, id).await;
        (job.status == status).then_some(job)
    })
    .await
    .unwrap_or_else(|| panic!("job {id} never became {status}"))
}

/// A job that prints when it started (ns), its devices, and when it ends.
const TIMED: &str = "echo \"start $(date +%s%N) [$CUDA_VISIBLE_DEVICES] [$JOBCTL_GPUS]\"; \
                     sleep 1.5; echo \"end $(date +%s%N)\"";

/// What a [`TIMED`] job printed: its process's life and its devices.
#[derive(Debug)]
struct Run {
    start: u128,
    end: u128,
    devices: Vec<String>,
}

fn parse_run(id: JobId, text: &str) -> Run {
    let mut start = None;
    let mut end = None;
    let mut devices = Vec::new();
    for line in text.lines() {
        let mut words = line.split(' ');
        match words.next() {
            Some("start") => {
                start = words.next().map(|t| t.parse().unwrap());
                let cuda = words.next().unwrap().trim_matches(['[', ']']);
                let jobctl = words.next().unwrap().trim_matches(['[', ']']);
                assert_eq!(cuda, jobctl, "job {id}: JOBCTL_GPUS = CUDA_VISIBLE_DEVICES");
                devices = cuda
                    .split(',')
                    .filter(|d| !d.is_empty())
                    .map(String::from)
                    .collect();
            }
            Some("end") => end = words.next().map(|t| t.parse().unwrap()),
            _ => {}
        }
    }
    Run {
        start: start.unwrap_or_else(|| panic!("job {id} printed no start: {text:?}")),
        end: end.unwrap_or_else(|| panic!("job {id} printed no end: {text:?}")),
        devices,
    }
}

/// The most runs alive at one instant.
fn max_overlap(runs: &[Run]) -> usize {
    runs.iter()
        .map(|r| {
            runs.iter()
                .filter(|o| o.start <= r.start && r.start < o.end)
                .count()
        })
        .max()
        .unwrap_or(0)
}

async fn finished_runs(api: &TestApi, user: &str, jobs: &[Job]) -> Vec<(Job, Run)> {
    let mut runs = Vec::new();
    for job in jobs {
        let done = api.wait_finished(user, job.id, WITHIN).await;
        assert_eq!(done.status, JobStatus::Completed, "{done:?}");
        let run = parse_run(job.id, &log(api, user, job.id).await);
        runs.push((done, run));
    }
    runs
}

async fn one_gpu_jobs_never_share_a_device_and_at_most_four_run(backend: Backend) {
    let (api, user, worker) = setup(&backend).await;
    let mut jobs = Vec::new();
    for _ in 0..8 {
        jobs.push(submit(&api, &user, 1, 1, TIMED).await);
    }
    let _w = api.worker(
        &worker,
        &["--gpus", "0,1,2,3", "--slots", "8", "--cpus", "64"],
    );
    let runs = finished_runs(&api, &user, &jobs).await;
    for (job, run) in &runs {
        assert_eq!(run.devices.len(), 1, "{job:?}: {run:?}");
        assert!(["0", "1", "2", "3"].contains(&run.devices[0].as_str()));
        assert_eq!(
            job.gpu_ids.as_ref(),
            Some(&run.devices),
            "the record shows them"
        );
    }
    for (a, ra) in &runs {
        for (b, rb) in &runs {
            let overlap = ra.start < rb.end && rb.start < ra.end;
            if a.id != b.id && overlap {
                assert_ne!(ra.devices, rb.devices, "{a:?} and {b:?} ran together");
            }
        }
    }
    let runs: Vec<Run> = runs.into_iter().map(|(_, r)| r).collect();
    // Submitted before the worker started: four start at once, no more.
    assert_eq!(max_overlap(&runs), 4, "{runs:?}");
}

async fn each_job_sees_exactly_its_devices(backend: Backend) {
    let (api, user, worker) = setup(&backend).await;
    let _w = api.worker(&worker, &["--gpus", "0,1,2,3", "--slots", "4"]);
    let two = submit(&api, &user, 2, 1, TIMED).await;
    // Its own CUDA_VISIBLE_DEVICES does not get it a GPU.
    let none = api
        .submit_json(
            &user,
            json!({
                "command": ["sh", "-c", "echo \"[${CUDA_VISIBLE_DEVICES-unset}] [${JOBCTL_GPUS-unset}]\""],
                "env": { "CUDA_VISIBLE_DEVICES": "0" },
            }),
        )
        .await;
    assert_eq!((none.gpus, none.cpus, none.gpu_ids.clone()), (0, 1, None));
    let runs = finished_runs(&api, &user, std::slice::from_ref(&two)).await;
    let (done, run) = &runs[0];
    assert_eq!(run.devices.len(), 2, "{run:?}");
    assert_ne!(run.devices[0], run.devices[1]);
    assert_eq!(done.gpu_ids.as_ref(), Some(&run.devices));
    assert_eq!(done.gpus, 2);
    let done = api.wait_finished(&user, none.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert!(log(&api, &user, none.id).await.starts_with("[] []\n"));
    assert_eq!(done.gpu_ids, Some(vec![]));
}

async fn cpus_limit_what_runs_at_once(backend: Backend) {
    let (api, user, worker) = setup(&backend).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(submit(&api, &user, 0, 2, TIMED).await);
    }
    let _w = api.worker(&worker, &["--cpus", "3", "--slots", "4"]);
    let runs: Vec<Run> = finished_runs(&api, &user, &jobs)
        .await
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(max_overlap(&runs), 1, "two 2-CPU jobs on 3 CPUs: {runs:?}");
}

async fn a_big_job_is_not_starved_by_a_stream_of_small_ones(backend: Backend) {
    let (api, user, worker) = setup(&backend).await;
    let _w = api.worker(&worker, &["--gpus", "0,1,2,3", "--slots", "8"]);
    let small = "sleep 1";
    let mut before = Vec::new();
    for _ in 0..6 {
        before.push(submit(&api, &user, 1, 1, small).await);
    }
    wait_status(&api, &user, before[0].id, JobStatus::Running).await;
    let big = submit(&api, &user, 3, 1, "echo \"[$CUDA_VISIBLE_DEVICES]\"").await;
    // Keep small jobs coming, more than the worker could ever finish.
    let mut after = Vec::new();
    let started = std::time::Instant::now();
    let big_started = loop {
        after.push(submit(&api, &user, 1, 1, small).await);
        let job = api.job(&user, big.id).await;
        if job.status != JobStatus::Pending {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the 3-GPU job still waits after 20 s of 1-GPU jobs"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let done = api.wait_finished(&user, big.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.gpu_ids.as_ref().map(Vec::len), Some(3));
    // No small job submitted after it started before it.
    let big_at = big_started.started_at.unwrap();
    for job in &after {
        let job = api.job(&user, job.id).await;
        if let Some(at) = job.started_at {
            assert!(at >= big_at, "{job:?} overtook the 3-GPU job ({big_at})");
        }
    }
}

async fn cancelled_timed_out_and_unstartable_jobs_give_their_devices_back(backend: Backend) {
    let (api, user, worker) = setup(&backend).await;
    let _w = api.worker(&worker, &["--gpus", "7", "--slots", "4"]);
    let cancelled = submit(&api, &user, 1, 1, "sleep 300").await;
    let running = wait_status(&api, &user, cancelled.id, JobStatus::Running).await;
    assert_eq!(running.gpu_ids, Some(vec!["7".to_string()]));
    let timed_out = api
        .submit_json(
            &user,
            json!({ "command": ["sleep", "300"], "gpus": 1, "timeout_seconds": 1 }),
        )
        .await;
    let unstartable = api
        .submit_json(
            &user,
            json!({ "command": ["true"], "gpus": 1, "cwd": "/nonexistent/dir" }),
        )
        .await;
    let last = submit(&api, &user, 1, 1, "echo \"[$CUDA_VISIBLE_DEVICES]\"").await;
    // The only GPU is taken: the others wait.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        api.job(&user, timed_out.id).await.status,
        JobStatus::Pending
    );
    let resp = api
        .post(&format!("/jobs/{}/cancel", cancelled.id), &user)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let ends: HashMap<JobId, JobStatus> = [
        (cancelled.id, JobStatus::Cancelled),
        (timed_out.id, JobStatus::Failed),
        (unstartable.id, JobStatus::Failed),
        (last.id, JobStatus::Completed),
    ]
    .into();
    for (id, status) in &ends {
        let done = api.wait_finished(&user, *id, WITHIN).await;
        assert_eq!(done.status, *status, "{done:?}");
    }
    assert!(log(&api, &user, last.id).await.starts_with("[7]\n"));
}

async fn two_workers_with_different_gpus_take_only_what_fits(backend: Backend) {
    let (api, user, worker) = setup(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let script = format!(
        "echo \"$JOBCTL_JOB_ID [$CUDA_VISIBLE_DEVICES]\" >> {}; sleep 0.3",
        runs.display()
    );
    let mut jobs = Vec::new();
    for gpus in [2, 1, 0, 2, 1, 1, 0, 2, 1, 2, 0, 1] {
        jobs.push(submit(&api, &user, gpus, 1, &script).await);
    }
    let _big = api.worker(
        &worker,
        &["--name", "big", "--gpus", "0,1,2,3", "--slots", "4"],
    );
    let _small = api.worker(&worker, &["--name", "small", "--gpus", "0", "--slots", "4"]);
    let mut workers = BTreeSet::new();
    for job in &jobs {
        let done = api.wait_finished(&user, job.id, WITHIN).await;
        assert_eq!(done.status, JobStatus::Completed, "{done:?}");
        let at = done.worker.clone().unwrap();
        if done.gpus == 2 {
            assert_eq!(at, "big", "a 2-GPU job fits only on big: {done:?}");
        }
        assert_eq!(
            done.gpu_ids.as_ref().map(Vec::len),
            Some(done.gpus as usize)
        );
        workers.insert(at);
    }
    let text = std::fs::read_to_string(&runs).unwrap();
    for job in &jobs {
        let ran = text
            .lines()
            .filter(|l| l.starts_with(&job.id.to_string()))
            .count();
        assert_eq!(ran, 1, "job {} ran {ran} times", job.id);
    }
    assert_eq!(text.lines().count(), jobs.len());
}

async fn bad_resource_requests_are_refused(backend: Backend) {
    let (api, user, worker) = setup(&backend).await;
    for (body, says) in [
        (json!({ "command": ["true"], "gpus": 65 }), "gpus"),
        (json!({ "command": ["true"], "cpus": 0 }), "cpus"),
        (json!({ "command": ["true"], "cpus": 1025 }), "cpus"),
        (json!({ "command": ["true"], "gpus": -1 }), "gpus"),
    ] {
        let resp = api.post("/jobs", &user).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(says), "{body}: {text}");
    }
    for offer in [
        json!({ "worker": "w", "free_gpu_ids": ["0", "0"] }),
        json!({ "worker": "w", "free_gpu_ids": ["0,1"] }),
        json!({ "worker": "w", "free_gpu_ids": [""] }),
    ] {
        let resp = api
            .post("/workers/claim", &worker)
            .json(&offer)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{offer}");
    }
    // Nothing was lost: a valid job still runs.
    let job = submit(&api, &user, 0, 1, "true").await;
    let _w = api.worker(&worker, &[]);
    let done = api.wait_finished(&user, job.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed);
}

async fn a_job_no_live_worker_fits_says_so_and_starts_when_one_joins(backend: Backend) {
    let api = TestApi::start_with(&backend, ApiOptions::short_lease(Duration::from_secs(3))).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let _small = api.worker(&worker, &["--name", "small", "--gpus", "0", "--slots", "2"]);
    let fits = submit(&api, &user, 1, 1, "true").await;
    let big = submit(&api, &user, 2, 1, "echo \"[$CUDA_VISIBLE_DEVICES]\"").await;
    let waiting = wait_for(WITHIN, || async {
        let job = api.job(&user, big.id).await;
        job.pending_reason.is_some().then_some(job)
    })
    .await
    .expect("the 2-GPU job never said why it waits");
    assert_eq!(waiting.status, JobStatus::Pending);
    let reason = waiting.pending_reason.unwrap();
    assert!(reason.contains("no live worker has 2 GPU(s)"), "{reason}");
    let done = api.wait_finished(&user, fits.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.pending_reason, None);

    let _big = api.worker(&worker, &["--name", "big", "--gpus", "0,1", "--slots", "2"]);
    let done = api.wait_finished(&user, big.id, WITHIN).await;
    assert_eq!(done.status, JobStatus::Completed, "{done:?}");
    assert_eq!(done.worker.as_deref(), Some("big"));
    assert_eq!(done.pending_reason, None);
    assert!(log(&api, &user, big.id).await.starts_with("[0,1]\n"));
}

/// `POST /workers/claims`: one request hands out, oldest first, every job
/// that fits what the ones before it left free, each with its own devices;
/// the reservation for a big job that does not fit still holds inside the
/// batch. `POST /workers/claim` hands out one job whatever `max_jobs` says.
async fn one_batch_claim_hands_out_what_fits_together(backend: Backend) {
    let (api, user, worker) = setup(&backend).await;
    let mut submitted = Vec::new();
    for gpus in [2, 1, 1, 0, 2, 0] {
        submitted.push(submit(&api, &user, gpus, 1, "true").await.id);
    }
    let offer = |max_jobs: u32| {
        json!({ "worker": "w", "free_gpu_ids": ["0", "1", "2", "3"], "free_cpus": 8,
                "free_slots": 8, "total_gpus": 4, "total_cpus": 8, "max_jobs": max_jobs })
    };
    for route in ["/workers/claims", "/workers/claim"] {
        for bad in [0, 1025] {
            let resp = api
                .post(route, &worker)
                .json(&offer(bad))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 400, "{route} with max_jobs {bad}");
        }
    }
    let one: serde_json::Value = api
        .post("/workers/claim", &worker)
        .json(&offer(8))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], submitted[0].to_string());
    assert_eq!(one["gpu_ids"], json!(["0", "1"]));
    // What is left free after that one: devices 2 and 3, seven slots.
    let batch: serde_json::Value = api
        .post("/workers/claims", &worker)
        .json(
            &json!({ "worker": "w", "free_gpu_ids": ["2", "3"], "free_cpus": 7,
                       "free_slots": 7, "total_gpus": 4, "total_cpus": 8, "max_jobs": 7 }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let got: Vec<(String, serde_json::Value)> = batch["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["id"].as_str().unwrap().to_string(), j["gpu_ids"].clone()))
        .collect();
    // The two 1-GPU jobs and the 0-GPU job; then the 2-GPU job does not
    // fit, and it is held for: only the 0-GPU job after it may pass it.
    assert_eq!(
        got,
        vec![
            (submitted[1].to_string(), json!(["2"])),
            (submitted[2].to_string(), json!(["3"])),
            (submitted[3].to_string(), json!([])),
            (submitted[5].to_string(), json!([])),
        ],
        "{batch}"
    );
    for job in batch["jobs"].as_array().unwrap() {
        assert!(job["lease_token"].as_str().is_some_and(|t| !t.is_empty()));
    }
    assert_eq!(
        api.job(&user, submitted[4]).await.status,
        JobStatus::Pending
    );
    let empty: serde_json::Value = api
        .post("/workers/claims", &worker)
        .json(
            &json!({ "worker": "w", "free_gpu_ids": [], "free_cpus": 3, "free_slots": 3,
                       "total_gpus": 4, "total_cpus": 8, "max_jobs": 3 }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(empty, json!({ "jobs": [] }));
}

/// Requests an "older api" proxy saw, by route.
#[derive(Default)]
struct Seen {
    batch_claims: std::sync::atomic::AtomicUsize,
    single_claims: std::sync::atomic::AtomicUsize,
    batch_reports: std::sync::atomic::AtomicUsize,
    single_reports: std::sync::atomic::AtomicUsize,
}

/// An api from before `POST /workers/claims` and `POST /workers/reports`: a
/// proxy in front of the real one that answers those routes 404 (as an older api's router does) and
/// passes everything else on. Returns its base URL.
async fn older_api(api: &TestApi, seen: std::sync::Arc<Seen>) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use std::sync::atomic::Ordering;

    let upstream = api.url.clone();
    let http = reqwest::Client::new();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let (upstream, http, seen) = (upstream.clone(), http.clone(), seen.clone());
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
            if method == Method::POST && uri.path() == "/workers/reports" {
                seen.batch_reports.fetch_add(1, Ordering::SeqCst);
                return (
                    StatusCode::NOT_FOUND,
                    [("content-type", "application/json")],
                    Bytes::from_static(br#"{"error":"not found"}"#),
                );
            }
            if method == Method::POST && uri.path().ends_with("/status") {
                seen.single_reports.fetch_add(1, Ordering::SeqCst);
            }
            if method == Method::POST && uri.path() == "/workers/claims" {
                seen.batch_claims.fetch_add(1, Ordering::SeqCst);
                return (
                    StatusCode::NOT_FOUND,
                    [("content-type", "application/json")],
                    Bytes::from_static(br#"{"error":"not found"}"#),
                );
            }
            if method == Method::POST && uri.path() == "/workers/claim" {
                seen.single_claims.fetch_add(1, Ordering::SeqCst);
            }
            let mut request = http.request(method, format!("{upstream}{path}")).body(body);
            for name in ["authorization", "content-type", "accept"] {
                if let Some(value) = headers.get(name) {
                    request = request.header(name, value);
                }
            }
            let answer = request.send().await.unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let kind = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let bytes = answer.bytes().await.unwrap();
            let kind: &'static str = if kind.starts_with("application/json") {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            (status, [("content-type", kind)], bytes)
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A new worker against an api without batch claims and reports (a rolling
/// upgrade that updates workers first): the 404s make it claim one job at a
/// time through `POST /workers/claim` and report each through
/// `POST /jobs/{id}/status`, and every job still runs once, on its own
/// devices.
async fn a_worker_claims_and_reports_one_at_a_time_from_an_api_without_batches(backend: Backend) {
    use std::sync::atomic::Ordering;

    let (api, user, worker) = setup(&backend).await;
    let seen = std::sync::Arc::new(Seen::default());
    let url = older_api(&api, seen.clone()).await;
    let mut jobs = Vec::new();
    for gpus in [1, 0, 2, 1, 0, 1] {
        jobs.push(submit(&api, &user, gpus, 1, "echo \"[$CUDA_VISIBLE_DEVICES]\"").await);
    }
    let _w = common::ChildGuard::spawn_quiet(api.worker_command_via(
        &url,
        &worker,
        &api.logs_dir,
        &["--slots", "4", "--gpus", "0,1,2,3", "--cpus", "4"],
    ));
    for job in &jobs {
        let done = wait_status(&api, &user, job.id, JobStatus::Completed).await;
        let ids = done.gpu_ids.clone().unwrap_or_default();
        assert_eq!(ids.len(), job.gpus as usize, "{done:?}");
        let text = log(&api, &user, job.id).await;
        assert!(
            text.contains(&format!("[{}]", ids.join(","))),
            "job {} with {ids:?} printed {text:?}",
            job.id
        );
    }
    // Each batch route was tried once, then never again (the reports' route
    // a few times at most: while the first 404 is on its way, another
    // request goes out each second, up to 8, on a busy machine).
    assert_eq!(seen.batch_claims.load(Ordering::SeqCst), 1);
    let batch_reports = seen.batch_reports.load(Ordering::SeqCst);
    assert!((1..=8).contains(&batch_reports), "{batch_reports}");
    assert!(
        seen.single_reports.load(Ordering::SeqCst) >= jobs.len(),
        "{} single reports for {} jobs",
        seen.single_reports.load(Ordering::SeqCst),
        jobs.len()
    );
    assert!(
        seen.single_claims.load(Ordering::SeqCst) >= jobs.len(),
        "{} single claims for {} jobs",
        seen.single_claims.load(Ordering::SeqCst),
        jobs.len()
    );
}
