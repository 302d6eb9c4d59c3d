//! Server-side sessions: the only place a signed-in user's API token lives.
//!
//! The browser holds nothing but a random session id in an `HttpOnly`,
//! `SameSite=Strict` cookie, so no script on the page — ours or an injected
//! one — can read the token. Sessions live in memory: restarting `jobctl web`
//! signs everyone out, which is the price of keeping no secrets on disk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};

use crate::client::ApiClient;
use crate::protocol::WhoAmI;

/// The cookie that carries the session id.
pub const COOKIE_NAME: &str = "jobctl_session";

/// At most this many sessions are kept; past it the longest idle one goes,
/// so a flood of logins cannot grow memory without end.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone)]
pub struct Session {
    /// A client bound to the user's token; its connection pool is reused by
    /// every request of this session.
    pub client: ApiClient,
    /// Who the token belongs to, as the API said at sign-in.
    pub user: WhoAmI,
}

struct Entry {
    session: Session,
    last_seen: Instant,
}

/// The sessions of one web server, keyed by a hash of their id.
#[derive(Clone)]
pub struct Sessions {
    // A std Mutex, not tokio's: it is held only for a map operation, never
    // across an await, so it can never block the runtime for long.
    inner: Arc<Mutex<HashMap<[u8; 32], Entry>>>,
    idle_timeout: Duration,
}

impl Sessions {
    /// An empty store whose sessions end after `idle_timeout` without a request.
    pub fn new(idle_timeout: Duration) -> Self {
        Sessions {
            inner: Arc::default(),
            idle_timeout,
        }
    }

    /// Starts a session; returns the id to put in the cookie.
    pub fn create(&self, session: Session) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, e| now.duration_since(e.last_seen) < self.idle_timeout);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.last_seen).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            key(&id),
            Entry {
                session,
                last_seen: now,
            },
        );
        id
    }

    /// The live session with this id, marking it as just used.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.lock();
        let k = key(id);
        let entry = map.get_mut(&k)?;
        if now.duration_since(entry.last_seen) >= self.idle_timeout {
            map.remove(&k);
            return None;
        }
        entry.last_seen = now;
        Some(entry.session.clone())
    }

    /// Ends a session (sign-out, or a token the API no longer accepts).
    pub fn remove(&self, id: &str) {
        self.lock().remove(&key(id));
    }

    /// Whether no session is held, expired ones included until swept.
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every operation is a single map call), so a poisoned lock is safe
        // to keep using.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sessions are looked up by a hash of their id, so the time a lookup takes
/// says nothing about how close a guessed id came to a real one.
fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// The session id the request's cookies carry, if any.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over HTTPS (through a TLS-terminating
/// proxy: `jobctl web` itself speaks plain HTTP).
pub fn is_https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get_all(header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([';', ',']))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(k, v)| k.eq_ignore_ascii_case("proto") && v.trim_matches('"') == "https");
    forwarded_proto || forwarded
}

/// `Set-Cookie` for a new session. No `Max-Age`: the cookie ends with the
/// browser, the session itself after the server-side idle timeout.
pub fn set_cookie(id: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("a hex id makes a valid header")
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    ))
    .expect("a fixed cookie makes a valid header")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    fn session(name: &str) -> Session {
        Session {
            client: ApiClient::new("http://127.0.0.1:9", "t").unwrap(),
            user: WhoAmI {
                name: name.into(),
                role: Role::User,
            },
        }
    }

    #[test]
    fn a_created_session_is_found_by_its_id_and_gone_after_remove() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.create(session("alice"));
        assert_eq!(id.len(), 64);
        assert_eq!(sessions.get(&id).unwrap().user.name, "alice");
        assert!(sessions.get("not-an-id").is_none());
        sessions.remove(&id);
        assert!(sessions.get(&id).is_none());
        assert!(sessions.is_empty());
    }

    #[test]
    fn ids_are_random() {
        let sessions = Sessions::new(Duration::from_secs(60));
        assert_ne!(sessions.create(session("a")), sessions.create(session("a")));
    }

    #[test]
    fn an_idle_session_expires() {
        let sessions = Sessions::new(Duration::ZERO);
        let id = sessions.create(session("alice"));
        assert!(sessions.get(&id).is_none());
        assert!(
            sessions.is_empty(),
            "an expired session is dropped when seen"
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            "a=1; jobctl_session=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(session_id(&headers).as_deref(), Some("abc"));
        let mut other = HeaderMap::new();
        other.append(header::COOKIE, "xjobctl_session=abc".parse().unwrap());
        assert_eq!(session_id(&other), None);
        assert_eq!(session_id(&HeaderMap::new()), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_https() {
        let plain = set_cookie("abc", false);
        assert_eq!(
            plain.to_str().unwrap(),
            "jobctl_session=abc; Path=/; HttpOnly; SameSite=Strict"
        );
        assert!(
            set_cookie("abc", true)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
        assert!(clear_cookie(false).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn https_is_recognised_behind_a_proxy() {
        let mut headers = HeaderMap::new();
        assert!(!is_https(&headers));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(is_https(&headers));
        let mut fwd = HeaderMap::new();
        fwd.insert(
            header::FORWARDED,
            "for=1.2.3.4;proto=https".parse().unwrap(),
        );
        assert!(is_https(&fwd));
        let mut http = HeaderMap::new();
        http.insert("x-forwarded-proto", "http".parse().unwrap());
        assert!(!is_https(&http));
    }
}
