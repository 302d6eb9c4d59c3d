//! Bearer tokens: how they look, how they are stored, how they are checked.
//!
//! A token reads `jobctl_{key_id}_{secret}`. The key id is public and indexes
//! the row; only SHA-256 of the whole token is stored, and the presented
//! token's hash is compared with it in constant time, so neither the database
//! nor response timing gives the secret away.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::Role;
use crate::store::{JobStore, StoreError};

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
    let matches: bool = hash(presented).ct_eq(&stored.secret_hash).into();
    Ok(matches.then_some(Caller {
        name: stored.name,
        role: stored.role,
    }))
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
