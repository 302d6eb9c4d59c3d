//! The REST API over real HTTP: every route of DESIGN.md's table, its status
//! codes and fields, the auth rules, bad input, the logs endpoint, leases
//! and retention — on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use common::{ApiOptions, Backend, TestApi, raw_request, wait_for};
use jobctl::domain::{JobId, JobStatus, Role};
use jobctl::protocol::{ClaimedJob, ErrorBody, HeartbeatAck, Job, LogChunk};
use serde_json::json;

backend_tests!(
    health_and_openapi_need_no_token,
    every_route_in_the_openapi_document,
    missing_bad_and_revoked_tokens_get_401,
    submit_get_and_list_a_job,
    users_see_only_their_own_jobs_admins_see_all,
    roles_are_kept_to_their_routes,
    ids_that_are_not_uuids_are_refused_before_any_lookup,
    malformed_and_oversized_bodies_are_refused,
    bad_query_values_are_refused,
    invalid_job_specs_are_refused_with_the_reason,
    claim_heartbeat_and_report_a_job,
    status_reports_are_fenced_and_checked,
    several_reports_in_one_request_each_get_their_own_answer,
    heartbeats_carry_a_pending_reason,
    cancel_a_pending_and_a_running_job,
    concurrent_claimers_never_share_a_job,
    logs_of_a_job_without_a_file_are_empty,
    log_tail_and_offsets_follow_a_growing_file,
    logs_with_invalid_utf8_and_nul_are_valid_json,
    a_huge_log_tail_is_cheap_and_capped,
    an_unreadable_log_is_a_500,
    download_streams_the_whole_log,
    expired_leases_fail_the_job_as_worker_lost,
    retention_removes_old_finished_jobs_and_their_logs,
    id_prefixes_find_jobs,
    a_worker_hands_back_a_job_it_could_not_start,
    finished_at_is_when_the_worker_saw_the_end,
    nul_is_refused_in_every_string_field,
    command_lines_beyond_the_kernel_limits_are_refused,
);

async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: ErrorBody = resp
        .json()
        .await
        .expect("every error has a JSON {error} body");
    (status, body.error)
}

