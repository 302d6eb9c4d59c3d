//! The web UI, driven in a real headless Chromium against a real api and
//! worker on loopback: what a person sees and does on the jobs page.
//!
//! A few tests at the end need no browser: they check the HTTP surface
//! (headers, cross-site refusal, the proxy) with plain requests.

mod harness;
mod scale;
mod workers;

use std::time::Duration;

use harness::{Browser, DEADLINE, Stack, max_number_after, tail, wait_for};
use jobctl::domain::JobStatus;
use reqwest::StatusCode;
use reqwest::header;
use serde_json::json;

/// The page's refresh interval in most tests: fast, so they do not idle.
const FAST: Duration = Duration::from_secs(1);

fn row(id: impl std::fmt::Display) -> String {
    format!(".job[data-job-id=\"{id}\"]")
}

/// How far the log box is from its end, in pixels, and whether it scrolls.
async fn distance_from_end(browser: &Browser, log: &str) -> (f64, bool) {
    let v = browser
        .js(
            "const b = document.querySelector(arguments[0]);
             return [b.scrollHeight - b.clientHeight - b.scrollTop, b.scrollHeight > b.clientHeight];",
            vec![json!(log)],
        )
        .await;
    (v[0].as_f64().unwrap(), v[1].as_bool().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_takes_a_good_token_refuses_a_bad_one_and_signing_out_ends_the_session() {
    let Some(browser) = Browser::launch("signing_in").await else {
        return;
    };
    let stack = Stack::start(FAST).await;

    browser.goto(&stack.web_url).await;
    assert_eq!(
        browser.path().await,
        "/login",
        "a stranger is sent to sign in"
    );

    browser
        .type_into("#token", "jobctl_000000000000_not-a-real-token")
        .await;
    browser.click("#sign-in").await;
    let error = browser
        .wait_text("#login-error", "the refusal", |t| !t.is_empty())
        .await;
    assert!(error.contains("did not accept this token"), "{error}");
    assert!(browser.visible("#login-error").await);
    assert_eq!(browser.path().await, "/login");
    assert!(
        browser.client.get_all_cookies().await.unwrap().is_empty(),
        "no session for a bad token"
    );

    browser.sign_in(&stack.web_url, &stack.alice).await;
    assert_eq!(browser.path().await, "/");
    assert_eq!(browser.text("#who-name").await.unwrap(), "alice");
    assert_eq!(browser.text("#who-role").await.unwrap(), "user");
    assert!(
        !browser.visible(".jobs-head .col-owner").await,
        "a user sees no owner column"
    );
    browser
        .wait_text("#jobs-empty", "the empty list", |t| {
            t.contains("No jobs yet")
        })
        .await;

    let cookie = browser.session_cookie().await;
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(format!("{:?}", cookie.same_site()), "Some(Strict)");
    assert_eq!(cookie.path(), Some("/"));
    assert_ne!(cookie.value(), stack.alice, "the cookie is not the token");
    assert_eq!(
        browser.js("return document.cookie;", vec![]).await,
        json!(""),
        "the page's script cannot read the session"
    );
    assert!(
        !browser
            .client
            .source()
            .await
            .unwrap()
            .contains(&stack.alice)
    );
    let session = cookie.value().to_string();

    browser.click("#sign-out").await;
    wait_for("the login page after signing out", || async {
        match browser.path().await.as_str() {
            "/login" => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;
    let after = reqwest::Client::new()
        .get(format!("{}/ui/api/session", stack.web_url))
        .header(header::COOKIE, format!("jobctl_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the old session id is dead on the server"
    );
    browser.goto(&stack.web_url).await;
    assert_eq!(browser.path().await, "/login");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_jobs_log_grows_on_screen_and_a_finished_jobs_log_opens_on_click() {
    let Some(browser) = Browser::launch("a_running_jobs_log_grows").await else {
        return;
    };
    // The production refresh interval, as the screenshot shows it.
    let stack = Stack::start(jobctl::web::WebConfig::new(String::new()).refresh_interval).await;

    // Scripts in the job's working directory, so that the page (and the
    // screenshot) shows commands as a person would type them.
    let finished = stack
        .submit_script(
            &stack.admin,
            "prepare-dataset",
            "prepare.sh",
            "for s in 1 2 3; do echo \"downloading shard $s/3\"; done\n\
             echo 'dataset ready: 3 shards, 48000 images'\n",
            &["--shards", "3"],
        )
        .await;
    stack.wait_status(finished.id, JobStatus::Completed).await;

    let stop = stack.dir.path().join("train.stop");
    let training = stack
        .submit_script(
            &stack.alice,
            "train-resnet",
            "train.sh",
            r#"echo 'loading dataset: 3 shards, 48000 images'
i=0
while [ ! -e train.stop ]; do
  i=$((i + 1))
  bar=''
  for p in 25 50 75 100; do
    bar="${bar}#####"
    printf '\rbatch %3d%% [%-20s]' "$p" "$bar"
    sleep 0.05
  done
  printf '\n'
  loss=$((24000 / (i + 10)))
  printf '\033[1;32mepoch %d\033[0m  loss=%d.%03d  acc=0.%02d  lr=3e-4\n' "$i" $((loss / 1000)) $((loss % 1000)) $((60 + i % 40))
  sleep 0.3
done
echo 'training finished'
"#,
            &["--epochs", "50"],
        )
        .await;
    stack.wait_status(training.id, JobStatus::Running).await;
    wait_for("the job to write its first epochs", || async {
        let log = stack.log_on_disk(training.id);
        max_number_after(&log, "epoch ")
            .filter(|n| *n >= 2)
            .ok_or(log)
    })
    .await;

    browser.sign_in(&stack.web_url, &stack.admin).await;
    let live = row(training.id);
    let live_log = format!("{live} .log");
    let first = browser
        .wait_text(&live_log, "epochs", |t| t.contains("epoch "))
        .await;
    let first = max_number_after(&first, "epoch ").unwrap();
    assert_eq!(
        browser.prop(&live, "open").await,
        json!(true),
        "a running job's panel is open"
    );
    browser
        .js("window.jobctlTestMarker = 'no reload';", vec![])
        .await;

    browser
        .wait_text(&live_log, "three more epochs", |t| {
            max_number_after(t, "epoch ").is_some_and(|n| n >= first + 3)
        })
        .await;
    assert_eq!(
        browser.js("return window.jobctlTestMarker;", vec![]).await,
        json!("no reload"),
        "the log grew without reloading the page"
    );
    assert_eq!(
        browser.text(&format!("{live} .badge")).await.unwrap(),
        "Running"
    );
    assert_eq!(
        browser.text(&format!("{live} .cell-owner")).await.unwrap(),
        "alice"
    );
    assert!(
        browser.visible(&format!("{live} .cell-owner")).await,
        "an admin sees owners"
    );
    assert!(
        browser
            .text("#list-updated")
            .await
            .unwrap()
            .contains("refreshing every 5 s while jobs run"),
        "the list refreshes while a job runs"
    );
    assert!(
        browser
            .text(&format!("{live} .log-updated"))
            .await
            .unwrap()
            .starts_with("Updated "),
        "the time of the last update shows"
    );

    // Progress bars show their last state, colours are spans, no escape shows.
    let lines = browser.log_lines(&live_log).await;
    let complete = &lines[..lines.len() - 1];
    let bars: Vec<&String> = complete.iter().filter(|l| l.contains("batch ")).collect();
    assert!(!bars.is_empty(), "{lines:?}");
    for bar in bars {
        assert_eq!(
            bar, "batch 100% [####################]",
            "only the last state of a bar shows"
        );
    }
    let text = lines.concat();
    assert!(!text.contains('\u{1b}') && !text.contains("[1;32m") && !text.contains('\r'));
    let coloured = browser
        .text(&format!("{live} .log span.fg2.b"))
        .await
        .expect("epoch numbers in bold green");
    assert!(coloured.starts_with("epoch "), "{coloured}");

    // The finished job: collapsed, and its log not even fetched yet.
    let done = row(finished.id);
    assert_eq!(browser.prop(&done, "open").await, json!(false));
    assert_eq!(
        browser
            .prop(&format!("{done} .log"), "childElementCount")
            .await,
        json!(0)
    );
    assert_eq!(
        browser.text(&format!("{done} .badge")).await.unwrap(),
        "Completed"
    );

    // The README's screenshot is refreshed only when asked: a test run
    // never rewrites a tracked file.
    let shot = browser.client.screenshot().await.unwrap();
    assert!(shot.starts_with(b"\x89PNG"), "a screenshot is a PNG");
    if std::env::var_os("JOBCTL_UPDATE_SCREENSHOT").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshot.png");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, shot).unwrap();
    }

    browser.click(&format!("{done} > summary")).await;
    let shown = browser
        .wait_text(&format!("{done} .log"), "the finished log", |t| {
            t.contains("dataset ready: 3 shards")
        })
        .await;
    assert!(shown.contains("downloading shard 1/3"));
    assert_eq!(
        browser.text(&format!("{done} .job-command")).await.unwrap(),
        "sh prepare.sh --shards 3"
    );
    assert!(browser.visible(&format!("{done} .log")).await);
    let href = browser
        .prop(&format!("{done} a.download"), "href")
        .await
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        href,
        format!(
            "{}/ui/api/jobs/{}/logs/download",
            stack.web_url, finished.id
        )
    );
    let session = browser.session_cookie().await;
    let download = reqwest::Client::new()
        .get(&href)
        .header(
            header::COOKIE,
            format!("{}={}", session.name(), session.value()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert!(
        download.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(
        download.text().await.unwrap(),
        stack.log_on_disk(finished.id)
    );

    // The running job ends: polling stops, the last bytes come in, the
    // panel folds up and shows the final state.
    stack.raise(&stop);
    browser
        .wait_text(&format!("{live} .badge"), "the final state", |t| {
            t == "Completed"
        })
        .await;
    browser.wait_prop(&live, "open", json!(false)).await;
    let last = browser.text(&live_log).await.unwrap();
    assert!(
        last.contains("training finished"),
        "the last bytes were fetched: {}",
        tail(&last, 200)
    );
    assert_eq!(
        browser.text(&format!("{live} .log-state")).await.unwrap(),
        "Finished"
    );
    // Nothing runs any more: the list refreshes slowly, so jobs submitted
    // from a shell still appear, and the ended job is among the finished.
    browser
        .wait_text("#list-updated", "an idle list", |t| {
            t.starts_with("Updated") && t.ends_with("refreshing every 30 s")
        })
        .await;
    assert!(browser.visible("#live-empty").await);
    assert!(
        browser.visible(&format!("#finished-list {live}")).await,
        "the ended job moved to Finished"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_logs_and_job_names_is_shown_as_text_and_never_runs() {
    let Some(browser) = Browser::launch("markup_in_logs").await else {
        return;
    };
    let stack = Stack::start(FAST).await;
    let name = "<img src=x onerror=alert(1)>";
    let stop = stack.flag("hostile");
    let job = stack
        .submit(
            &stack.alice,
            name,
            &format!(
                "printf '%s\\n' '<img src=x onerror=alert(1)>' '<script>alert(2)</script>' '<b>not bold</b> &amp;'; \
                 while [ ! -e '{}' ]; do sleep 0.2; done; echo '<img src=y onerror=alert(3)>'",
                stop.display()
            ),
        )
        .await;

    browser.sign_in(&stack.web_url, &stack.alice).await;
    let r = row(job.id);
    let log = format!("{r} .log");
    let text = browser
        .wait_text(&log, "the markup as text", |t| {
            t.contains("<script>alert(2)</script>")
        })
        .await;
    assert!(text.contains("<img src=x onerror=alert(1)>"), "{text}");
    assert!(text.contains("<b>not bold</b> &amp;"), "{text}");
    assert_eq!(browser.text(&format!("{r} .job-name")).await.unwrap(), name);

    let assert_inert = |when: &'static str| {
        let browser = &browser;
        async move {
            let counts = browser
                .js(
                    "return [document.querySelectorAll('img').length,
                             document.querySelectorAll('script').length,
                             document.querySelectorAll('.log b, .job-name *').length];",
                    vec![],
                )
                .await;
            assert_eq!(
                counts,
                json!([0, 1, 0]),
                "{when}: no element made from job text (img, script, b)"
            );
            let alert = browser.client.get_alert_text().await;
            assert!(
                matches!(&alert, Err(e) if e.is_no_such_alert()),
                "{when}: a dialog opened: {alert:?}"
            );
        }
    };
    assert_inert("live").await;

    stack.raise(&stop);
    stack.wait_status(job.id, JobStatus::Completed).await;
    browser.wait_prop(&r, "open", json!(false)).await;
    // Reload: the finished log is now fetched fresh when opened.
    browser.client.refresh().await.unwrap();
    browser
        .wait_text(&format!("{r} .badge"), "the final state", |t| {
            t == "Completed"
        })
        .await;
    browser.click(&format!("{r} > summary")).await;
    browser
        .wait_text(&log, "the last line", |t| t.contains("alert(3)"))
        .await;
    assert_inert("finished").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_outage_shows_an_error_keeps_the_log_and_recovers() {
    let Some(browser) = Browser::launch("an_api_outage").await else {
        return;
    };
    let mut stack = Stack::start(FAST).await;
    let stop = stack.flag("ticks");
    let job = stack
        .submit(
            &stack.alice,
            "ticker",
            &format!(
                "i=0; while [ ! -e '{}' ]; do i=$((i+1)); echo \"tick $i\"; sleep 0.3; done",
                stop.display()
            ),
        )
        .await;
    browser.sign_in(&stack.web_url, &stack.alice).await;
    let r = row(job.id);
    let log = format!("{r} .log");
    browser
        .wait_text(&log, "a few ticks", |t| {
            max_number_after(t, "tick ").is_some_and(|n| n >= 3)
        })
        .await;

    stack.stop_api().await;
    let error = browser
        .wait_text(&format!("{r} .log-error"), "the refresh error", |t| {
            t.contains("Could not refresh the log")
        })
        .await;
    assert!(error.contains("the job service is unreachable"), "{error}");
    // Neither the panel nor the list header says it is live meanwhile.
    browser
        .wait_text(&format!("{r} .log-state"), "the lost connection", |t| {
            t.starts_with("Connection lost")
        })
        .await;
    browser
        .wait_text("#list-updated", "the list's lost connection", |t| {
            t.contains("connection lost") && !t.contains("while jobs run")
        })
        .await;
    assert!(
        !error.contains(&stack.api_url),
        "the API's address is not shown: {error}"
    );
    assert!(browser.visible(&format!("{r} .log-error")).await);
    browser.wait_visible("#list-error").await;
    let kept = browser.log_lines(&log).await;
    assert_eq!(
        kept.first().map(String::as_str),
        Some("tick 1"),
        "the old log stays on screen"
    );
    let seen = max_number_after(&kept.concat(), "tick ").unwrap();
    assert!(browser.visible(&log).await, "the log box is still shown");

    // The job goes on writing while the api is away.
    let written = wait_for("the job to write on through the outage", || async {
        let disk = stack.log_on_disk(job.id);
        max_number_after(&disk, "tick ")
            .filter(|n| *n >= seen + 3)
            .ok_or(tail(&disk, 100).to_string())
    })
    .await;

    stack.start_api().await;
    browser
        .wait_text(&log, "the log moving on", |t| {
            max_number_after(t, "tick ").is_some_and(|n| n >= written)
        })
        .await;
    wait_for("the errors to clear", || async {
        let panel = browser.visible(&format!("{r} .log-error")).await;
        let list = browser.visible("#list-error").await;
        if !panel && !list {
            Ok(())
        } else {
            Err(format!(
                "panel error shown: {panel}, list error shown: {list}"
            ))
        }
    })
    .await;
    // Every tick once, in order: nothing lost or repeated across the outage.
    let after = browser.log_lines(&log).await;
    let expected: Vec<String> = (1..=after.len()).map(|n| format!("tick {n}")).collect();
    assert_eq!(after, expected);
    assert!(after.len() as u64 >= written);
    stack.raise(&stop);
    stack.wait_status(job.id, JobStatus::Completed).await;

    // A page loaded while the API is away says so rather than "Loading"
    // forever, and fills in once it is back.
    stack.stop_api().await;
    browser.client.refresh().await.unwrap();
    let said = browser
        .wait_text("#list-error", "the outage", |t| {
            t.contains("the job service is unreachable")
        })
        .await;
    assert!(said.ends_with("Retrying every 1 s."), "{said}");
    assert!(
        !browser.visible("#jobs-loading").await,
        "not loading forever"
    );
    stack.start_api().await;
    browser
        .wait_text(&format!("{r} .badge"), "the job after the outage", |t| {
            t == "Completed"
        })
        .await;
    assert!(!browser.visible("#list-error").await);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_fetches_at_once_and_scrolling_up_stops_following_the_end() {
    let Some(browser) = Browser::launch("refresh_fetches_at_once").await else {
        return;
    };
    // Nothing refreshes by itself within the test's deadlines: every change
    // on screen comes from a click.
    let stack = Stack::start(Duration::from_secs(120)).await;
    assert!(DEADLINE < Duration::from_secs(120));
    let stop = stack.flag("rows");
    let job = stack
        .submit(
            &stack.alice,
            "rows",
            &format!(
                "i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo \"row $i\"; done; \
                 while [ ! -e '{}' ]; do i=$((i+1)); echo \"row $i\"; sleep 0.1; done",
                stop.display()
            ),
        )
        .await;
    wait_for("300 rows on disk", || async {
        let disk = stack.log_on_disk(job.id);
        max_number_after(&disk, "row ")
            .filter(|n| *n >= 300)
            .ok_or(tail(&disk, 50).to_string())
    })
    .await;
    browser.sign_in(&stack.web_url, &stack.alice).await;
    let r = row(job.id);
    let log = format!("{r} .log");
    let refresh = format!("{r} .refresh");
    let jump = format!("{r} .jump");
    let shown = |text: &str| max_number_after(text, "row ").unwrap_or(0);
    let first = shown(
        &browser
            .wait_text(&log, "the first rows", |t| shown(t) >= 300)
            .await,
    );
    let (gap, scrolls) = distance_from_end(&browser, &log).await;
    assert!(scrolls, "300 rows overflow the box");
    assert!(gap <= 8.0, "a live log starts at its end: {gap}px away");
    let updated = browser.text(&format!("{r} .log-updated")).await.unwrap();

    // Refresh: new rows at once, not at the next (two minutes away) poll.
    let wait_disk_beyond = |n: u64| {
        let stack = &stack;
        async move {
            wait_for("more rows on disk", || async {
                let disk = stack.log_on_disk(job.id);
                max_number_after(&disk, "row ")
                    .filter(|m| *m >= n + 5)
                    .ok_or(format!("{:?}", max_number_after(&disk, "row ")))
            })
            .await
        }
    };
    // Rows come at most every 0.1 s: a dozen more is more than a second,
    // so the time of the next update reads differently.
    let on_disk = wait_disk_beyond(first + 7).await;
    assert_eq!(
        shown(&browser.text(&log).await.unwrap()),
        first,
        "nothing refreshes by itself"
    );
    assert_eq!(
        browser.text(&format!("{r} .log-updated")).await.unwrap(),
        updated,
        "nothing refreshes by itself"
    );
    browser.click(&refresh).await;
    let second = shown(
        &browser
            .wait_text(&log, "the rows Refresh fetched", |t| shown(t) >= on_disk)
            .await,
    );
    assert!(
        distance_from_end(&browser, &log).await.0 <= 8.0,
        "still following"
    );
    assert!(!browser.visible(&jump).await);
    let refreshed = browser.text(&format!("{r} .log-updated")).await.unwrap();
    assert!(refreshed.starts_with("Updated "), "{refreshed}");
    assert_ne!(refreshed, updated, "Refresh says when it updated");

    // Scrolled up, the box stays where the reader is.
    browser
        .js(
            "document.querySelector(arguments[0]).scrollTop = 0;",
            vec![json!(log)],
        )
        .await;
    browser.wait_visible(&jump).await;
    let on_disk = wait_disk_beyond(second).await;
    browser.click(&refresh).await;
    browser
        .wait_text(&log, "more rows", |t| shown(t) >= on_disk)
        .await;
    let top = browser.prop(&log, "scrollTop").await.as_f64().unwrap();
    assert!(top < 1.0, "the box did not follow the end: scrollTop {top}");
    assert!(browser.visible(&jump).await);

    browser.click(&jump).await;
    wait_for("the box at its end", || async {
        let (gap, _) = distance_from_end(&browser, &log).await;
        if gap <= 8.0 {
            Ok(())
        } else {
            Err(format!("{gap}px away"))
        }
    })
    .await;
    assert!(
        !browser.visible(&jump).await,
        "jump to end hides at the end"
    );
    let third = shown(&browser.text(&log).await.unwrap());
    let on_disk = wait_disk_beyond(third).await;
    browser.click(&refresh).await;
    browser
        .wait_text(&log, "more rows", |t| shown(t) >= on_disk)
        .await;
    assert!(
        distance_from_end(&browser, &log).await.0 <= 8.0,
        "following again after jumping to the end"
    );
    stack.raise(&stop);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selecting_text_in_a_log_pauses_its_refresh_until_the_selection_ends() {
    let Some(browser) = Browser::launch("selecting_text").await else {
        return;
    };
    let stack = Stack::start(Duration::from_millis(300)).await;
    let stop = stack.flag("lines");
    let job = stack
        .submit(
            &stack.alice,
            "lines",
            &format!(
                "i=0; while [ ! -e '{}' ]; do i=$((i+1)); echo \"line $i\"; sleep 0.1; done",
                stop.display()
            ),
        )
        .await;
    browser.sign_in(&stack.web_url, &stack.alice).await;
    let r = row(job.id);
    let log = format!("{r} .log");
    let shown = |t: &str| max_number_after(t, "line ").unwrap_or(0);
    browser
        .wait_text(&log, "some lines", |t| shown(t) >= 5)
        .await;

    browser
        .js(
            "const box = document.querySelector(arguments[0]);
             const range = document.createRange();
             range.selectNodeContents(box.firstElementChild);
             const sel = document.getSelection();
             sel.removeAllRanges();
             sel.addRange(range);",
            vec![json!(log)],
        )
        .await;
    browser
        .wait_text(&format!("{r} .log-state"), "the pause", |t| {
            t.contains("Paused")
        })
        .await;
    let frozen = browser.text(&log).await.unwrap();
    // Ten more lines on disk is several refresh intervals: had the box not
    // paused, it would have moved.
    let target = shown(&frozen) + 10;
    wait_for("more lines on disk", || async {
        let disk = stack.log_on_disk(job.id);
        max_number_after(&disk, "line ")
            .filter(|n| *n >= target)
            .ok_or(String::new())
    })
    .await;
    assert_eq!(
        browser.text(&log).await.unwrap(),
        frozen,
        "the log did not change under the selection"
    );
    assert_eq!(
        browser
            .js("return document.getSelection().toString();", vec![])
            .await,
        json!("line 1"),
        "the selection survived"
    );

    browser
        .js("document.getSelection().removeAllRanges();", vec![])
        .await;
    browser
        .wait_text(&log, "the log moving on", |t| shown(t) >= target)
        .await;
    assert!(
        browser
            .text(&format!("{r} .log-state"))
            .await
            .unwrap()
            .starts_with("Live")
    );
    stack.raise(&stop);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_submitted_and_cancelled_from_the_page() {
    let Some(browser) = Browser::launch("jobs_are_submitted_and_cancelled").await else {
        return;
    };
    let stack = Stack::start(FAST).await;
    browser.sign_in(&stack.web_url, &stack.alice).await;

    // A bad timeout is explained, and nothing is submitted.
    browser.type_into("#submit-command", "true").await;
    browser.type_into("#submit-timeout", "soon").await;
    browser.click("#submit-button").await;
    let refusal = browser
        .wait_text("#submit-status", "the refusal", |t| {
            t.starts_with("Could not submit")
        })
        .await;
    assert!(refusal.contains("invalid duration"), "{refusal}");
    let client = stack.client(&stack.alice);
    assert!(client.list(&Default::default()).await.unwrap().is_empty());

    browser
        .type_into("#submit-command", "echo started; sleep 300")
        .await;
    browser.type_into("#submit-name", "from-the-page").await;
    browser.type_into("#submit-timeout", "5m").await;
    browser.click("#submit-button").await;
    browser
        .wait_text("#submit-status", "the confirmation", |t| {
            t.starts_with("Submitted")
        })
        .await;
    let jobs = client.list(&Default::default()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.name.as_deref(), Some("from-the-page"));
    assert_eq!(job.command, ["sh", "-c", "echo started; sleep 300"]);
    assert_eq!(job.timeout_seconds, Some(300));
    assert_eq!(job.owner, "alice");
    assert_eq!(
        browser.prop("#submit-command", "value").await,
        json!(""),
        "the form is cleared"
    );

    let r = row(job.id);
    browser
        .wait_text(&format!("{r} .log"), "its output", |t| {
            t.contains("started")
        })
        .await;
    browser
        .wait_text(&format!("{r} .badge"), "running", |t| t == "Running")
        .await;

    // A job submitted elsewhere shows up while something runs.
    let other = stack
        .submit(&stack.alice, "from-the-shell", "sleep 300")
        .await;
    browser
        .wait_text(
            &format!("{} .job-name", row(other.id)),
            "the other job",
            |t| t == "from-the-shell",
        )
        .await;
    stack.wait_status(other.id, JobStatus::Running).await;
    let silent = format!("{} .log-empty", row(other.id));
    browser
        .wait_text(&silent, "the empty log", |t| t == "No output yet")
        .await;
    browser.wait_visible(&silent).await;

    // Cancel asks first; keeping the job running leaves it alone.
    browser.click(&format!("{r} .cancel")).await;
    browser.wait_visible("#cancel-dialog").await;
    assert_eq!(
        browser.text("#cancel-job-name").await.unwrap(),
        "from-the-page"
    );
    assert_eq!(
        browser.prop(&r, "open").await,
        json!(true),
        "the cancel button does not fold the panel"
    );
    browser.click("#cancel-keep").await;
    assert_eq!(browser.prop("#cancel-dialog", "open").await, json!(false));
    assert_eq!(client.job(job.id).await.unwrap().status, JobStatus::Running);
    assert!(!client.job(job.id).await.unwrap().cancel_requested);

    browser.click(&format!("{r} .cancel")).await;
    browser.wait_visible("#cancel-dialog").await;
    browser.click("#cancel-confirm").await;
    browser
        .wait_text(&format!("{r} .badge"), "cancelled", |t| t == "Cancelled")
        .await;
    assert_eq!(
        client.job(job.id).await.unwrap().status,
        JobStatus::Cancelled
    );
    assert!(!browser.visible(&format!("{r} .cancel")).await);

    // A page elsewhere on the same host (another port: same site, so the
    // Strict cookie does go along) cannot cancel a job in the user's name.
    let elsewhere = serve_another_site().await;
    browser.goto(&elsewhere).await;
    let outcome = browser
        .js(
            "return fetch(arguments[0], {method: 'POST', mode: 'no-cors', credentials: 'include'})
               .then(() => 'sent', e => 'failed: ' + e);",
            vec![json!(format!(
                "{}/ui/api/jobs/{}/cancel",
                stack.web_url, other.id
            ))],
        )
        .await;
    assert_eq!(outcome, json!("sent"), "the request left the browser");
    let untouched = client.job(other.id).await.unwrap();
    assert_eq!(untouched.status, JobStatus::Running);
    assert!(
        !untouched.cancel_requested,
        "the cross-site cancel was refused"
    );
    client.cancel(other.id).await.unwrap();
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_log_keeps_only_its_last_lines_on_screen_and_links_the_whole() {
    let Some(browser) = Browser::launch("a_huge_log").await else {
        return;
    };
    let stack = Stack::start(FAST).await;
    let more = stack.flag("more");
    let end = stack.flag("end");
    let job = stack
        .submit(
            &stack.alice,
            "huge",
            &format!(
                "seq 1 12000 | sed 's/^/row /'; while [ ! -e '{}' ]; do sleep 0.1; done; \
                 seq 12001 20000 | sed 's/^/row /'; while [ ! -e '{}' ]; do sleep 0.1; done",
                more.display(),
                end.display()
            ),
        )
        .await;
    wait_for("12000 rows on disk", || async {
        let disk = stack.log_on_disk(job.id);
        max_number_after(&disk, "row ")
            .filter(|n| *n >= 12000)
            .ok_or(String::new())
    })
    .await;

    browser.sign_in(&stack.web_url, &stack.alice).await;
    let r = row(job.id);
    let log = format!("{r} .log");
    browser
        .wait_text(&log, "the tail", |t| t.ends_with("row 12000"))
        .await;
    let lines = browser.log_lines(&log).await;
    assert_eq!(lines.len(), 1000, "a live log opens on its last lines");
    assert_eq!(lines[0], "row 11001");
    let notice = format!("{r} .log-notice");
    assert!(browser.visible(&notice).await);
    let said = browser.text(&notice).await.unwrap();
    assert!(said.contains("download the full log"), "{said}");
    assert!(said.contains("Load earlier output"), "{said}");
    assert_eq!(
        browser
            .prop(&format!("{notice} a"), "href")
            .await
            .as_str()
            .unwrap(),
        format!("{}/ui/api/jobs/{}/logs/download", stack.web_url, job.id)
    );

    stack.raise(&more);
    browser
        .wait_text(&log, "the new rows", |t| t.ends_with("row 20000"))
        .await;
    let lines = browser.log_lines(&log).await;
    assert_eq!(lines.len(), 5000, "the page keeps at most 5000 lines");
    assert_eq!(lines[0], "row 15001");
    assert_eq!(lines[4999], "row 20000");
    stack.raise(&end);
    browser.close().await;
}

/// A bare page on another port of this host; its URL.
async fn serve_another_site() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            axum::response::Html("<!doctype html><title>elsewhere</title><p>another site</p>")
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Signs in with plain HTTP; the session cookie's `name=value`.
async fn sign_in_over_http(stack: &Stack, token: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = http
        .post(format!("{}/login", stack.web_url))
        .header(header::ORIGIN, &stack.web_url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn every_response_has_the_security_headers_and_cross_site_posts_are_refused() {
    let stack = Stack::start(FAST).await;
    let cookie = sign_in_over_http(&stack, &stack.alice).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let job_page = format!("/jobs/{}", jobctl::domain::JobId::new());
    for path in [
        "/",
        "/login",
        "/assets/list.js",
        &job_page,
        "/ui/api/jobs",
        "/missing",
    ] {
        let resp = http
            .get(format!("{}{path}", stack.web_url))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        for directive in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(resp.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(resp.headers()[header::REFERRER_POLICY], "no-referrer");
    }

    let submit = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut req = http
            .post(format!("{}/ui/api/jobs", stack.web_url))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(r#"{"command": "echo hi", "name": "posted"}"#);
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        req.send()
    };
    for (origin, site) in [
        (Some("https://evil.example"), Some("cross-site")),
        (Some("https://evil.example"), None),
        (None, Some("same-site")),
        (None, None),
    ] {
        let resp = submit(origin, site).await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("cross-site request refused")
        );
    }
    let client = stack.client(&stack.alice);
    assert!(client.list(&Default::default()).await.unwrap().is_empty());

    // The same request from the page's own origin goes through.
    let resp = submit(None, Some("same-origin")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(client.list(&Default::default()).await.unwrap().len(), 1);

    // Behind a TLS-terminating proxy the cookie is Secure.
    let https = http
        .post(format!("{}/login", stack.web_url))
        .header(header::ORIGIN, &stack.web_url)
        .header("x-forwarded-proto", "https")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("token={}", stack.alice))
        .send()
        .await
        .unwrap();
    assert_eq!(https.status(), StatusCode::SEE_OTHER);
    let secure = https.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(secure.ends_with("; Secure"), "{secure}");
    assert!(!cookie.contains("Secure"));

    // Signing out is a state change too.
    let resp = http
        .post(format!("{}/logout", stack.web_url))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let still = http
        .get(format!("{}/ui/api/session", stack.web_url))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_page_api_speaks_for_the_signed_in_user_and_reports_api_failures() {
    let mut stack = Stack::start(FAST).await;
    let alice = sign_in_over_http(&stack, &stack.alice).await;
    let admin = sign_in_over_http(&stack, &stack.admin).await;
    let http = reqwest::Client::new();
    let web_url = stack.web_url.clone();
    let get = |cookie: &str, path: &str| {
        http.get(format!("{web_url}{path}"))
            .header(header::COOKIE, cookie)
            .send()
    };

    let session: serde_json::Value = get(&admin, "/ui/api/session")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        session,
        json!({"name": "admin", "role": "admin", "refresh_interval_ms": 1000})
    );

    let job = stack
        .submit(&stack.admin, "admins-only", "echo secret")
        .await;
    stack.wait_status(job.id, JobStatus::Completed).await;
    let admins_list: serde_json::Value = get(&admin, "/ui/api/jobs")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admins_list["jobs"][0]["id"], json!(job.id.to_string()));
    let alices_list: serde_json::Value = get(&alice, "/ui/api/jobs")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alices_list["jobs"], json!([]), "alice sees only her jobs");
    let hidden = get(&alice, &format!("/ui/api/jobs/{}/logs", job.id))
        .await
        .unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);

    let chunk: serde_json::Value = get(&admin, &format!("/ui/api/jobs/{}/logs?offset=0", job.id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(chunk["logs"].as_str().unwrap(), stack.log_on_disk(job.id));
    assert_eq!(chunk["status"], "completed");

    // The list's paging and filters and the log's earlier output and
    // search go through to the API as it answers them.
    let page: serde_json::Value = get(
        &admin,
        "/ui/api/jobs?status=completed,failed&q=ADMINS&limit=1",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(page["jobs"][0]["id"], json!(job.id.to_string()), "{page}");
    assert!(page["next_cursor"].is_null(), "{page}");
    let earlier: serde_json::Value = get(
        &admin,
        &format!(
            "/ui/api/jobs/{}/logs?before={}&tail=5",
            job.id,
            "secret\n".len()
        ),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(earlier["logs"], json!("secret\n"), "{earlier}");
    assert_eq!(earlier["offset"], json!(0));
    let found: serde_json::Value = get(
        &admin,
        &format!(
            "/ui/api/jobs/{}/logs/search?q=SECRET&ignore_case=true",
            job.id
        ),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(found["matches"][0]["offset"], json!(0), "{found}");
    assert_eq!(found["matches"][0]["text"], json!("secret"), "{found}");
    for bad in [
        "/ui/api/jobs?bogus=1".to_string(),
        "/ui/api/jobs?limit=many".to_string(),
        format!("/ui/api/jobs/{}/logs?before=-1", job.id),
        format!("/ui/api/jobs/{}/logs/search?q=x&after=soon", job.id),
    ] {
        let refused = get(&admin, &bad).await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let hidden = get(
        &alice,
        &format!("/ui/api/jobs/{}/logs/search?q=secret", job.id),
    )
    .await
    .unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);

    let bad = get(&admin, "/ui/api/jobs/..%2F..%2Fetc%2Fpasswd/logs")
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad = get(&admin, "/ui/api/jobs/not-a-uuid/logs").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(body["error"].is_string());

    // A revoked token ends the session that holds it (once the api's
    // token cache lets go of it, within a second).
    stack.revoke("alice").await;
    let refused = wait_for("the revoked token to be refused", || async {
        let resp = get(&alice, "/ui/api/jobs").await.unwrap();
        if resp.status() == StatusCode::UNAUTHORIZED {
            Ok(resp)
        } else {
            Err(resp.status().to_string())
        }
    })
    .await;
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no longer accepts your token"),
        "{body}"
    );
    let gone = get(&alice, "/ui/api/session").await.unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);

    stack.stop_api().await;
    let down = get(&admin, "/ui/api/jobs").await.unwrap();
    assert_eq!(down.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = down.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("the job service is unreachable"),
        "{body}"
    );
    assert!(!body.to_string().contains(&stack.api_url), "{body}");
    stack.start_api().await;
    assert_eq!(
        get(&admin, "/ui/api/jobs").await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpus_and_cpus_are_asked_for_on_the_page_and_shown_on_the_job_page() {
    let Some(browser) = Browser::launch("gpus_and_cpus_on_the_page").await else {
        return;
    };
    let stack = Stack::start(FAST).await;
    browser.sign_in(&stack.web_url, &stack.alice).await;
    let client = stack.client(&stack.alice);

    // Out of bounds: the api's refusal is shown, nothing is submitted.
    browser.type_into("#submit-command", "nvidia-smi").await;
    browser.type_into("#submit-gpus", "65").await;
    browser.click("#submit-button").await;
    let refusal = browser
        .wait_text("#submit-status", "the refusal", |t| {
            t.starts_with("Could not submit")
        })
        .await;
    assert!(refusal.contains("gpus"), "{refusal}");
    assert!(client.list(&Default::default()).await.unwrap().is_empty());

    browser
        .js("document.getElementById('submit-gpus').value = ''", vec![])
        .await;
    browser.type_into("#submit-gpus", "2").await;
    browser.type_into("#submit-cpus", "3").await;
    browser.click("#submit-button").await;
    browser
        .wait_text("#submit-status", "the confirmation", |t| {
            t.starts_with("Submitted")
        })
        .await;
    let jobs = client.list(&Default::default()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!((job.gpus, job.cpus), (2, 3));

    // The stack's worker has no GPUs: the job waits, and its page says
    // what it asked for.
    browser
        .goto(&format!("{}/jobs/{}", stack.web_url, job.id))
        .await;
    browser
        .wait_text("[data-field=\"gpus\"]", "the GPUs", |t| t == "2")
        .await;
    browser
        .wait_text("[data-field=\"cpus\"]", "the CPUs", |t| t == "3")
        .await;
    assert_eq!(
        stack.client(&stack.alice).job(job.id).await.unwrap().status,
        JobStatus::Pending
    );
    browser.close().await;
}
