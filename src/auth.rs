//! Bearer tokens: how they look, how they are stored, how they are checked.
//!
//! A token reads `jobctl_{key_id}_{secret}`. The key id is public and indexes
//! the row; only SHA-256 of the whole token is stored, and the presented
//! token's hash is compared with it in constant time, so neither the database
//! nor response timing gives the secret away.
//!
//! The api checks every request's token through a [`TokenCache`]: a token
//! row read from the store is trusted for [`TOKEN_CACHE_TTL`], so a busy
//! client costs one store query a second instead of one per request, and a
//! revoked token stops working within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::Role;
use crate::store::{JobStore, StoreError, StoredToken};

const PREFIX: &str = "jobctl_";

/// A freshly minted token: the secret to show once, and what to store.
pub struct NewToken {
    /// The whole token, to give to its holder once and never store.
    pub secret: String,
    /// The public part used to find the row.
    pub key_id: String,
    /// SHA-256 of `secret`.
    pub hash: Vec<u8>,
}

/// Mints a token with 256 random bits.
pub fn mint() -> NewToken {
    let key_id = hex::encode(rand::random::<[u8; 6]>());
    let secret = format!(
        "{PREFIX}{key_id}_{}",
        hex::encode(rand::random::<[u8; 32]>())
    );
    let hash = hash(&secret);
    NewToken {
        secret,
        key_id,
        hash,
    }
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The public key id inside a well-formed token.
fn key_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (key, secret) = rest.split_once('_')?;
    (key.len() == 12 && secret.len() == 64).then_some(key)
}

/// Who is calling, once their token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name: the owner of the jobs it submits.
    pub name: String,
    pub role: Role,
}

/// Checks a presented token against the store. `Ok(None)` means the token is
/// malformed, unknown or revoked — all the same to the caller: 401.
pub async fn authenticate(
    store: &dyn JobStore,
    presented: &str,
) -> Result<Option<Caller>, StoreError> {
    let Some(key) = key_id(presented) else {
        return Ok(None);
    };
    let Some(stored) = store.find_token(key).await? else {
        return Ok(None);
    };
    Ok(check(presented, &stored))
}

/// The caller, if `presented` is the token `stored` holds the hash of.
fn check(presented: &str, stored: &StoredToken) -> Option<Caller> {
    let matches: bool = hash(presented).ct_eq(&stored.secret_hash).into();
    matches.then(|| Caller {
        name: stored.name.clone(),
        role: stored.role,
    })
}

/// How long the api trusts a token row it has read: the longest a token
/// revoked by `jobctl token revoke` (another process, writing the database)
/// keeps working on an api that has just served it. One second: a revoked
/// token is refused from the next second on, and a client sending hundreds
/// of requests a second costs one token query a second.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);

/// Rows kept at most; past it the stale ones are dropped. Only rows that
/// exist are kept (one per live token), so this is never reached in
/// practice; it bounds memory all the same.
const TOKEN_CACHE_CAP: usize = 4096;

/// Token rows the api has read lately, by key id, each trusted for
/// [`TOKEN_CACHE_TTL`] from the moment its query was sent. The presented
/// token is still hashed and compared with the row's hash in constant time
/// on every request, so a wrong secret with a cached key id never matches;
/// unknown key ids are not kept and ask the store every time, as before.
pub struct TokenCache {
    ttl: Duration,
    /// A std `Mutex`: held for a map lookup or insert, never across an
    /// `.await`, so tokio's async mutex would only add cost.
    rows: Mutex<HashMap<String, CachedRow>>,
}

struct CachedRow {
    token: Arc<StoredToken>,
    read_at: Instant,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(TOKEN_CACHE_TTL)
    }
}

