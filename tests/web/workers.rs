//! The Workers view: admins see the fleet, users are told it is not theirs.

use std::time::Duration;

use crate::harness::{Browser, Stack, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_the_worker_fleet_and_users_do_not() {
    let Some(browser) = Browser::launch("workers_view").await else {
        return;
    };
    let stack = Stack::start(Duration::from_secs(1)).await;

    browser.sign_in(&stack.web_url, &stack.alice).await;
    // The link is for admins only (the server leaves it out for users).
    assert!(
        !browser.visible("#nav-workers").await,
        "no Workers link for users"
    );
    browser.goto(&format!("{}/workers", stack.web_url)).await;
    let refused = browser
        .wait_text("#workers-error", "the refusal", |t| !t.is_empty())
        .await;
    assert!(refused.contains("admin token"), "{refused}");
    browser.click("button[type=submit]").await;

    browser.sign_in(&stack.web_url, &stack.admin).await;
    browser.wait_visible("#nav-workers").await;
    browser.click("#nav-workers").await;
    wait_for("the workers page", || async {
        let path = browser.path().await;
        if path == "/workers" {
            Ok(())
        } else {
            Err(path)
        }
    })
    .await;
    let state = browser
        .wait_text(
            "tr[data-worker='test-worker'] .worker-state",
            "the worker's state",
            |t| t == "active",
        )
        .await;
    assert_eq!(state, "active");
    let row = browser.text("tr[data-worker='test-worker']").await.unwrap();
    assert!(row.contains("local") && row.contains("4"), "{row}");
    browser.close().await;
}
