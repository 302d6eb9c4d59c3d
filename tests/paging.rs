//! Paging through a lab's worth of jobs and of log: `GET /jobs` cursors and
//! filters, `GET /jobs/{id}/logs?before=`, and `GET /jobs/{id}/logs/search`
//! — over real HTTP, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Backend, TestApi};
use jobctl::domain::{JobId, JobSpec, JobStatus, Role};
use jobctl::log_search::MAX_SCAN_BYTES;
use jobctl::protocol::{ErrorBody, Job, JobList, LogChunk, LogSearch, SubmitJob};
use jobctl::store::{ClaimOffer, JobEnd, JobFilter};

backend_tests!(
    walking_every_page_while_jobs_arrive_yields_each_older_job_once,
    filters_narrow_the_list_and_page_too,
    bad_list_parameters_are_refused,
    the_first_page_and_a_deep_page_are_index_scans,
    before_pages_back_through_a_log_without_gaps_or_repeats,
    search_finds_a_line_far_back_and_the_output_around_it,
    search_goes_on_across_the_per_request_bound,
    bad_search_parameters_are_refused,
);

async fn error_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: ErrorBody = resp
        .json()
        .await
        .expect("every error has a JSON {error} body");
    (status, body.error)
}

fn spec(name: Option<&str>, command: &[&str]) -> JobSpec {
    JobSpec::try_from(SubmitJob {
        command: command.iter().map(|s| s.to_string()).collect(),
        name: name.map(str::to_string),
        ..SubmitJob::default()
    })
    .unwrap()
}

/// Runs one statement on the test's database, whichever it is.
async fn sql(api: &TestApi, statement: &str) {
    if api.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&api.database_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&api.database_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

/// The list order: newest first, ties broken by id, as the stores sort.
fn key(job: &Job) -> (i64, String) {
    (job.created_at.timestamp_micros(), job.id.to_string())
}

/// Every page of `path` (which holds a `?`), `limit` jobs at a time.
async fn walk(api: &TestApi, token: &str, path: &str) -> (Vec<Job>, usize) {
    let mut jobs = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_string(),
        };
        let page = api.list(token, &url).await;
        pages += 1;
        jobs.extend(page.jobs);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return (jobs, pages),
        }
    }
}

