//! The web UI at a lab's scale, in a real Chromium: a thousand jobs in the
//! store, a dozen running, a burst of submissions, a 200 000-line log.

use std::time::Duration;

use jobctl::domain::JobStatus;
use jobctl::protocol::SubmitJob;
use serde_json::{Value, json};

use crate::harness::{Browser, Stack, tail, wait_for};

fn row(id: impl std::fmt::Display) -> String {
    format!(".job[data-job-id=\"{id}\"]")
}

/// A number the page's script computes.
async fn count(browser: &Browser, script: &str) -> u64 {
    browser.js(script, vec![]).await.as_u64().unwrap_or(0)
}

/// Names of the rows in the Finished section, top to bottom.
async fn finished_names(browser: &Browser) -> Vec<String> {
    let v = browser
        .js(
            "return [...document.querySelectorAll('#finished-list .job .job-name')].map(e => e.textContent);",
            vec![],
        )
        .await;
    serde_json::from_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_lab_scale_live_jobs_stay_in_view_and_every_finished_job_is_reachable() {
    let Some(browser) = Browser::launch("at_lab_scale").await else {
        return;
    };
    let stack = Stack::start_with_slots(Duration::from_secs(1), 16).await;
    let seeded = stack.seed_finished("alice", "old-", 1000).await;
    let hold = stack.flag("hold");
    let mut running = Vec::new();
    for n in 0..12 {
        let script = format!(
            "echo started {n}; while [ ! -e '{}' ]; do sleep 0.2; done",
            hold.display()
        );
        running.push(
            stack
                .submit(&stack.alice, &format!("live-{n:02}"), &script)
                .await,
        );
    }
    for job in &running {
        stack.wait_status(job.id, JobStatus::Running).await;
    }

    browser.sign_in(&stack.web_url, &stack.alice).await;
    assert!(
        !browser.visible("#filter-owner").await,
        "only admins filter by owner"
    );
    let live_running =
        "return document.querySelectorAll('#live-list .job .badge.status-running').length;";
    wait_for("all 12 running jobs in Live", || async {
        match count(&browser, live_running).await {
            12 => Ok(()),
            n => Err(format!("{n} running rows")),
        }
    })
    .await;
    // The newest thousand-odd jobs are not all fetched: one page of finished ones.
    let finished_rows = "return document.querySelectorAll('#finished-list .job').length;";
    assert_eq!(count(&browser, finished_rows).await, 50);

    // Someone watches one job: its log is open and they scroll in it.
    let watched = row(running[0].id);
    let watched_log = format!("{watched} .log");
    browser
        .wait_text(&watched_log, "its output", |t| t.contains("started 0"))
        .await;
    browser.click(&watched_log).await;

    // A burst from a shell: 200 jobs, newer than everything on the page.
    let client = stack.client(&stack.alice);
    let mut burst = Vec::new();
    for n in 0..200 {
        let job = SubmitJob {
            command: vec!["true".into()],
            name: Some(format!("burst-{n:03}")),
            ..SubmitJob::default()
        };
        burst.push(client.submit(&job).await.expect("submit"));
    }
    let newest = burst.last().unwrap().id;
    wait_for("the burst's newest job on the page", || async {
        let shown = browser
            .js(
                "return !!document.querySelector(arguments[0]);",
                vec![json!(row(newest))],
            )
            .await;
        if shown == json!(true) {
            Ok(())
        } else {
            Err("not yet".into())
        }
    })
    .await;
    for job in &running {
        assert!(
            browser
                .visible(&format!("#live-list {} .job-name", row(job.id)))
                .await,
            "{} left the Live section",
            job.name.as_deref().unwrap_or_default()
        );
    }
    // (Burst jobs may be running for a moment too.)
    let ours_running = "return [...document.querySelectorAll('#live-list .job')]
        .filter(j => j.querySelector('.job-name').textContent.startsWith('live-')
                     && j.querySelector('.badge.status-running')).length;";
    assert_eq!(count(&browser, ours_running).await, 12);
    assert_eq!(
        browser.prop(&watched, "open").await,
        json!(true),
        "the watched panel stays open"
    );
    let still = browser.text(&watched_log).await.unwrap();
    assert!(still.contains("started 0"), "{}", tail(&still, 200));

    // Every burst job ends up finished (a worker runs them): then paging
    // reaches the oldest job, each job once.
    for job in &burst {
        stack.wait_status(job.id, JobStatus::Completed).await;
    }
    for _ in 0..100 {
        if !browser.visible("#finished-more").await {
            break;
        }
        let before = count(&browser, finished_rows).await;
        browser.click("#finished-more").await;
        wait_for("an older page", || async {
            let now = count(&browser, finished_rows).await;
            if now > before || !browser.visible("#finished-more").await {
                Ok(())
            } else {
                Err(format!("{now} rows"))
            }
        })
        .await;
    }
    assert!(!browser.visible("#finished-more").await, "paging ends");
    assert!(browser.visible("#finished-end").await);
    let names = finished_names(&browser).await;
    let old: Vec<&String> = names.iter().filter(|n| n.starts_with("old-")).collect();
    assert_eq!(old.len(), 1000, "every seeded job once");
    assert_eq!(
        old.last().unwrap().as_str(),
        "old-0000",
        "the oldest is last"
    );
    assert!(
        browser
            .visible(&format!("#finished-list {} .job-name", row(seeded[0])))
            .await
    );
    let ids = browser
        .js(
            "const ids = [...document.querySelectorAll('.job')].map(e => e.dataset.jobId);
             return [ids.length, new Set(ids).size];",
            vec![],
        )
        .await;
    assert_eq!(ids[0], ids[1], "no job twice on the page");
    let rows = count(&browser, "return document.querySelectorAll('.job').length;").await;
    assert_eq!(rows, 1000 + 12 + 200);

    // A filtered view is a URL: it reloads to the same view.
    let url = format!("{}/?status=cancelled&q=old-012", stack.web_url);
    browser.goto(&url).await;
    for pass in ["loaded", "reloaded"] {
        let names = wait_for(&format!("the filtered list, {pass}"), || async {
            let names = finished_names(&browser).await;
            if names.len() == 10 {
                Ok(names)
            } else {
                Err(format!("{names:?}"))
            }
        })
        .await;
        let expected: Vec<String> = (0..10).rev().map(|n| format!("old-012{n}")).collect();
        assert_eq!(names, expected, "{pass}");
        assert_eq!(
            browser.prop("#filter-status", "value").await,
            json!("cancelled")
        );
        assert_eq!(browser.prop("#filter-q", "value").await, json!("old-012"));
        assert!(
            !browser.visible("#live-section").await,
            "no live job is cancelled"
        );
        assert_eq!(
            browser.js("return location.search;", vec![]).await,
            json!("?status=cancelled&q=old-012")
        );
        browser.client.refresh().await.unwrap();
    }
    // The jobs end: a panel nobody touched folds, the watched one stays
    // open and in place.
    browser.goto(&stack.web_url).await;
    browser
        .wait_text(&watched_log, "its output", |t| t.contains("started 0"))
        .await;
    browser.click(&watched_log).await;
    let other = row(running[1].id);
    browser.wait_prop(&other, "open", json!(true)).await;
    stack.raise(&hold);
    browser
        .wait_text(&format!("{watched} .badge"), "the end", |t| {
            t == "Completed"
        })
        .await;
    browser.wait_prop(&other, "open", json!(false)).await;
    assert_eq!(browser.prop(&watched, "open").await, json!(true));
    assert!(
        browser.visible(&format!("#live-list {watched} .log")).await,
        "the watched job stays where it was"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrow_window_shows_every_jobs_name_next_to_a_long_failure_reason() {
    let Some(browser) = Browser::launch("a_narrow_window").await else {
        return;
    };
    let stack = Stack::start(Duration::from_secs(1)).await;
    let missing = format!("/no/such/program/{}", "deep/".repeat(40));
    let failing = stack
        .client(&stack.alice)
        .submit(&SubmitJob {
            command: vec![missing],
            name: Some("preprocess".into()),
            ..SubmitJob::default()
        })
        .await
        .unwrap();
    let failed = stack.wait_status(failing.id, JobStatus::Failed).await;
    assert!(
        failed.failure_reason.as_deref().unwrap_or_default().len() > 150,
        "{failed:?}"
    );
    stack
        .wait_status(
            stack.submit(&stack.alice, "train", "echo done").await.id,
            JobStatus::Completed,
        )
        .await;
    browser.resize(600, 900).await;
    browser.sign_in(&stack.web_url, &stack.alice).await;
    wait_for("both jobs listed", || async {
        match count(
            &browser,
            "return document.querySelectorAll('#finished-list .job').length;",
        )
        .await
        {
            2 => Ok(()),
            n => Err(format!("{n} rows")),
        }
    })
    .await;
    let widths = browser
        .js(
            "return [...document.querySelectorAll('.job')].map(j => {
                 const name = j.querySelector('.job-name');
                 return [name.textContent, name.getBoundingClientRect().width, name.scrollWidth,
                         j.querySelector('.reason').getBoundingClientRect().width];
             });",
            vec![],
        )
        .await;
    let Value::Array(rows) = widths else {
        panic!("{widths}")
    };
    for r in rows {
        let (shown, whole) = (r[1].as_f64().unwrap(), r[2].as_f64().unwrap());
        assert!(
            shown >= whole.min(100.0) && shown > 30.0,
            "the name {} is hidden: {shown}px of {whole}px (reason {}px)",
            r[0],
            r[3]
        );
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_page_opens_through_sign_in_and_finds_a_line_far_back_in_a_huge_log() {
    let Some(browser) = Browser::launch("a_job_page").await else {
        return;
    };
    let stack = Stack::start(Duration::from_secs(1)).await;
    let job = stack
        .submit(&stack.alice, "huge", "seq 1 200000 | sed 's/^/line /'")
        .await;
    stack.wait_status(job.id, JobStatus::Completed).await;

    // A fresh browser follows a shared link: sign in, then the job.
    let page = format!("{}/jobs/{}", stack.web_url, job.id);
    browser.goto(&page).await;
    assert_eq!(browser.path().await, "/login");
    browser.type_into("#token", &stack.alice).await;
    browser.click("#sign-in").await;
    wait_for("the job page", || async {
        let path = browser.path().await;
        if path == format!("/jobs/{}", job.id) {
            Ok(())
        } else {
            Err(path)
        }
    })
    .await;
    browser
        .wait_text("[data-field=\"id\"]", "the full id", |t| {
            t == job.id.to_string()
        })
        .await;
    assert_eq!(browser.text("#job-title").await.unwrap(), "huge");
    assert_eq!(browser.text("#job-badge").await.unwrap(), "Completed");
    assert_eq!(
        browser.text("[data-field=\"exit-code\"]").await.unwrap(),
        "0"
    );
    assert_eq!(
        browser.text("[data-field=\"owner\"]").await.unwrap(),
        "alice"
    );
    assert!(
        browser
            .text("[data-field=\"command\"]")
            .await
            .unwrap()
            .contains("seq 1 200000")
    );
    assert!(browser.visible("#copy-id").await);
    assert!(
        !browser.visible("#job-cancel").await,
        "a finished job has no Cancel"
    );
    assert_eq!(
        count(
            &browser,
            "return [...document.querySelectorAll('h1')].filter(h => h.checkVisibility()).length;"
        )
        .await,
        1
    );

    let log = "#job-log .log";
    browser
        .wait_text(log, "the tail", |t| t.contains("line 200000"))
        .await;
    // The job's lines, without the worker's closing note.
    let output = |mut lines: Vec<String>| {
        while lines.last().is_some_and(|l| l.starts_with("[jobctl]")) {
            lines.pop();
        }
        lines
    };
    let lines = browser.log_lines(log).await;
    assert_eq!(lines.len(), 2000);
    let lines = output(lines);
    assert_eq!(lines.last().unwrap(), "line 200000");
    let tail_start: u64 = lines[0].trim_start_matches("line ").parse().unwrap();

    // Earlier output joins the tail with nothing missing or doubled.
    browser.click("#job-log .earlier").await;
    let joined = wait_for("earlier output", || async {
        let lines = browser.log_lines(log).await;
        if lines.len() > 2000 {
            Ok(output(lines))
        } else {
            Err(format!("{} lines", lines.len()))
        }
    })
    .await;
    let first: u64 = joined[0].trim_start_matches("line ").parse().unwrap();
    assert!(first < tail_start);
    let expected: Vec<String> = (first..=200000).map(|n| format!("line {n}")).collect();
    assert_eq!(joined.len(), expected.len());
    assert!(joined == expected, "the seam at line {tail_start} is exact");

    // Find a line 150 000 lines back and show it in context.
    browser
        .type_into("#job-log .search-input", "line 50000")
        .await;
    browser.click("#job-log .search-whole").await;
    let found = "#job-log .search-list .match";
    browser
        .wait_text(found, "the match", |t| t == "line 50000")
        .await;
    browser.click(found).await;
    browser
        .wait_text("#job-log .log .ln.target", "the line in context", |t| {
            t == "line 50000"
        })
        .await;
    let around = browser
        .js(
            "const t = document.querySelector('#job-log .log .ln.target');
             const box = t.closest('.log');
             const top = t.getBoundingClientRect().top - box.getBoundingClientRect().top;
             return [t.previousElementSibling.textContent, t.nextElementSibling.textContent,
                     top >= 0 && top < box.clientHeight, t.querySelectorAll('mark').length];",
            vec![],
        )
        .await;
    assert_eq!(around, json!(["line 49999", "line 50001", true, 1]));

    // Wrapping can be turned off.
    assert_eq!(
        browser
            .js(
                "return getComputedStyle(document.querySelector(arguments[0])).whiteSpace;",
                vec![json!(log)]
            )
            .await,
        json!("pre-wrap")
    );
    browser.click("#job-log .wrap").await;
    assert_eq!(
        browser
            .js(
                "return getComputedStyle(document.querySelector(arguments[0])).whiteSpace;",
                vec![json!(log)]
            )
            .await,
        json!("pre")
    );

    // Back to the end of the log.
    browser.click("#job-log .jump").await;
    browser
        .wait_text(log, "the tail again", |t| t.contains("line 200000"))
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_jobs_cost_no_log_requests_and_start_from_one_list_refresh() {
    let Some(browser) = Browser::launch("pending_jobs_cost_no_log_requests").await else {
        return;
    };
    let stack = Stack::start_with_slots(Duration::from_secs(1), 1).await;
    let hold = stack.flag("hold");
    let blocker = stack
        .submit(
            &stack.alice,
            "blocker",
            &format!("while [ ! -e '{}' ]; do sleep 0.1; done", hold.display()),
        )
        .await;
    stack.wait_status(blocker.id, JobStatus::Running).await;
    let mut waiting = Vec::new();
    for n in 0..5 {
        waiting.push(
            stack
                .submit(&stack.alice, &format!("queued-{n}"), "echo ran")
                .await,
        );
    }

    browser.sign_in(&stack.web_url, &stack.alice).await;
    // Count every request the page makes from now on.
    browser
        .js(
            "window.seen = [];
             const real = window.fetch;
             window.fetch = (url, init) => { window.seen.push(String(url)); return real(url, init); };",
            vec![],
        )
        .await;
    let list_requests = "return window.seen.filter(u => u.startsWith('/ui/api/jobs?')).length;";
    wait_for("three list refreshes", || async {
        match count(&browser, list_requests).await {
            n if n >= 6 => Ok(()),
            n => Err(format!("{n} list requests")),
        }
    })
    .await;
    let seen = browser.js("return window.seen;", vec![]).await;
    for job in &waiting {
        assert_eq!(
            browser
                .text(&format!("{} .badge", row(job.id)))
                .await
                .unwrap(),
            "Pending"
        );
        assert!(
            !seen.to_string().contains(&job.id.to_string()),
            "a pending job's log is not polled: {seen}"
        );
    }
    assert!(
        seen.to_string()
            .contains(&format!("/ui/api/jobs/{}/logs", blocker.id)),
        "the running job's log is: {seen}"
    );

    // They start: the list says so, and their logs come.
    stack.raise(&hold);
    for job in &waiting {
        stack.wait_status(job.id, JobStatus::Completed).await;
        browser
            .wait_text(&format!("{} .badge", row(job.id)), "the job done", |t| {
                t == "Completed"
            })
            .await;
    }
    browser.close().await;
}
