//! Router tests through `tower::ServiceExt::oneshot`: what holds without an
//! API behind the server. The browser tests in `tests/web/` cover the rest.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use tower::ServiceExt;

use super::*;

/// An API address nothing listens on: bound, then released.
fn dead_api_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn app() -> Router {
    router(WebState::new(&WebConfig::new(dead_api_url())).unwrap())
}

async fn send(request: Request<Body>) -> Response {
    app().oneshot(request).await.unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, "127.0.0.1:8766")
        .body(Body::empty())
        .unwrap()
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn assert_security_headers(response: &Response, what: &str) {
    let h = response.headers();
    assert_eq!(
        h.get(header::CONTENT_SECURITY_POLICY).unwrap(),
        CONTENT_SECURITY_POLICY,
        "{what}"
    );
    assert_eq!(
        h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
        "nosniff",
        "{what}"
    );
    assert_eq!(
        h.get(header::REFERRER_POLICY).unwrap(),
        "no-referrer",
        "{what}"
    );
}

#[test]
fn the_policy_forbids_inline_code_framing_and_plugins() {
    for directive in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
}

#[test]
fn the_default_refresh_is_five_seconds() {
    let config = WebConfig::new("http://127.0.0.1:8765".into());
    assert_eq!(config.refresh_interval, Duration::from_secs(5));
}

#[test]
fn a_bad_api_url_is_refused_up_front() {
    assert!(WebState::new(&WebConfig::new("ftp://example".into())).is_err());
    assert!(WebState::new(&WebConfig::new("not a url".into())).is_err());
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    for uri in [
        "/",
        "/login",
        "/assets/app.css",
        "/assets/list.js",
        "/assets/nope.js",
        "/jobs/0b5c5f5e-8a1c-4a3e-9b7e-2f1d3c4b5a69",
        "/nowhere",
        "/ui/api/jobs",
        "/healthz",
    ] {
        let response = send(get(uri)).await;
        assert_security_headers(&response, uri);
    }
}

#[tokio::test]
async fn the_jobs_page_sends_a_stranger_to_the_login_page() {
    let response = send(get("/")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers().get(header::LOCATION).unwrap(), "/login");
}

#[tokio::test]
async fn a_forged_session_cookie_is_not_a_session() {
    let request = Request::get("/ui/api/jobs")
        .header(header::COOKIE, format!("{COOKIE_NAME}=deadbeef"))
        .body(Body::empty())
        .unwrap();
    let response = send(request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(body_text(response).await.contains("\"error\""));
}

#[tokio::test]
async fn the_page_api_answers_json_errors_without_a_session() {
    for uri in ["/ui/api/session", "/ui/api/jobs", "/ui/api/nothing-here"] {
        let response = send(get(uri)).await;
        let status = response.status();
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND,
            "{uri}: {status}"
        );
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json",
            "{uri}"
        );
        let body: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert!(body["error"].is_string(), "{uri}");
    }
}

#[tokio::test]
async fn state_changing_requests_from_elsewhere_are_refused() {
    let cases: [&[(&str, &str)]; 4] = [
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://evil.example"),
        ],
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "http://127.0.0.1:9999"),
        ],
        &[("origin", "http://evil.example")],
        &[],
    ];
    for path in ["/login", "/logout", "/ui/api/jobs"] {
        for headers in cases {
            let mut request = Request::post(path)
                .header(header::HOST, "127.0.0.1:8766")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let response = send(request.body(Body::from("token=x")).unwrap()).await;
            assert_eq!(
                response.status(),
                StatusCode::FORBIDDEN,
                "{path} {headers:?}"
            );
            assert_security_headers(&response, path);
            assert!(
                body_text(response)
                    .await
                    .contains("cross-site request refused")
            );
        }
    }
}

#[tokio::test]
async fn a_same_origin_post_passes_the_check_and_then_needs_a_session() {
    let request = Request::post("/ui/api/jobs")
        .header(header::HOST, "127.0.0.1:8766")
        .header("sec-fetch-site", "same-origin")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"command":"true"}"#))
        .unwrap();
    assert_eq!(send(request).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_in_while_the_api_is_down_says_so() {
    let request = Request::post("/login")
        .header(header::HOST, "127.0.0.1:8766")
        .header(header::ORIGIN, "http://127.0.0.1:8766")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("token=jobctl_abc"))
        .unwrap();
    let response = send(request).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let page = body_text(response).await;
    assert!(page.contains("The job service is unreachable"), "{page}");
    // A visitor who is not signed in does not learn where the API lives.
    let api = dead_api_url();
    let address = api.trim_start_matches("http://").trim_end_matches('/');
    assert!(!page.contains(address), "{page}");
}

#[tokio::test]
async fn a_job_page_sends_a_signed_out_visitor_to_sign_in_and_back() {
    let id = "0b5c5f5e-8a1c-4a3e-9b7e-2f1d3c4b5a69";
    let response = send(get(&format!("/jobs/{id}"))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers().get(header::LOCATION).unwrap(),
        &format!("/login?next=/jobs/{id}")
    );
    let login = body_text(send(get(&format!("/login?next=/jobs/{id}"))).await).await;
    assert!(
        login.contains(&format!("name=\"next\" value=\"/jobs/{id}\"")),
        "{login}"
    );
    // Another site is never a place to go back to.
    let other = body_text(send(get("/login?next=//evil.example/")).await).await;
    assert!(!other.contains("evil.example"), "{other}");
    // Not a job id: no such page.
    assert_eq!(
        send(get("/jobs/not-an-id")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_empty_token_is_asked_for_again() {
    let request = Request::post("/login")
        .header("sec-fetch-site", "same-origin")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("token=+++"))
        .unwrap();
    let response = send(request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body_text(response).await.contains("Enter a token"));
}

#[tokio::test]
async fn the_login_page_shows_an_ended_session_but_reflects_nothing() {
    let page = body_text(send(get("/login?expired=%3Cscript%3E")).await).await;
    assert!(page.contains("Your session has ended"));
    assert!(!page.contains("<script>"));
    let plain = body_text(send(get("/login")).await).await;
    assert!(!plain.contains("{{notice}}"));
    assert!(plain.contains("name=\"token\""));
}

#[tokio::test]
async fn assets_are_served_with_their_types_and_unknown_ones_are_not() {
    for (path, mime) in [
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/list.js", "text/javascript; charset=utf-8"),
        ("/assets/ansi.js", "text/javascript; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let response = send(get(path)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers().get(header::CONTENT_TYPE).unwrap(), mime);
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-cache"
        );
    }
    assert_eq!(
        send(get("/assets/../Cargo.toml")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(get("/assets/jobs.js")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn pages_are_never_cached() {
    let response = send(get("/login")).await;
    assert_eq!(
        response.headers().get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
}

#[test]
fn the_browse_url_of_a_wildcard_address_is_loopback() {
    assert_eq!(
        browse_url("0.0.0.0:8766".parse().unwrap()),
        "http://127.0.0.1:8766/"
    );
    assert_eq!(browse_url("[::]:1".parse().unwrap()), "http://[::1]:1/");
    assert_eq!(
        browse_url("192.0.2.7:80".parse().unwrap()),
        "http://192.0.2.7:80/"
    );
}