async fn walking_every_page_while_jobs_arrive_yields_each_older_job_once(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let user = api.token("alice", Role::User).await;
    let mut older = Vec::new();
    for i in 0..240 {
        older.push(
            api.store
                .insert_job("alice", &spec(Some(&format!("job {i}")), &["true"]))
                .await
                .unwrap(),
        );
    }
    // Many jobs share a creation time, so pages end inside runs of ties:
    // only the id tells them apart.
    if api.database_url.starts_with("sqlite") {
        sql(
            &api,
            "UPDATE jobs SET created_at = created_at - created_at % 1000000",
        )
        .await;
    } else {
        sql(
            &api,
            "UPDATE jobs SET created_at = date_trunc('second', created_at)",
        )
        .await;
    }
    let ties = {
        let all = api.list(&user, "/jobs?limit=1000").await.jobs;
        let times: HashSet<i64> = all
            .iter()
            .map(|j| j.created_at.timestamp_micros())
            .collect();
        all.len() - times.len()
    };
    assert!(
        ties >= 200,
        "only {ties} jobs share a creation time with another"
    );

    // New jobs keep arriving while the pages are walked.
    let store = api.store.clone();
    let arriving = tokio::spawn(async move {
        let mut ids = Vec::new();
        for i in 0..60 {
            ids.push(
                store
                    .insert_job("alice", &spec(Some(&format!("new {i}")), &["true"]))
                    .await
                    .unwrap()
                    .id,
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        ids
    });
    let (seen, pages) = walk(&api, &user, "/jobs?limit=7").await;
    let arrived: HashSet<JobId> = arriving.await.unwrap().into_iter().collect();

    let ids: Vec<JobId> = seen.iter().map(|j| j.id).collect();
    let unique: HashSet<JobId> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a job was listed twice");
    for job in &older {
        assert!(unique.contains(&job.id), "job {} was skipped", job.id);
    }
    for id in &unique {
        assert!(
            older.iter().any(|j| j.id == *id) || arrived.contains(id),
            "{id} is no job of this test"
        );
    }
    for pair in seen.windows(2) {
        assert!(key(&pair[0]) > key(&pair[1]), "out of order: {pair:?}");
    }
    assert!(pages >= 240 / 7, "{pages} pages");

    // Walked again, nothing moves: the same jobs in the same order.
    let (again, _) = walk(&api, &user, "/jobs?limit=50").await;
    let now_listed: Vec<JobId> = again.iter().map(|j| j.id).collect();
    let older_then: Vec<JobId> = ids
        .iter()
        .copied()
        .filter(|id| !arrived.contains(id))
        .collect();
    let older_now: Vec<JobId> = now_listed
        .iter()
        .copied()
        .filter(|id| !arrived.contains(id))
        .collect();
    assert_eq!(older_then, older_now);
    assert_eq!(now_listed.len(), 300);
}

async fn filters_narrow_the_list_and_page_too(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let alice = api.token("alice", Role::User).await;
    let admin = api.token("root", Role::Admin).await;
    let store = api.store.as_ref();
    let train = store
        .insert_job(
            "alice",
            &spec(Some("Train ResNet"), &["python", "train.py"]),
        )
        .await
        .unwrap();
    let percent = store
        .insert_job("alice", &spec(Some("100%_done"), &["true"]))
        .await
        .unwrap();
    let lookalike = store
        .insert_job("alice", &spec(Some("100xydone"), &["true"]))
        .await
        .unwrap();
    let echo = store
        .insert_job("alice", &spec(None, &["echo", "Hello", "World"]))
        .await
        .unwrap();
    let bobs = store
        .insert_job("bob", &spec(Some("train bob"), &["python", "TRAIN.py"]))
        .await
        .unwrap();
    // Move some along: one running, one failed, one cancelled.
    let (claimed, lease) = store
        .claim_job("w1", Duration::from_secs(60), &ClaimOffer::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        claimed.id, train.id,
        "the oldest pending job is claimed first"
    );
    let (second, lease2) = store
        .claim_job("w1", Duration::from_secs(60), &ClaimOffer::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.id, percent.id);
    store
        .finish_job(
            percent.id,
            &lease2,
            &JobEnd {
                status: JobStatus::Failed,
                exit_code: Some(3),
                failure_reason: Some("exit code 3".into()),
                ago: Duration::ZERO,
            },
        )
        .await
        .unwrap();
    store.request_cancel(lookalike.id).await.unwrap();
    let _ = lease;

    let ids = |list: JobList| list.jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let running = api.list(&alice, "/jobs?status=running").await;
    assert_eq!(ids(running), [train.id]);
    let ended = api.list(&alice, "/jobs?status=failed,cancelled").await;
    assert_eq!(ids(ended), [lookalike.id, percent.id]);
    let active = api.list(&alice, "/jobs?status=pending,running").await;
    assert_eq!(ids(active), [echo.id, train.id]);

    // q: a substring of the name or of the command's words, any case.
    let found = api.list(&alice, "/jobs?q=resnet").await;
    assert_eq!(ids(found), [train.id]);
    let found = api.list(&alice, "/jobs?q=hello%20world").await;
    assert_eq!(
        ids(found),
        [echo.id],
        "the command's words joined by spaces"
    );
    let found = api.list(&alice, "/jobs?q=TRAIN").await;
    assert_eq!(ids(found), [train.id], "alice's only: name and command");
    // LIKE's wildcards in q match only themselves.
    let found = api.list(&alice, "/jobs?q=100%25_").await;
    assert_eq!(ids(found), [percent.id]);
    let found = api.list(&alice, "/jobs?q=%25").await;
    assert_eq!(ids(found), [percent.id]);
    let found = api.list(&alice, "/jobs?q=_").await;
    assert_eq!(ids(found), [percent.id]);
    let found = api.list(&alice, "/jobs?q=nothing-like-this").await;
    assert!(found.jobs.is_empty() && found.next_cursor.is_none());

    // Owner: admins choose; a user naming another sees nothing.
    let theirs = api.list(&admin, "/jobs?owner=bob").await;
    assert_eq!(ids(theirs), [bobs.id]);
    let everyone = api.list(&admin, "/jobs?q=train").await;
    assert_eq!(ids(everyone), [bobs.id, train.id]);
    let refused = api.list(&alice, "/jobs?owner=bob&q=train").await;
    assert!(refused.jobs.is_empty() && refused.next_cursor.is_none());

    // Combined, and paged one at a time.
    let combined = api
        .list(&admin, "/jobs?owner=alice&status=pending,running&q=hello")
        .await;
    assert_eq!(ids(combined), [echo.id]);
    let (paged, pages) = walk(&api, &admin, "/jobs?q=train&limit=1").await;
    assert_eq!(
        paged.iter().map(|j| j.id).collect::<Vec<_>>(),
        [bobs.id, train.id]
    );
    assert_eq!(pages, 2, "the last page has no cursor: no empty page");
    let (paged, _) = walk(
        &api,
        &alice,
        "/jobs?status=failed,cancelled,running&limit=2",
    )
    .await;
    assert_eq!(
        paged.iter().map(|j| j.id).collect::<Vec<_>>(),
        [lookalike.id, percent.id, train.id]
    );
}

async fn bad_list_parameters_are_refused(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let alice = api.token("alice", Role::User).await;
    for _ in 0..3 {
        api.submit(&alice, &["true"]).await;
    }
    let page = api.list(&alice, "/jobs?limit=2").await;
    let cursor = page.next_cursor.expect("a second page");
    let tampered = format!("{}A", &cursor);
    for (query, says) in [
        ("cursor=garbage!".to_string(), "invalid cursor"),
        (format!("cursor={tampered}"), "invalid cursor"),
        ("cursor=".to_string(), "invalid cursor"),
        ("status=done".to_string(), "unknown status"),
        ("status=pending,".to_string(), "comma-separated"),
        ("status=pending,bogus".to_string(), "unknown status"),
        ("limit=0".to_string(), "limit"),
        ("limit=1001".to_string(), "limit"),
        ("limit=-1".to_string(), "limit"),
        ("q=".to_string() + &"x".repeat(257), "at most 256"),
        ("sort=name".to_string(), "sort"),
    ] {
        let resp = api
            .get(&format!("/jobs?{query}"), &alice)
            .send()
            .await
            .unwrap();
        let (status, message) = error_of(resp).await;
        assert_eq!(status, 400, "{query}: {message}");
        assert!(
            message.contains(says),
            "{query}: {message:?} should say {says:?}"
        );
    }
    // The good cursor still works after the bad ones, and a cursor is
    // only a position: given to another user it shows none of alice's jobs.
    let rest = api
        .list(&alice, &format!("/jobs?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest.jobs.len(), 1);
    let bob = api.token("bob", Role::User).await;
    let none = api.list(&bob, &format!("/jobs?cursor={cursor}")).await;
    assert!(none.jobs.is_empty());
}

async fn the_first_page_and_a_deep_page_are_index_scans(backend: Backend) {
    let api = TestApi::start(&backend).await;
    // 20 000 jobs of 50 owners, in every status, written straight into the
    // database (the api would take minutes), then analysed so PostgreSQL's
    // planner knows the table is not small.
    let sqlite = api.database_url.starts_with("sqlite");
    if sqlite {
        sql(
            &api,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
             INSERT INTO jobs (id, owner, command, status, created_at) \
             SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'user' || (i % 50), '[\"true\"]', \
                    CASE i % 5 WHEN 0 THEN 'pending' WHEN 1 THEN 'running' WHEN 2 THEN 'completed' \
                               WHEN 3 THEN 'failed' ELSE 'cancelled' END, \
                    1700000000000000 + i * 1000 \
             FROM n; ANALYZE;",
        )
        .await;
    } else {
        sql(
            &api,
            "INSERT INTO jobs (id, owner, command, status, created_at) \
             SELECT md5(i::text)::uuid, 'user' || (i % 50), '[\"true\"]'::jsonb, \
                    (ARRAY['pending','running','completed','failed','cancelled'])[i % 5 + 1], \
                    timestamptz '2024-01-01' + make_interval(secs => i) \
             FROM generate_series(1, 20000) AS i; ANALYZE jobs;",
        )
        .await;
    }
    let first = JobFilter {
        limit: 100,
        ..JobFilter::default()
    };
    let page = api.store.list_jobs(&first).await.unwrap();
    let deep_cursor = {
        let mut filter = JobFilter {
            limit: 1000,
            ..JobFilter::default()
        };
        for _ in 0..15 {
            filter.after = api.store.list_jobs(&filter).await.unwrap().next;
        }
        filter.after.expect("15 000 jobs in, more remain")
    };
    assert_eq!(page.jobs.len(), 100);
    let filters = [
        ("first page", first.clone()),
        (
            "deep page",
            JobFilter {
                after: Some(deep_cursor),
                ..first.clone()
            },
        ),
        (
            "one owner",
            JobFilter {
                owner: Some("user7".into()),
                ..first.clone()
            },
        ),
        (
            "one owner, deep",
            JobFilter {
                owner: Some("user7".into()),
                after: Some(deep_cursor),
                ..first.clone()
            },
        ),
        (
            "one status",
            JobFilter {
                statuses: vec![JobStatus::Failed],
                ..first.clone()
            },
        ),
        (
            "one status, deep",
            JobFilter {
                statuses: vec![JobStatus::Failed],
                after: Some(deep_cursor),
                ..first.clone()
            },
        ),
    ];
    for (what, filter) in filters {
        let plan = if sqlite {
            let store = jobctl::store::SqliteStore::open(
                api.database_url.strip_prefix("sqlite://").unwrap(),
            )
            .await
            .unwrap();
            store.explain_list_jobs(&filter).await.unwrap()
        } else {
            let store = jobctl::store::PostgresStore::open(&api.database_url)
                .await
                .unwrap();
            store.explain_list_jobs(&filter).await.unwrap()
        };
        // A first page reads its rows in order off the index and stops;
        // a deep page may also collect the few rows left under its cursor
        // through the index and sort them (PostgreSQL does, when its
        // statistics say they are few), but never reads the table.
        let sorts = if sqlite {
            assert!(plan.contains("USING INDEX"), "{what}: {plan}");
            plan.contains("TEMP B-TREE")
        } else {
            assert!(plan.contains("Index Scan"), "{what}: {plan}");
            assert!(!plan.contains("Seq Scan"), "{what} scans the table: {plan}");
            plan.contains("Sort")
        };
        assert!(!sorts || what.ends_with("deep"), "{what} sorts: {plan}");
        let index = match what {
            w if w.starts_with("one owner") => "jobs_by_owner_created",
            w if w.starts_with("one status") => "jobs_by_status_created",
            _ => "jobs_by_created",
        };
        // Deep pages are left to the planner: scanning the created_at
        // index under the cursor and filtering is as good when one job in
        // five matches.
        assert!(
            what.ends_with("deep") || plan.contains(index),
            "{what} should use {index}: {plan}"
        );
    }
}

/// A job of `owner` whose log holds `bytes` (the job itself never runs).
async fn job_with_log(api: &TestApi, owner: &str, bytes: &[u8]) -> Job {
    let job = api
        .store
        .insert_job(owner, &spec(Some("logged"), &["true"]))
        .await
        .unwrap();
    std::fs::create_dir_all(&api.logs_dir).unwrap();
    std::fs::write(api.log_path(job.id), bytes).unwrap();
    job
}

async fn logs(api: &TestApi, token: &str, id: JobId, query: &str) -> LogChunk {
    let resp = api
        .get(&format!("/jobs/{id}/logs?{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{query}");
    resp.json().await.unwrap()
}

async fn before_pages_back_through_a_log_without_gaps_or_repeats(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let alice = api.token("alice", Role::User).await;
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("line {i:05} héllo wörld €\n"));
        if i == 12_345 {
            // One line longer than a tail may return: it comes in pieces.
            text.push_str(&"🦀".repeat(400_000));
            text.push('\n');
        }
    }
    let job = job_with_log(&api, "alice", text.as_bytes()).await;
    let size = text.len() as u64;

    // "Load earlier output", from the newest tail up to the first byte.
    let newest = logs(&api, &alice, job.id, "tail=1000").await;
    assert_eq!(newest.next_offset, size);
    let mut pieces = vec![newest.logs.clone()];
    let mut before = newest.offset;
    let mut requests = 0;
    while before > 0 {
        let page = logs(&api, &alice, job.id, &format!("before={before}&tail=1000")).await;
        requests += 1;
        assert_eq!(
            page.next_offset, before,
            "the page ends where the last began"
        );
        assert!(page.offset < before, "progress");
        assert_eq!(page.size, size);
        assert!(page.logs.len() <= 1024 * 1024 + 4, "bounded in bytes");
        if !page.truncated {
            assert!(
                page.offset == 0 || page.logs.lines().count() == 1000,
                "whole pages of 1000 lines"
            );
        }
        pieces.push(page.logs);
        before = page.offset;
    }
    pieces.reverse();
    assert!(pieces.concat() == text, "the pages rebuild the log exactly");
    assert!(requests >= 20, "{requests} pages");

    // Past the end is the end; without tail, the default 1000 lines.
    let clamped = logs(&api, &alice, job.id, &format!("before={}", size + 99)).await;
    assert_eq!(clamped.logs, newest.logs);
    assert_eq!((clamped.offset, clamped.next_offset), (newest.offset, size));
    // Inside a character: the text stops before it, whole.
    let euro_end = text.find("€\n").unwrap() as u64 + 3;
    let cut = logs(
        &api,
        &alice,
        job.id,
        &format!("before={}&tail=1", euro_end - 1),
    )
    .await;
    assert_eq!(cut.next_offset, euro_end - 3);
    assert!(cut.logs.starts_with("line 00000") && cut.logs.ends_with("wörld "));
    let nothing = logs(&api, &alice, job.id, "before=0&tail=5").await;
    assert_eq!((nothing.logs.as_str(), nothing.offset), ("", 0));

    for (query, says) in [
        ("before=5&offset=1", "not both"),
        ("before=-1", "before"),
        ("before=x", "before"),
        ("before=9223372036854775808", "beyond"),
        ("before=5&tail=10001", "at most"),
    ] {
        let resp = api
            .get(&format!("/jobs/{}/logs?{query}", job.id), &alice)
            .send()
            .await
            .unwrap();
        let (status, message) = error_of(resp).await;
        assert_eq!(status, 400, "{query}");
        assert!(message.contains(says), "{query}: {message}");
    }
    // Another user's job is not found, with or without before.
    let bob = api.token("bob", Role::User).await;
    let resp = api
        .get(&format!("/jobs/{}/logs?before=10", job.id), &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // A job with no log yet: empty, not an error.
    let quiet = api
        .store
        .insert_job("alice", &spec(None, &["true"]))
        .await
        .unwrap();
    let empty = logs(&api, &alice, quiet.id, "before=100&tail=10").await;
    assert_eq!((empty.logs.as_str(), empty.offset, empty.size), ("", 0, 0));
}

async fn search(api: &TestApi, token: &str, id: JobId, query: &str) -> LogSearch {
    let resp = api
        .get(&format!("/jobs/{id}/logs/search?{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{query}");
    resp.json().await.unwrap()
}

async fn search_finds_a_line_far_back_and_the_output_around_it(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let alice = api.token("alice", Role::User).await;
    let mut text = String::new();
    let mut wanted_at = 0;
    for i in 0..200_000 {
        if i == 50_000 {
            wanted_at = text.len();
            text.push_str("epoch 17: loss=NaN, stopping\n");
        } else {
            text.push_str(&format!("epoch {i}: loss=0.{i:06}\n"));
        }
    }
    // One line longer than a match's text, the string deep inside it.
    let long_at = text.len();
    text.push_str(&format!(
        "{} loss=NaN {}\n",
        "é".repeat(30_000),
        "z".repeat(30_000)
    ));
    text.push_str("last line\n");
    let job = job_with_log(&api, "alice", text.as_bytes()).await;

    let found = search(&api, &alice, job.id, "q=loss%3DNaN").await;
    assert_eq!(
        found.next_after, None,
        "a 4 MB log is searched in one request"
    );
    assert_eq!(found.scanned_bytes, text.len() as u64);
    assert_eq!(found.size, text.len() as u64);
    assert_eq!(found.matches.len(), 2);
    let hit = &found.matches[0];
    assert_eq!(hit.offset, wanted_at as u64);
    assert_eq!(hit.text, "epoch 17: loss=NaN, stopping");
    assert!(!hit.truncated);
    let long = &found.matches[1];
    assert_eq!(long.offset, long_at as u64);
    assert!(
        long.truncated && long.text.len() <= 1024,
        "{}",
        long.text.len()
    );
    assert!(long.text.contains("loss=NaN"));
    assert!(long.text_offset > long.offset && long.match_offset > long.text_offset);

    // Jump to it: the lines before the match and the match itself.
    let line_end = hit.offset + hit.text.len() as u64 + 1;
    let around = logs(&api, &alice, job.id, &format!("before={line_end}&tail=3")).await;
    assert_eq!(
        around.logs,
        "epoch 49998: loss=0.049998\nepoch 49999: loss=0.049999\nepoch 17: loss=NaN, stopping\n"
    );
    let after = logs(&api, &alice, job.id, &format!("offset={}", hit.offset)).await;
    assert!(
        after
            .logs
            .starts_with("epoch 17: loss=NaN, stopping\nepoch 50001: ")
    );

    // Case: exact unless asked; ASCII letters fold.
    let none = search(&api, &alice, job.id, "q=LOSS%3Dnan").await;
    assert!(none.matches.is_empty());
    let folded = search(&api, &alice, job.id, "q=LOSS%3Dnan&ignore_case=true").await;
    assert_eq!(folded.matches.len(), 2);
    // limit: one at a time, continuing after each.
    let first = search(&api, &alice, job.id, "q=loss%3DNaN&limit=1").await;
    assert_eq!(first.matches, found.matches[..1]);
    let next = first.next_after.expect("more to search");
    assert_eq!(next, line_end, "the line after the match");
    let second = search(
        &api,
        &alice,
        job.id,
        &format!("q=loss%3DNaN&limit=1&after={next}"),
    )
    .await;
    assert_eq!(second.matches, found.matches[1..]);
    assert_eq!(second.next_after, Some(text.len() as u64 - 10));
    let third = search(
        &api,
        &alice,
        job.id,
        &format!("q=loss%3DNaN&after={}", second.next_after.unwrap()),
    )
    .await;
    assert!(third.matches.is_empty() && third.next_after.is_none());
    // Past the end: nothing, and done.
    let beyond = search(&api, &alice, job.id, "q=x&after=999999999").await;
    assert!(beyond.matches.is_empty() && beyond.next_after.is_none());
    assert_eq!(beyond.scanned_bytes, 0);
}

async fn search_goes_on_across_the_per_request_bound(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let alice = api.token("alice", Role::User).await;
    // Just over one request's bound of log; one line straddles the bound,
    // with "Needle" before it and "NEEDLE" after it.
    let bound = MAX_SCAN_BYTES as usize;
    let mut data: Vec<u8> = Vec::with_capacity(bound + 2 * 1024 * 1024);
    let mut i = 0u64;
    while data.len() < bound - 300 {
        let line = match i % 9973 {
            5 => format!("line {i}: a Needle here, and a needle there\n"),
            77 => format!("line {i}: NEEDLE in capitals\n"),
            _ => format!("line {i}: nothing to see, just some filler text\n"),
        };
        data.extend_from_slice(line.as_bytes());
        i += 1;
    }
    let straddle = data.len();
    data.extend_from_slice(b"straddling: Needle ");
    data.resize(bound + 100, b'-');
    data.extend_from_slice(b" NEEDLE\n");
    for j in 0..20_000 {
        let line = match j % 997 {
            3 => format!("tail {j}: needle\n"),
            _ => format!("tail {j}: filler\n"),
        };
        data.extend_from_slice(line.as_bytes());
    }
    let job = job_with_log(&api, "alice", &data).await;

    for (q, ignore_case) in [("NEEDLE", false), ("needle", true)] {
        let want = naive_lines(&data, q, ignore_case);
        assert!(want.iter().any(|&(line, _)| line == straddle as u64));
        let mut got = Vec::new();
        let mut after = 0;
        let mut requests = 0;
        loop {
            let page = search(
                &api,
                &alice,
                job.id,
                &format!("q={q}&ignore_case={ignore_case}&limit=1000&after={after}"),
            )
            .await;
            requests += 1;
            assert!(
                page.scanned_bytes <= MAX_SCAN_BYTES,
                "{}",
                page.scanned_bytes
            );
            assert!(page.matches.len() <= 1000);
            got.extend(page.matches.iter().map(|m| (m.offset, m.match_offset)));
            match page.next_after {
                Some(next) => {
                    assert!(next > after);
                    after = next;
                }
                None => break,
            }
        }
        assert!(requests >= 2, "{q}: the bound was crossed");
        assert_eq!(got, want, "{q}: every matching line once, in order");
    }
}

/// (line start, first occurrence) of each matching line, the obvious way.
fn naive_lines(data: &[u8], q: &str, ignore_case: bool) -> Vec<(u64, u64)> {
    let mut found = Vec::new();
    let mut start = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let hay = if ignore_case {
            line.to_ascii_lowercase()
        } else {
            line.to_vec()
        };
        if let Some(i) = hay.windows(q.len()).position(|w| w == q.as_bytes()) {
            found.push((start as u64, (start + i) as u64));
        }
        start += line.len();
    }
    found
}

async fn bad_search_parameters_are_refused(backend: Backend) {
    let api = TestApi::start(&backend).await;
    let alice = api.token("alice", Role::User).await;
    let job = job_with_log(&api, "alice", b"hello\n").await;
    for (query, says) in [
        ("", "q"),
        ("q=", "empty"),
        ("q=a%0Ab", "line break"),
        (&format!("q={}", "x".repeat(1025)), "1024"),
        ("q=x&limit=0", "limit"),
        ("q=x&limit=1001", "limit"),
        ("q=x&after=-1", "after"),
        ("q=x&after=9223372036854775808", "beyond"),
        ("q=x&ignore_case=maybe", "ignore_case"),
        ("q=x&regex=1", "regex"),
    ] {
        let resp = api
            .get(&format!("/jobs/{}/logs/search?{query}", job.id), &alice)
            .send()
            .await
            .unwrap();
        let (status, message) = error_of(resp).await;
        assert_eq!(status, 400, "{query}: {message}");
        assert!(
            message.contains(says),
            "{query}: {message:?} should say {says:?}"
        );
    }
    // The same auth rules as every route.
    let bob = api.token("bob", Role::User).await;
    let resp = api
        .get(&format!("/jobs/{}/logs/search?q=hello", job.id), &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "another user's job is not found");
    let resp = api
        .get(
            &format!("/jobs/{}/logs/search?q=hello", JobId::new()),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = api
        .get("/jobs/not-a-uuid/logs/search?q=hello", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let worker = api.token("w1", Role::Worker).await;
    let resp = api
        .get(&format!("/jobs/{}/logs/search?q=hello", job.id), &worker)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = api
        .http
        .get(format!("{}/jobs/{}/logs/search?q=hello", api.url, job.id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // An admin may search anyone's; a job without a log has no matches.
    let admin = api.token("root", Role::Admin).await;
    let found = search(&api, &admin, job.id, "q=hello").await;
    assert_eq!(found.matches.len(), 1);
    let quiet = api
        .store
        .insert_job("alice", &spec(None, &["true"]))
        .await
        .unwrap();
    let empty = search(&api, &alice, quiet.id, "q=hello").await;
    assert!(empty.matches.is_empty() && empty.next_after.is_none());
    assert_eq!((empty.scanned_bytes, empty.size), (0, 0));
}
