//! Thousands of random requests — methods, paths, queries, bodies and
//! tokens drawn from a vocabulary of valid and hostile pieces — and the api
//! never answers 5xx, never panics, and every error is `{"error": "…"}`.

mod common;

use common::{Backend, TestApi, raw_request};
use jobctl::domain::Role;

/// splitmix64: a fixed seed gives the same requests on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_requests_never_break_the_api() {
    let api = TestApi::start(&Backend::Sqlite).await;
    let user = api.token("alice", Role::User).await;
    let worker = api.token("w1", Role::Worker).await;
    let job = api.submit(&user, &["true"]).await;
    let id = job.id.to_string();
    let long = "x".repeat(3000);
    let segments = [
        "jobs",
        "jobs",
        "jobs",
        "workers",
        "claim",
        "logs",
        "download",
        "cancel",
        "status",
        "heartbeat",
        "whoami",
        "healthz",
        "openapi.json",
        &id,
        &id,
        "00000000-0000-4000-8000-000000000000",
        "..",
        "%2e%2e",
        "%2F",
        "%00",
        "%ff%fe",
        "ü",
        "",
        &long,
        "-1",
        "{id}",
        "a b",
        "%",
        "jobs%2F..",
    ];
    let queries = [
        "",
        "tail=10",
        "tail=-1",
        "tail=abc",
        "tail=99999999999999999999",
        "offset=0",
        "offset=18446744073709551615",
        "offset=-3",
        "limit=0",
        "limit=5",
        "status=running",
        "status=nope",
        "owner=alice",
        "id_prefix=ab",
        "id_prefix=%00",
        "tail=1&offset=1",
        "x=y",
        "tail",
        "=",
        "&&&",
    ];
    let bodies = [
        "",
        "{}",
        "null",
        "[]",
        "{\"command\": [\"true\"]}",
        "{\"command\": []}",
        "{\"command\": [\"\\u0000\"]}",
        "{\"command\": \"true\"}",
        "{\"command\": [1, 2]}",
        "{\"command\": [\"x\"], \"timeout_seconds\": -1}",
        "{\"command\": [\"x\"], \"timeout_seconds\": 1e309}",
        "{\"command\": [\"x\"], \"env\": {\"\": \"\"}}",
        "{\"worker\": \"w\"}",
        "{\"worker\": \"\"}",
        "{\"lease_token\": \"x\"}",
        "{\"lease_token\": \"x\", \"status\": \"completed\", \"exit_code\": 0}",
        "{\"lease_token\": \"x\", \"status\": \"failed\", \"exit_code\": 99999999999}",
        "{{{{",
        "\u{ff}\u{fe}garbage",
    ];
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let methods = [
        "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "HEAD",
    ];
    let mut dice = Dice(0x5EED);
    for round in 0..2500 {
        let depth = 1 + dice.below(4);
        let path: String = (0..depth)
            .map(|_| format!("/{}", dice.pick(&segments)))
            .collect();
        let query = dice.pick(&queries);
        let url = if query.is_empty() {
            format!("{}{path}", api.url)
        } else {
            format!("{}{path}?{query}", api.url)
        };
        let method: reqwest::Method = dice.pick(&methods).parse().unwrap();
        let mut req = api.http.request(method.clone(), &url);
        match dice.below(4) {
            0 => {}
            1 => req = req.bearer_auth(&user),
            2 => req = req.bearer_auth(&worker),
            _ => {
                req = req.header(
                    "Authorization",
                    dice.pick(&["Bearer", "Bearer  ", "x", "Bearer jobctl_0_0"]),
                )
            }
        }
        if method != reqwest::Method::GET && method != reqwest::Method::HEAD {
            let body = if dice.below(50) == 0 {
                deep.clone()
            } else {
                dice.pick(&bodies).to_string()
            };
            req = req
                .header(
                    "Content-Type",
                    dice.pick(&["application/json", "application/json", "text/plain"]),
                )
                .body(body);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: {method} {url}: {e}"));
        let status = resp.status();
        assert!(
            !status.is_server_error(),
            "round {round}: {method} {url} answered {status}: {:?}",
            resp.text().await
        );
        if status.is_client_error() && method != reqwest::Method::HEAD {
            let text = resp.text().await.unwrap();
            let body: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("round {round}: {method} {url}: not JSON: {text:?}"));
            assert!(body["error"].is_string(), "round {round}: {text}");
        }
    }
    // Garbage straight on the wire: each gets an answer, the right 4xx.
    for (request, expected) in [
        (
            "GET /jobs/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            401,
        ),
        (
            "GET /jobs/\u{0}/logs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            400,
        ),
        // No token, and a body that ends early: refused, not hung.
        (
            "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"co",
            401,
        ),
        ("GARBAGE\r\n\r\n", 400),
    ] {
        let (status, text) = raw_request(api.addr, request).await;
        assert_eq!(
            status, expected,
            "{request:?} (0: no answer at all): {text:?}"
        );
    }
    let health = api
        .http
        .get(format!("{}/healthz", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "still serving");
    assert_eq!(api.job(&user, job.id).await.id, job.id);
}
