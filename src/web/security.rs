//! The browser-facing protections every response and every state-changing
//! request goes through.
//!
//! - Every response carries a strict Content-Security-Policy (no inline
//!   script or style, nothing from another origin, no framing), `nosniff`
//!   and `no-referrer`. The page's own code only ever inserts log text and
//!   job names as text; the policy is the second wall should that slip.
//! - A request that changes state (anything but GET/HEAD/OPTIONS) must come
//!   from a page of this very origin. The session cookie is already
//!   `SameSite=Strict`; checking `Sec-Fetch-Site` (or `Origin` where a
//!   browser sends no fetch metadata) also stops same-site attackers, e.g.
//!   another service on the same host.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::WebError;

/// The policy on every response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The layers that put the security headers on every response, errors and
/// 404s included.
pub fn header_layers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    [
        set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        set(header::REFERRER_POLICY, "no-referrer"),
        set(header::X_FRAME_OPTIONS, "DENY"),
    ]
}

/// Refuses a state-changing request that did not come from this origin.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    match cross_site_reason(request.headers()) {
        None => next.run(request).await,
        Some(reason) => {
            tracing::warn!(
                method = %request.method(),
                path = request.uri().path(),
                reason,
                "refused a cross-site request"
            );
            WebError::CrossSite(format!("cross-site request refused: {reason}")).into_response()
        }
    }
}

/// Why a request does not look same-origin, or `None` when it does.
pub fn cross_site_reason(headers: &HeaderMap) -> Option<String> {
    // Fetch metadata is set by the browser itself and survives any proxy in
    // between, so it wins when present.
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.to_str() {
            Ok("same-origin") => None,
            Ok(other) => Some(format!("Sec-Fetch-Site is {other:?}")),
            Err(_) => Some("unreadable Sec-Fetch-Site".into()),
        };
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        // Every browser sends Origin with a POST; a request without it is
        // not from a page of ours.
        return Some("no Origin header".into());
    };
    let origin = origin.to_str().unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok());
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => None,
        _ => Some(format!("Origin {origin:?} is not this site")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_fetch_metadata_passes() {
        assert_eq!(
            cross_site_reason(&headers(&[("sec-fetch-site", "same-origin")])),
            None
        );
    }

    #[test]
    fn same_site_and_cross_site_fetches_are_refused() {
        for site in ["same-site", "cross-site", "none"] {
            let h = headers(&[
                ("sec-fetch-site", site),
                ("origin", "http://127.0.0.1:8766"),
                ("host", "127.0.0.1:8766"),
            ]);
            assert!(cross_site_reason(&h).is_some(), "{site} passed");
        }
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_match_the_host() {
        let ok = headers(&[
            ("origin", "http://127.0.0.1:8766"),
            ("host", "127.0.0.1:8766"),
        ]);
        assert_eq!(cross_site_reason(&ok), None);
        let other_port = headers(&[
            ("origin", "http://127.0.0.1:9999"),
            ("host", "127.0.0.1:8766"),
        ]);
        assert!(cross_site_reason(&other_port).is_some());
        let null = headers(&[("origin", "null"), ("host", "127.0.0.1:8766")]);
        assert!(cross_site_reason(&null).is_some());
        assert!(cross_site_reason(&headers(&[("host", "127.0.0.1:8766")])).is_some());
    }
}