impl TokenCache {
    /// A cache that trusts a row for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            ttl,
            rows: Mutex::new(HashMap::new()),
        }
    }

    /// [`authenticate`], asking the store only when this key id's row was
    /// not read within the last `ttl`.
    pub async fn authenticate(
        &self,
        store: &dyn JobStore,
        presented: &str,
    ) -> Result<Option<Caller>, StoreError> {
        let Some(key) = key_id(presented) else {
            return Ok(None);
        };
        if let Some(row) = self.fresh(key, Instant::now()) {
            return Ok(check(presented, &row));
        }
        // Taken before the query: the row's age counts from a moment
        // before it was read, so a revocation is never trusted away for
        // longer than `ttl`.
        let asked_at = Instant::now();
        let Some(row) = store.find_token(key).await? else {
            self.forget(key);
            return Ok(None);
        };
        let row = Arc::new(row);
        self.remember(key, row.clone(), asked_at);
        Ok(check(presented, &row))
    }

    /// The row of `key`, if read less than `ttl` before `now`.
    fn fresh(&self, key: &str, now: Instant) -> Option<Arc<StoredToken>> {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.get(key)
            .filter(|row| now.saturating_duration_since(row.read_at) < self.ttl)
            .map(|row| row.token.clone())
    }

    fn remember(&self, key: &str, token: Arc<StoredToken>, read_at: Instant) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if rows.len() >= TOKEN_CACHE_CAP && !rows.contains_key(key) {
            let ttl = self.ttl;
            rows.retain(|_, row| read_at.saturating_duration_since(row.read_at) < ttl);
        }
        if rows.len() < TOKEN_CACHE_CAP || rows.contains_key(key) {
            rows.insert(key.to_string(), CachedRow { token, read_at });
        }
    }

    fn forget(&self, key: &str) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.remove(key);
    }
}

/// Token names become job owners and appear in `list`; keep them tame.
pub fn validate_token_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid token name {name:?}: use 1 to 64 letters, digits, '-', '_', '.' or '@'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_distinct_and_parse() {
        let a = mint();
        let b = mint();
        assert_ne!(a.secret, b.secret);
        assert_eq!(key_id(&a.secret), Some(a.key_id.as_str()));
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 32);
        assert!(!a.secret.contains(char::is_whitespace));
    }

    #[test]
    fn malformed_tokens_have_no_key_id() {
        for bad in [
            "",
            "jobctl_",
            "Bearer x",
            "jobctl_abc_def",
            "other_0123456789ab_00",
        ] {
            assert_eq!(key_id(bad), None, "{bad:?}");
        }
    }

    fn stored(token: &NewToken) -> Arc<StoredToken> {
        Arc::new(StoredToken {
            name: "alice".into(),
            role: Role::User,
            secret_hash: token.hash.clone(),
        })
    }

    #[test]
    fn a_cached_row_matches_only_its_own_secret() {
        let token = mint();
        let row = stored(&token);
        assert_eq!(
            check(&token.secret, &row),
            Some(Caller {
                name: "alice".into(),
                role: Role::User
            })
        );
        // Same key id, another secret: the hash differs, no match.
        let forged = format!("{PREFIX}{}_{}", token.key_id, "0".repeat(64));
        assert_eq!(key_id(&forged), Some(token.key_id.as_str()));
        assert_eq!(check(&forged, &row), None);
    }

    #[test]
    fn a_cached_row_is_trusted_for_the_ttl_only() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let token = mint();
        let t0 = Instant::now();
        assert!(cache.fresh(&token.key_id, t0).is_none());
        cache.remember(&token.key_id, stored(&token), t0);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(cache.fresh(&token.key_id, at(999)).is_some());
        assert!(cache.fresh(&token.key_id, at(1000)).is_none());
        assert!(cache.fresh("0123456789ab", at(0)).is_none());
        cache.forget(&token.key_id);
        assert!(cache.fresh(&token.key_id, at(0)).is_none());
    }

    #[test]
    fn a_full_cache_drops_stale_rows_and_keeps_its_bound() {
        let cache = TokenCache::new(Duration::from_secs(1));
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(5);
        let token = mint();
        for i in 0..TOKEN_CACHE_CAP {
            cache.remember(&format!("{i:012x}"), stored(&token), t0);
        }
        // Full of fresh rows: a new one is not kept (it is read again).
        cache.remember("newcomer0001", stored(&token), t0);
        assert!(cache.fresh("newcomer0001", t0).is_none());
        // Once they are stale, they make room.
        cache.remember("newcomer0002", stored(&token), later);
        assert!(cache.fresh("newcomer0002", later).is_some());
        assert_eq!(cache.rows.lock().unwrap().len(), 1);
    }

    #[test]
    fn token_names_are_checked() {
        assert!(validate_token_name("alice").is_ok());
        assert!(validate_token_name("ci-bot_2@lab.org").is_ok());
        assert!(validate_token_name("").is_err());
        assert!(validate_token_name("a b").is_err());
        assert!(validate_token_name("x\u{1b}[31m").is_err());
        assert!(validate_token_name(&"a".repeat(65)).is_err());
    }
}