async fn health_and_openapi_need_no_token(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let resp = api
        .http
        .get(format!("{}/healthz", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = api
        .http
        .get(format!("{}/openapi.json", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
}

async fn every_route_in_the_openapi_document(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let doc: serde_json::Value = api
        .http
        .get(format!("{}/openapi.json", api.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected = [
        ("post", "/jobs"),
        ("get", "/jobs"),
        ("get", "/jobs/{id}"),
        ("post", "/jobs/{id}/cancel"),
        ("get", "/jobs/{id}/logs"),
        ("get", "/jobs/{id}/logs/download"),
        ("post", "/workers/claim"),
        ("post", "/workers/claims"),
        ("post", "/workers/reports"),
        ("post", "/workers/register"),
        ("get", "/workers"),
        ("get", "/metrics"),
        ("post", "/jobs/{id}/heartbeat"),
        ("post", "/jobs/{id}/status"),
        ("get", "/healthz"),
        ("get", "/openapi.json"),
        ("get", "/whoami"),
    ];
    for (method, path) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
    // Bodies and answers are described, not just named.
    for schema in ["Job", "SubmitJob", "LogChunk", "ClaimedJob", "ErrorBody"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
}

async fn missing_bad_and_revoked_tokens_get_401(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    for auth in [
        None,
        Some("Bearer nonsense".to_string()),
        Some("Basic YWxpY2U6cGFzcw==".to_string()),
        Some(format!("Bearer {}x", token)),
        Some(format!("Bearer {}", token.replace('a', "b"))),
    ] {
        let mut req = api.http.get(format!("{}/jobs", api.url));
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        assert!(
            resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "401 carries WWW-Authenticate: Bearer"
        );
        let (_, msg) = error_of(resp).await;
        assert!(!msg.is_empty());
    }
    // The token works; a wrong secret under its key id does not, even now
    // that the api has its row in hand.
    assert_eq!(api.get("/jobs", &token).send().await.unwrap().status(), 200);
    let (key, _) = token.rsplit_once('_').unwrap();
    let forged = format!("{key}_{}", "0".repeat(64));
    let resp = api.get("/jobs", &forged).send().await.unwrap();
    assert_eq!(resp.status(), 401, "a cached key id with a wrong secret");
    // Revoked: refused within the api's token cache time (one second), so
    // well within this deadline, and for good.
    assert!(api.store.revoke_token("alice").await.unwrap());
    let refused = wait_for(Duration::from_secs(5), || async {
        let resp = api.get("/jobs", &token).send().await.unwrap();
        (resp.status() == 401).then_some(())
    })
    .await;
    assert!(refused.is_some(), "a revoked token kept working");
    let resp = api.get("/jobs", &token).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

async fn submit_get_and_list_a_job(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let resp = api
        .post("/jobs", &token)
        .json(&json!({
            "command": ["python3", "train.py", "--epochs", "3"],
            "name": "train",
            "cwd": "/tmp",
            "env": {"SEED": "42"},
            "timeout_seconds": 3600
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let raw: serde_json::Value = resp.json().await.unwrap();
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
        assert!(raw.get(field).is_some(), "field {field} missing");
    }
    let job: Job = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.owner, "alice");
    assert_eq!(job.name.as_deref(), Some("train"));
    assert_eq!(job.timeout_seconds, Some(3600));
    assert!(
        raw["created_at"].as_str().unwrap().ends_with('Z'),
        "RFC 3339 UTC"
    );

    assert_eq!(api.job(&token, job.id).await, job);
    let second = api.submit(&token, &["true"]).await;
    let list = api.list(&token, "/jobs").await;
    let ids: Vec<JobId> = list.jobs.iter().map(|j| j.id).collect();
    assert_eq!(ids, vec![second.id, job.id], "newest first");
    let list = api.list(&token, "/jobs?status=running").await;
    assert!(list.jobs.is_empty());
    let list = api.list(&token, "/jobs?limit=1").await;
    assert_eq!(list.jobs.len(), 1);
}

async fn users_see_only_their_own_jobs_admins_see_all(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let alice = api.token("alice", Role::User).await;
    let bob = api.token("bob", Role::User).await;
    let admin = api.token("root", Role::Admin).await;
    let job = api.submit(&alice, &["true"]).await;
    let bobs = api.submit(&bob, &["true"]).await;
    let missing = JobId::new();
    for path in [
        format!("/jobs/{}", job.id),
        format!("/jobs/{}/logs", job.id),
        format!("/jobs/{}/logs/download", job.id),
    ] {
        let (status, msg) = error_of(api.get(&path, &bob).send().await.unwrap()).await;
        assert_eq!(status, 404, "{path}: another user's job is not found");
        let other = path.replace(&job.id.to_string(), &missing.to_string());
        let (status2, msg2) = error_of(api.get(&other, &bob).send().await.unwrap()).await;
        assert_eq!(status2, 404);
        assert_eq!(
            msg.replace(&job.id.to_string(), "ID"),
            msg2.replace(&missing.to_string(), "ID"),
            "indistinguishable from a missing job"
        );
    }
    let resp = api
        .post(&format!("/jobs/{}/cancel", job.id), &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let list = api.list(&bob, "/jobs").await;
    assert_eq!(list.jobs.len(), 1);
    assert_eq!(list.jobs[0].id, bobs.id);
    let list = api.list(&bob, "/jobs?owner=alice").await;
    assert!(list.jobs.is_empty(), "a user cannot list another's jobs");

    assert_eq!(api.job(&admin, job.id).await.owner, "alice");
    let list = api.list(&admin, "/jobs").await;
    assert_eq!(list.jobs.len(), 2);
    let list = api.list(&admin, "/jobs?owner=bob").await;
    assert_eq!(list.jobs.len(), 1);
    let resp = api
        .post(&format!("/jobs/{}/cancel", job.id), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "admins cancel anyone's job");
}

async fn roles_are_kept_to_their_routes(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let admin = api.token("root", Role::Admin).await;
    let worker = api.token("w1", Role::Worker).await;
    let job = api.submit(&user, &["true"]).await;
    let id = job.id;
    for (method, path) in [
        ("GET", "/jobs".to_string()),
        ("POST", "/jobs".to_string()),
        ("GET", format!("/jobs/{id}")),
        ("POST", format!("/jobs/{id}/cancel")),
        ("GET", format!("/jobs/{id}/logs")),
        ("GET", format!("/jobs/{id}/logs/download")),
    ] {
        let req = match method {
            "GET" => api.get(&path, &worker),
            _ => api.post(&path, &worker).json(&json!({"command": ["true"]})),
        };
        let (status, _) = error_of(req.send().await.unwrap()).await;
        assert_eq!(status, 403, "worker token on {method} {path}");
    }
    for token in [&user, &admin] {
        for (path, body) in [
            ("/workers/claim".to_string(), json!({"worker": "w"})),
            ("/workers/claims".to_string(), json!({"worker": "w"})),
            ("/workers/reports".to_string(), json!({"reports": []})),
            (format!("/jobs/{id}/heartbeat"), json!({"lease_token": "x"})),
            (
                format!("/jobs/{id}/status"),
                json!({"lease_token": "x", "status": "completed", "exit_code": 0}),
            ),
        ] {
            let (status, _) =
                error_of(api.post(&path, token).json(&body).send().await.unwrap()).await;
            assert_eq!(status, 403, "non-worker token on POST {path}");
        }
    }
    assert_eq!(
        api.job(&user, id).await.status,
        JobStatus::Pending,
        "nothing was claimed"
    );
}

async fn ids_that_are_not_uuids_are_refused_before_any_lookup(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let long = "a".repeat(5000);
    for bad in [
        "..%2F..%2Fetc%2Fpasswd",
        "..%2Fx",
        "not-a-uuid",
        "12345",
        "67e5504410b1426f9247bb680e5fe0c8",
        &long,
    ] {
        for path in [
            format!("/jobs/{bad}"),
            format!("/jobs/{bad}/logs"),
            format!("/jobs/{bad}/logs/download"),
        ] {
            let (status, msg) = error_of(api.get(&path, &token).send().await.unwrap()).await;
            assert_eq!(status, 400, "GET {}", &path[..path.len().min(60)]);
            assert!(msg.contains("invalid job id"), "{msg}");
        }
        let (status, _) = error_of(
            api.post(&format!("/jobs/{bad}/cancel"), &token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400);
        let (status, _) = error_of(
            api.post(&format!("/jobs/{bad}/heartbeat"), &worker)
                .json(&json!({"lease_token": "x"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400);
    }
    // Unnormalised traversal straight on the wire.
    for path in [
        "/jobs/../x",
        "/jobs/../../etc/passwd/logs",
        "/jobs/./x/logs",
    ] {
        let (status, text) = raw_request(
            api.addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains("\"error\""));
    }
}

async fn malformed_and_oversized_bodies_are_refused(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let cases: Vec<(&str, Vec<u8>, &str, u16)> = vec![
        ("application/json", b"{not json".to_vec(), "malformed", 400),
        ("application/json", b"".to_vec(), "", 400),
        ("application/json", b"[1,2]".to_vec(), "", 400),
        (
            "application/json",
            b"{\"command\": \"echo hi\"}".to_vec(),
            "invalid type",
            400,
        ),
        (
            "application/json",
            b"{\"command\": [\"x\"], \"bogus\": 1}".to_vec(),
            "bogus",
            400,
        ),
        (
            "text/plain",
            b"{\"command\": [\"x\"]}".to_vec(),
            "Content-Type",
            415,
        ),
        (
            "application/json",
            format!("{{\"command\": [\"{}\"]}}", "x".repeat(2 * 1024 * 1024)).into_bytes(),
            "over the limit",
            413,
        ),
    ];
    for (content_type, body, expect_in_msg, expect_status) in cases {
        let resp = api
            .post("/jobs", &token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, msg) = error_of(resp).await;
        assert_eq!(status, expect_status, "{msg}");
        assert!(
            msg.contains(expect_in_msg),
            "{msg:?} should mention {expect_in_msg:?}"
        );
    }
    let list = api.list(&token, "/jobs").await;
    assert!(list.jobs.is_empty(), "nothing was created");
}

async fn bad_query_values_are_refused(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let job = api.submit(&token, &["true"]).await;
    for query in [
        "tail=-1",
        "tail=abc",
        "tail=100001",
        "tail=10001",
        "offset=-5",
        "offset=xyz",
        "tail=5&offset=0",
        "nonsense=1",
    ] {
        let (status, msg) = error_of(
            api.get(&format!("/jobs/{}/logs?{query}", job.id), &token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{query}: {msg}");
    }
    for query in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "status=done",
        "id_prefix=zz",
    ] {
        let (status, msg) = error_of(
            api.get(&format!("/jobs?{query}"), &token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{query}: {msg}");
    }
    assert_eq!(
        api.get(&format!("/jobs/{}/logs?tail=10000", job.id), &token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn invalid_job_specs_are_refused_with_the_reason(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    for (body, reason) in [
        (json!({"command": []}), "empty"),
        (json!({"command": [""]}), "empty"),
        (json!({"command": ["a\u{0}b"]}), "NUL"),
        (
            json!({"command": ["x"], "timeout_seconds": 0}),
            "greater than 0",
        ),
        (
            json!({"command": ["x"], "env": {"1BAD": "v"}}),
            "environment variable name",
        ),
        (json!({"command": ["x"], "cwd": "relative"}), "absolute"),
        (json!({"command": ["x"], "name": "n".repeat(300)}), "name"),
    ] {
        let resp = api.post("/jobs", &token).json(&body).send().await.unwrap();
        let (status, msg) = error_of(resp).await;
        assert_eq!(status, 400, "{body}");
        assert!(msg.contains(reason), "{msg:?} should say {reason:?}");
    }
}

async fn claim(api: &TestApi, worker: &str) -> Option<ClaimedJob> {
    let resp = api
        .post("/workers/claim", worker)
        .json(&json!({"worker": "test-worker"}))
        .send()
        .await
        .unwrap();
    match resp.status().as_u16() {
        204 => None,
        200 => Some(resp.json().await.unwrap()),
        other => panic!("claim answered {other}"),
    }
}

async fn heartbeat(api: &TestApi, worker: &str, id: JobId, lease: &str) -> reqwest::Response {
    api.post(&format!("/jobs/{id}/heartbeat"), worker)
        .json(&json!({ "lease_token": lease }))
        .send()
        .await
        .unwrap()
}

/// `POST /workers/reports` with `body`.
async fn report_batch(api: &TestApi, worker: &str, body: &serde_json::Value) -> reqwest::Response {
    api.post("/workers/reports", worker)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn report(
    api: &TestApi,
    worker: &str,
    id: JobId,
    body: serde_json::Value,
) -> reqwest::Response {
    api.post(&format!("/jobs/{id}/status"), worker)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn heartbeats_carry_a_pending_reason(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let job = api.submit(&user, &["x"]).await;
    let claimed = claim(&api, &worker).await.unwrap();
    let lease = claimed.lease_token.clone();
    let beat = |reason: serde_json::Value| {
        api.post(&format!("/jobs/{}/heartbeat", job.id), &worker)
            .json(&json!({"lease_token": lease, "pending_reason": reason}))
            .send()
    };

    // While the job waits in an executor's queue, its heartbeats say why.
    let waiting = "in Slurm's queue as job 17: Priority";
    assert_eq!(beat(json!(waiting)).await.unwrap().status(), 200);
    let shown = api.job(&user, job.id).await;
    assert_eq!(shown.status, JobStatus::Running);
    assert_eq!(shown.pending_reason.as_deref(), Some(waiting));
    // A beat without one clears it: the job runs now.
    assert_eq!(heartbeat(&api, &worker, job.id, &lease).await.status(), 200);
    assert_eq!(api.job(&user, job.id).await.pending_reason, None);
    let (status, msg) = error_of(beat(json!("x".repeat(2000))).await.unwrap()).await;
    assert_eq!(status, 400, "{msg}");
    assert_eq!(api.job(&user, job.id).await.pending_reason, None);

    // Neither a hand-back nor the end leaves one behind.
    assert_eq!(beat(json!(waiting)).await.unwrap().status(), 200);
    let back = report(
        &api,
        &worker,
        job.id,
        json!({"lease_token": lease, "status": "pending", "failure_reason": "Slurm is down"}),
    )
    .await;
    assert_eq!(back.status(), 200);
    let shown = api.job(&user, job.id).await;
    assert_eq!(shown.status, JobStatus::Pending);
    assert_eq!(shown.pending_reason, None);
    let again = claim(&api, &worker).await.unwrap();
    let beat = api
        .post(&format!("/jobs/{}/heartbeat", job.id), &worker)
        .json(&json!({"lease_token": again.lease_token, "pending_reason": waiting}))
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), 200);
    let done = report(
        &api,
        &worker,
        job.id,
        json!({"lease_token": again.lease_token, "status": "completed", "exit_code": 0}),
    )
    .await;
    assert_eq!(done.status(), 200);
    assert_eq!(api.job(&user, job.id).await.pending_reason, None);
}

async fn claim_heartbeat_and_report_a_job(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    assert!(
        claim(&api, &worker).await.is_none(),
        "204 when nothing is pending"
    );
    let first = api.submit(&user, &["first"]).await;
    let second = api.submit(&user, &["second"]).await;
    let claimed = claim(&api, &worker).await.unwrap();
    assert_eq!(claimed.job.id, first.id, "oldest first");
    assert_eq!(claimed.job.status, JobStatus::Running);
    assert_eq!(claimed.job.worker.as_deref(), Some("test-worker"));
    assert!(claimed.job.started_at.is_some());
    assert!(!claimed.lease_token.is_empty());
    let ack: HeartbeatAck = heartbeat(&api, &worker, first.id, &claimed.lease_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(!ack.cancel_requested);
    let resp = report(
        &api,
        &worker,
        first.id,
        json!({"lease_token": claimed.lease_token, "status": "completed", "exit_code": 0}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let done: Job = resp.json().await.unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.exit_code, Some(0));
    assert!(done.finished_at.is_some());
    let next = claim(&api, &worker).await.unwrap();
    assert_eq!(next.job.id, second.id);
    let resp = report(
        &api,
        &worker,
        second.id,
        json!({"lease_token": next.lease_token, "status": "failed", "exit_code": 3, "failure_reason": "exit code 3"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let failed = api.job(&user, second.id).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("exit code 3"));
    assert!(claim(&api, &worker).await.is_none());
}

async fn status_reports_are_fenced_and_checked(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let job = api.submit(&user, &["x"]).await;
    // A pending job cannot be reported on: there is no lease yet.
    let resp = report(
        &api,
        &worker,
        job.id,
        json!({"lease_token": "none", "status": "completed", "exit_code": 0}),
    )
    .await;
    assert_eq!(resp.status(), 409);
    let claimed = claim(&api, &worker).await.unwrap();
    let lease = claimed.lease_token.clone();
    for (body, expected) in [
        (
            json!({"lease_token": "stale", "status": "completed", "exit_code": 0}),
            409,
        ),
        (json!({"lease_token": lease, "status": "running"}), 409),
        (
            json!({"lease_token": lease, "status": "completed", "exit_code": 2}),
            400,
        ),
        (json!({"lease_token": lease, "status": "failed"}), 400),
        (json!({"lease_token": lease, "status": "finished"}), 400),
    ] {
        let (status, msg) = error_of(report(&api, &worker, job.id, body.clone()).await).await;
        assert_eq!(status, expected, "{body}: {msg}");
    }
    let heartbeat = api
        .post(&format!("/jobs/{}/heartbeat", job.id), &worker)
        .json(&json!({"lease_token": "stale"}))
        .send()
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 409);
    let end = json!({"lease_token": lease, "status": "failed", "exit_code": 1, "failure_reason": "exit code 1"});
    assert_eq!(
        report(&api, &worker, job.id, end.clone()).await.status(),
        200
    );
    assert_eq!(
        report(&api, &worker, job.id, end).await.status(),
        200,
        "a retried identical report is accepted"
    );
    let other = json!({"lease_token": lease, "status": "completed", "exit_code": 0});
    assert_eq!(
        report(&api, &worker, job.id, other).await.status(),
        409,
        "a finished job's status never changes"
    );
    let heartbeat = api
        .post(&format!("/jobs/{}/heartbeat", job.id), &worker)
        .json(&json!({"lease_token": lease}))
        .send()
        .await
        .unwrap();
    assert_eq!(heartbeat.status(), 409, "no heartbeat for a finished job");
    let missing = JobId::new();
    let resp = report(
        &api,
        &worker,
        missing,
        json!({"lease_token": lease, "status": "completed", "exit_code": 0}),
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(api.job(&user, job.id).await.status, JobStatus::Failed);
}

/// `POST /workers/reports`: each report is taken as `POST /jobs/{id}/status`
/// takes it, with its own answer; one refused report does not touch the
/// others, and the whole batch can be sent again.
async fn several_reports_in_one_request_each_get_their_own_answer(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let jobs = [
        api.submit(&user, &["a"]).await,
        api.submit(&user, &["b"]).await,
        api.submit(&user, &["c"]).await,
    ];
    let mut leases = Vec::new();
    for job in &jobs {
        let claimed = claim(&api, &worker).await.unwrap();
        assert_eq!(claimed.job.id, job.id);
        leases.push(claimed.lease_token);
    }
    let missing = JobId::new();
    let batch = json!({"reports": [
        {"job_id": jobs[0].id, "report": {"lease_token": leases[0], "status": "completed", "exit_code": 0}},
        {"job_id": jobs[1].id, "report": {"lease_token": leases[1], "status": "failed", "exit_code": 3, "failure_reason": "exit code 3"}},
        {"job_id": jobs[2].id, "report": {"lease_token": "stale", "status": "completed", "exit_code": 0}},
        {"job_id": missing, "report": {"lease_token": leases[2], "status": "completed", "exit_code": 0}},
        {"job_id": jobs[2].id.to_string().to_uppercase(), "report": {"lease_token": leases[2], "status": "completed", "exit_code": 2}},
    ]});
    // The last one names job c again, in upper case: the same job twice.
    let (status, msg) = error_of(report_batch(&api, &worker, &batch).await).await;
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("reported twice"), "{msg}");
    assert_eq!(api.job(&user, jobs[0].id).await.status, JobStatus::Running);

    let mut batch = batch;
    batch["reports"].as_array_mut().unwrap().pop();
    for attempt in ["first", "again"] {
        let resp = report_batch(&api, &worker, &batch).await;
        assert_eq!(resp.status(), 200, "{attempt}");
        let answer: serde_json::Value = resp.json().await.unwrap();
        let results = answer["results"].as_array().unwrap();
        let got: Vec<_> = results
            .iter()
            .map(|r| {
                (
                    r["job_id"].as_str().unwrap().to_string(),
                    r["status"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<_> = [
            (jobs[0].id, 200),
            (jobs[1].id, 200),
            (jobs[2].id, 409),
            (missing, 404),
        ]
        .iter()
        .map(|(id, s)| (id.to_string(), *s))
        .collect();
        assert_eq!(got, want, "{attempt}: {answer}");
        assert_eq!(results[0]["job_status"], "completed", "{attempt}");
        assert_eq!(results[1]["job_status"], "failed", "{attempt}");
        for refused in &results[2..] {
            assert!(refused["job_status"].is_null(), "{refused}");
            assert!(!refused["error"].as_str().unwrap().is_empty(), "{refused}");
        }
    }
    let failed = api.job(&user, jobs[1].id).await;
    assert_eq!(failed.exit_code, Some(3));
    assert_eq!(failed.failure_reason.as_deref(), Some("exit code 3"));
    assert_eq!(api.job(&user, jobs[2].id).await.status, JobStatus::Running);

    // A bad report in a batch is refused like on its own route.
    let bad = json!({"reports": [
        {"job_id": jobs[2].id, "report": {"lease_token": leases[2], "status": "completed", "exit_code": 2}},
    ]});
    let answer: serde_json::Value = report_batch(&api, &worker, &bad)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["results"][0]["status"], 400, "{answer}");
    assert_eq!(api.job(&user, jobs[2].id).await.status, JobStatus::Running);

    // A report against the schema refuses the whole request.
    let late = json!({"reports": [
        {"job_id": jobs[2].id, "report": {"lease_token": leases[2], "status": "completed", "exit_code": 0}},
        {"job_id": missing, "report": {"lease_token": "x", "status": "failed", "exit_code": 1, "failure_reason": "exit code 1", "finished_ms_ago": 31_622_400_001_u64}},
    ]});
    let (status, msg) = error_of(report_batch(&api, &worker, &late).await).await;
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("reports[1]: finished_ms_ago"), "{msg}");
    assert_eq!(api.job(&user, jobs[2].id).await.status, JobStatus::Running);

    let report = json!({"job_id": jobs[2].id, "report": {"lease_token": leases[2], "status": "completed", "exit_code": 0}});
    let too_many = json!({"reports": vec![report; 257]});
    let (status, msg) = error_of(report_batch(&api, &worker, &too_many).await).await;
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("at most 256"), "{msg}");
}

async fn cancel_a_pending_and_a_running_job(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let running = api.submit(&user, &["sleep", "100"]).await;
    let pending = api.submit(&user, &["sleep", "100"]).await;
    let claimed = claim(&api, &worker).await.unwrap();
    assert_eq!(claimed.job.id, running.id);

    let resp = api
        .post(&format!("/jobs/{}/cancel", pending.id), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cancelled: Job = resp.json().await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert!(
        claim(&api, &worker).await.is_none(),
        "a cancelled job is never claimed"
    );

    let resp = api
        .post(&format!("/jobs/{}/cancel", running.id), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let asked: Job = resp.json().await.unwrap();
    assert_eq!(asked.status, JobStatus::Running);
    assert!(asked.cancel_requested);
    let ack: HeartbeatAck = heartbeat(&api, &worker, running.id, &claimed.lease_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(ack.cancel_requested, "the worker learns of the cancel");
    let resp = report(
        &api,
        &worker,
        running.id,
        json!({"lease_token": claimed.lease_token, "status": "cancelled"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (status, msg) = error_of(
        api.post(&format!("/jobs/{}/cancel", running.id), &user)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409, "cancelling a finished job: {msg}");
}

async fn concurrent_claimers_never_share_a_job(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let mut submitted = HashSet::new();
    for i in 0..150 {
        submitted.insert(api.submit(&user, &["echo", &i.to_string()]).await.id);
    }
    let mut claimers = Vec::new();
    for _ in 0..12 {
        let http = api.http.clone();
        let url = api.url.clone();
        let worker = worker.clone();
        claimers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let resp = http
                    .post(format!("{url}/workers/claim"))
                    .bearer_auth(&worker)
                    .json(&json!({"worker": "w"}))
                    .send()
                    .await
                    .unwrap();
                match resp.status().as_u16() {
                    204 => return mine,
                    200 => mine.push(resp.json::<ClaimedJob>().await.unwrap().job.id),
                    other => panic!("claim answered {other}: {}", resp.text().await.unwrap()),
                }
            }
        }));
    }
    let mut claimed = Vec::new();
    for c in claimers {
        claimed.extend(c.await.unwrap());
    }
    let unique: HashSet<JobId> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), unique.len(), "a job was claimed twice");
    assert_eq!(unique, submitted, "every job was claimed");
}

async fn logs_of_a_job_without_a_file_are_empty(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let job = api.submit(&token, &["true"]).await;
    for query in ["", "?tail=10", "?offset=0", "?offset=100"] {
        let resp = api
            .get(&format!("/jobs/{}/logs{query}", job.id), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{query}");
        let chunk: LogChunk = resp.json().await.unwrap();
        assert_eq!(chunk.logs, "");
        assert_eq!(chunk.status, JobStatus::Pending);
        assert_eq!(chunk.size, 0);
        assert_eq!(chunk.job_id, job.id);
    }
}

async fn get_logs(api: &TestApi, token: &str, id: JobId, query: &str) -> LogChunk {
    let resp = api
        .get(&format!("/jobs/{id}/logs?{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn log_tail_and_offsets_follow_a_growing_file(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let job = api.submit(&token, &["true"]).await;
    let path = api.log_path(job.id);
    std::fs::create_dir_all(&api.logs_dir).unwrap();
    let mut file = std::fs::File::create(&path).unwrap();
    let all: Vec<String> = (0..2500).map(|i| format!("line {i} ünï 🦀\n")).collect();
    file.write_all(all.concat().as_bytes()).unwrap();

    let chunk = get_logs(&api, &token, job.id, "").await;
    assert_eq!(
        chunk.logs,
        all[1500..].concat(),
        "default tail is 1000 lines"
    );
    assert_eq!(chunk.next_offset, chunk.size);
    let chunk = get_logs(&api, &token, job.id, "tail=3").await;
    assert_eq!(chunk.logs, all[2497..].concat());
    assert!(!chunk.truncated);
    let chunk = get_logs(&api, &token, job.id, "tail=0").await;
    assert_eq!(chunk.logs, "");

    // Follow from 0 while the file grows, in pieces that split characters.
    let mut rebuilt = String::new();
    let mut offset = 0;
    let extra = "tail ünï 🦀 done\n".repeat(20_000); // > 1 MiB: several chunks
    let bytes = extra.as_bytes();
    let mut written = 0;
    loop {
        if written < bytes.len() {
            let step = 777.min(bytes.len() - written);
            file.write_all(&bytes[written..written + step]).unwrap();
            written += step;
            if written < bytes.len() && written % 7 != 0 {
                continue;
            }
        }
        let chunk = get_logs(&api, &token, job.id, &format!("offset={offset}")).await;
        assert_eq!(chunk.offset, offset);
        assert!(chunk.next_offset >= offset);
        rebuilt.push_str(&chunk.logs);
        offset = chunk.next_offset;
        if written == bytes.len() && offset == chunk.size {
            break;
        }
    }
    assert_eq!(
        rebuilt,
        all.concat() + &extra,
        "byte for byte, nothing twice"
    );
}

async fn logs_with_invalid_utf8_and_nul_are_valid_json(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let job = api.submit(&token, &["true"]).await;
    std::fs::create_dir_all(&api.logs_dir).unwrap();
    std::fs::write(
        api.log_path(job.id),
        b"ok\n\xff\xfe\x00bad\x00\n\x1b[31mred\x1b[0m\r50%\r100%\n\xe2\x82",
    )
    .unwrap();
    for query in ["tail=10", "offset=0", "offset=4"] {
        let chunk = get_logs(&api, &token, job.id, query).await;
        assert!(chunk.logs.contains('\u{FFFD}'), "{query}");
        assert!(chunk.logs.contains('\0'));
        assert!(chunk.logs.contains("\x1b[31mred"));
    }
}

async fn a_huge_log_tail_is_cheap_and_capped(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let job = api.submit(&token, &["true"]).await;
    std::fs::create_dir_all(&api.logs_dir).unwrap();
    let size = 300 * 1024 * 1024u64;
    // Sparse, newline-free: 300 MiB of NUL bytes that cost no disk.
    let file = std::fs::File::create(api.log_path(job.id)).unwrap();
    file.set_len(size).unwrap();
    let chunk = get_logs(&api, &token, job.id, "tail=1000").await;
    assert!(chunk.truncated);
    assert!(chunk.logs.len() <= 1024 * 1024);
    assert!(!chunk.logs.is_empty());
    assert_eq!(chunk.next_offset, size);
    assert_eq!(chunk.size, size);
    let chunk = get_logs(&api, &token, job.id, "offset=0").await;
    assert!(
        chunk.logs.len() <= 1024 * 1024,
        "offset reads are capped too"
    );
    assert!(chunk.next_offset < size);
}

async fn an_unreadable_log_is_a_500(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let job = api.submit(&token, &["true"]).await;
    // A directory where the file should be: it exists and cannot be read as
    // a file, even by root.
    std::fs::create_dir_all(api.log_path(job.id)).unwrap();
    let (status, msg) = error_of(
        api.get(&format!("/jobs/{}/logs", job.id), &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 500);
    assert!(
        !msg.contains(&api.logs_dir.display().to_string()),
        "a 500 does not leak paths: {msg}"
    );
}

async fn download_streams_the_whole_log(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let token = api.token("alice", Role::User).await;
    let job = api.submit(&token, &["true"]).await;
    let resp = api
        .get(&format!("/jobs/{}/logs/download", job.id), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 0, "no file yet: empty");
    std::fs::create_dir_all(&api.logs_dir).unwrap();
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(api.log_path(job.id), &content).unwrap();
    let resp = api
        .get(&format!("/jobs/{}/logs/download", job.id), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        &content[..],
        "raw bytes, all of them"
    );
}

async fn expired_leases_fail_the_job_as_worker_lost(backend: Backend) {
    let options = ApiOptions::short_lease(Duration::from_secs(1));
    let api = TestApi::start_with(&backend, options).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let job = api.submit(&user, &["sleep", "100"]).await;
    let claimed = claim(&api, &worker).await.unwrap();
    let lost = api
        .wait_finished(&user, job.id, Duration::from_secs(30))
        .await;
    assert_eq!(lost.status, JobStatus::Failed);
    assert_eq!(lost.failure_reason.as_deref(), Some("worker lost"));
    let log = wait_for(Duration::from_secs(10), || async {
        std::fs::read_to_string(api.log_path(job.id))
            .ok()
            .filter(|l| l.contains("[jobctl]"))
    })
    .await
    .expect("the api notes the lost worker in the log");
    assert!(log.contains("worker lost"), "{log}");
    let late = report(
        &api,
        &worker,
        job.id,
        json!({"lease_token": claimed.lease_token, "status": "completed", "exit_code": 0}),
    )
    .await;
    assert_eq!(
        late.status(),
        409,
        "a late report with the old lease is refused"
    );
    assert_eq!(api.job(&user, job.id).await.status, JobStatus::Failed);
}

async fn retention_removes_old_finished_jobs_and_their_logs(backend: Backend) {
    let options = ApiOptions {
        retention: Duration::from_secs(1),
        sweep_interval: Duration::from_millis(200),
        ..ApiOptions::default()
    };
    let api = TestApi::start_with(&backend, options).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let old = api.submit(&user, &["true"]).await;
    let claimed = claim(&api, &worker).await.unwrap();
    std::fs::create_dir_all(&api.logs_dir).unwrap();
    std::fs::write(api.log_path(old.id), "old output\n").unwrap();
    let resp = report(
        &api,
        &worker,
        old.id,
        json!({"lease_token": claimed.lease_token, "status": "completed", "exit_code": 0}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let running = api.submit(&user, &["sleep", "100"]).await;
    let lease = claim(&api, &worker).await.unwrap();
    std::fs::write(api.log_path(running.id), "still running\n").unwrap();
    let pending = api.submit(&user, &["true"]).await;

    let gone = wait_for(Duration::from_secs(20), || async {
        let status = api
            .get(&format!("/jobs/{}", old.id), &user)
            .send()
            .await
            .unwrap()
            .status();
        (status == 404).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the old finished job is swept");
    assert!(!api.log_path(old.id).exists(), "with its log");
    // Heartbeat through the sweep: still there, still running.
    let ack = api
        .post(&format!("/jobs/{}/heartbeat", running.id), &worker)
        .json(&json!({"lease_token": lease.lease_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 200);
    assert_eq!(api.job(&user, running.id).await.status, JobStatus::Running);
    assert!(api.log_path(running.id).exists());
    assert_eq!(api.job(&user, pending.id).await.status, JobStatus::Pending);
}

async fn id_prefixes_find_jobs(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let job = api.submit(&user, &["true"]).await;
    let prefix = &job.id.to_string()[..6];
    let list = api
        .list(&user, &format!("/jobs?id_prefix={}", prefix.to_uppercase()))
        .await;
    assert_eq!(list.jobs.len(), 1);
    assert_eq!(list.jobs[0].id, job.id);
    let other = api.token("bob", Role::User).await;
    let list = api.list(&other, &format!("/jobs?id_prefix={prefix}")).await;
    assert!(list.jobs.is_empty(), "prefixes never reveal others' jobs");
}

#[tokio::test]
async fn whoami_names_the_caller() {
    let api = TestApi::start(&Backend::Sqlite).await;
    let token = api.token("alice", Role::User).await;
    let me: serde_json::Value = api
        .get("/whoami", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({"name": "alice", "role": "user"}));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let api = TestApi::start(&Backend::Sqlite).await;
    let token = api.token("alice", Role::User).await;
    let (status, _) = error_of(api.get("/nope", &token).send().await.unwrap()).await;
    assert_eq!(status, 404);
    let resp = api
        .http
        .delete(format!("{}/jobs", api.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, _) = error_of(resp).await;
    assert_eq!(status, 405);
}

async fn a_worker_hands_back_a_job_it_could_not_start(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let job = api.submit(&user, &["true"]).await;
    let first = claim(&api, &worker).await.unwrap();
    let hand_back = json!({
        "lease_token": first.lease_token,
        "status": "pending",
        "failure_reason": "cannot create log file: Read-only file system",
    });
    let resp = report(&api, &worker, job.id, hand_back.clone()).await;
    assert_eq!(resp.status(), 200);
    let back: Job = resp.json().await.unwrap();
    assert_eq!(back.status, JobStatus::Pending);
    assert_eq!((back.worker, back.started_at), (None, None));
    assert_eq!(back.failure_reason, None);
    let log = std::fs::read_to_string(api.log_path(job.id)).unwrap();
    assert_eq!(
        log,
        "[jobctl] worker test-worker could not start the job (cannot create log file: \
         Read-only file system); it is pending again\n"
    );
    // A retry after a lost answer is harmless and notes nothing twice.
    let again = report(&api, &worker, job.id, hand_back.clone()).await;
    assert_eq!(again.status(), 200);
    assert_eq!(std::fs::read_to_string(api.log_path(job.id)).unwrap(), log);
    // Another worker takes it; the old lease can no longer hand it back.
    let second = claim(&api, &worker).await.unwrap();
    assert_eq!(second.job.id, job.id);
    assert_ne!(second.lease_token, first.lease_token);
    let stale = report(&api, &worker, job.id, hand_back).await;
    assert_eq!(stale.status(), 409);
    // A job finished cannot go back; a hand-back with an exit code is no
    // hand-back at all.
    let bad = report(
        &api,
        &worker,
        job.id,
        json!({"lease_token": second.lease_token, "status": "pending", "exit_code": 0}),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let running = report(
        &api,
        &worker,
        job.id,
        json!({"lease_token": second.lease_token, "status": "running"}),
    )
    .await;
    assert_eq!(running.status(), 409);
    // Cancelled while a worker was starting it: the hand-back cancels it.
    let resp = api
        .post(&format!("/jobs/{}/cancel", job.id), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = report(
        &api,
        &worker,
        job.id,
        json!({"lease_token": second.lease_token, "status": "pending"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let cancelled: Job = resp.json().await.unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(cancelled.finished_at.is_some());
    let done = report(
        &api,
        &worker,
        job.id,
        json!({"lease_token": second.lease_token, "status": "pending"}),
    )
    .await;
    assert_eq!(done.status(), 200, "a retry of that hand-back too");
}

async fn finished_at_is_when_the_worker_saw_the_end(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let early = api.submit(&user, &["true"]).await;
    let late = api.submit(&user, &["true"]).await;
    let early_lease = claim(&api, &worker).await.unwrap().lease_token;
    let late_lease = claim(&api, &worker).await.unwrap().lease_token;
    let before = chrono::Utc::now();
    // Ended before it started, says a confused report: it is clamped.
    let resp = report(
        &api,
        &worker,
        early.id,
        json!({"lease_token": early_lease, "status": "completed", "exit_code": 0,
               "finished_ms_ago": 86_400_000}),
    )
    .await;
    let early: Job = resp.json().await.unwrap();
    assert_eq!(early.finished_at, early.started_at);
    let resp = report(
        &api,
        &worker,
        late.id,
        json!({"lease_token": late_lease, "status": "failed", "exit_code": 2,
               "failure_reason": "exit code 2", "finished_ms_ago": 0}),
    )
    .await;
    let late: Job = resp.json().await.unwrap();
    let finished = late.finished_at.unwrap();
    assert!(
        finished >= before - chrono::Duration::seconds(1),
        "{finished} vs {before}"
    );
    assert!(finished >= late.started_at.unwrap());
    let huge = report(
        &api,
        &worker,
        late.id,
        json!({"lease_token": late_lease, "status": "failed", "exit_code": 2,
               "failure_reason": "exit code 2", "finished_ms_ago": u64::MAX}),
    )
    .await;
    assert_eq!(huge.status(), 400);
}

async fn nul_is_refused_in_every_string_field(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let job = api.submit(&user, &["true"]).await;
    let claimed = claim(&api, &worker).await.unwrap();
    let nul = "a\u{0}b";
    let bodies = [
        ("/jobs", &user, json!({"command": ["true"], "name": nul})),
        ("/jobs", &user, json!({"command": ["true", nul]})),
        (
            "/jobs",
            &user,
            json!({"command": ["true"], "cwd": format!("/{nul}")}),
        ),
        (
            "/jobs",
            &user,
            json!({"command": ["true"], "env": {"K": nul}}),
        ),
        (
            "/jobs",
            &user,
            json!({"command": ["true"], "env": {nul: "v"}}),
        ),
        ("/workers/claim", &worker, json!({"worker": nul})),
    ];
    let job_path = |route: &str| format!("/jobs/{}/{route}", job.id);
    let reports = [
        (job_path("heartbeat"), &worker, json!({"lease_token": nul})),
        (
            job_path("status"),
            &worker,
            json!({"lease_token": nul, "status": "completed"}),
        ),
        (
            job_path("status"),
            &worker,
            json!({"lease_token": claimed.lease_token, "status": "failed", "failure_reason": nul}),
        ),
    ];
    for (path, token, body) in bodies
        .into_iter()
        .map(|(p, t, b)| (p.to_string(), t, b))
        .chain(reports)
    {
        let resp = api.post(&path, token).json(&body).send().await.unwrap();
        let (status, msg) = error_of(resp).await;
        assert_eq!(status, 400, "{path} {body}: {msg}");
        assert!(msg.contains("NUL"), "{msg}");
    }
    for query in ["owner=a%00b", "id_prefix=%00", "status=%00"] {
        let resp = api
            .get(&format!("/jobs?{query}"), &user)
            .send()
            .await
            .unwrap();
        let (status, msg) = error_of(resp).await;
        assert_eq!(status, 400, "{query}: {msg}");
    }
    // Nothing was stored, and the job's lease still works.
    assert_eq!(api.list(&user, "/jobs").await.jobs.len(), 1);
    let beat = heartbeat(&api, &worker, job.id, &claimed.lease_token).await;
    assert_eq!(beat.status(), 200);
}

async fn command_lines_beyond_the_kernel_limits_are_refused(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let max = jobctl::domain::limits::MAX_ARG_STRLEN;
    for (body, expect) in [
        (
            json!({"command": ["echo", "x".repeat(max)]}),
            "MAX_ARG_STRLEN",
        ),
        (
            json!({"command": ["env"], "env": {"K": "v".repeat(max - 1)}}),
            "MAX_ARG_STRLEN",
        ),
    ] {
        let resp = api.post("/jobs", &user).json(&body).send().await.unwrap();
        let (status, msg) = error_of(resp).await;
        assert_eq!(status, 400, "{msg}");
        assert!(msg.contains(expect), "{msg}");
    }
    // Just within the limit: accepted.
    api.submit_json(&user, json!({"command": ["echo", "x".repeat(max - 1)]}))
        .await;
}
