//! Keyset paging of `GET /jobs`: which jobs a page holds, and the opaque
//! cursor that says where the next, older page starts.
//!
//! Jobs are ordered newest first by `(created_at, id)`; the id breaks ties
//! between jobs created in the same microsecond. A cursor is the key of the
//! last job of a page, and the next page is every job whose key is strictly
//! smaller — so jobs submitted while a client walks the pages land before
//! its first page and never shift what it has still to read: each older job
//! comes exactly once. Offsets (`LIMIT … OFFSET n`) would repeat or skip a
//! job for every insert, and cost more the deeper the page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::domain::{JobId, JobStatus};
use crate::protocol::Job;

/// Which jobs `GET /jobs` lists, and where its page starts.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Only jobs in one of these statuses; empty means any.
    pub statuses: Vec<JobStatus>,
    pub owner: Option<String>,
    /// Only ids starting with this lowercase hex-and-hyphen prefix.
    pub id_prefix: Option<String>,
    /// Only jobs whose name or command (its words joined by spaces) holds
    /// this text, case-insensitively.
    pub text: Option<String>,
    /// Only jobs older than this key: the page after the one it ended.
    pub after: Option<JobCursor>,
    /// At most this many jobs.
    pub limit: u32,
}

/// The key of a job in list order, and the opaque form clients pass back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobCursor {
    pub created_at: DateTime<Utc>,
    pub id: JobId,
}

/// Why a `cursor=` parameter was refused.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid cursor {0:?}: pass back a next_cursor from an earlier answer")]
pub struct InvalidCursor(String);

impl JobCursor {
    /// Where the page after `job` starts.
    pub fn after(job: &Job) -> Self {
        JobCursor {
            created_at: job.created_at,
            id: job.id,
        }
    }

    /// The opaque text: base64url of `MICROS.UUID`. Opaque so that the key
    /// may change without breaking clients that only pass it back.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}.{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    /// The key in `text`, or why it is not one.
    pub fn decode(text: &str) -> Result<Self, InvalidCursor> {
        let bad = || InvalidCursor(text.chars().take(80).collect());
        if text.len() > 128 {
            return Err(bad());
        }
        let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let raw = std::str::from_utf8(&raw).map_err(|_| bad())?;
        let (micros, id) = raw.split_once('.').ok_or_else(bad)?;
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        Ok(JobCursor {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
            id: JobId::parse(id).map_err(|_| bad())?,
        })
    }
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Where the next page starts; `None` when this one holds the oldest
    /// matching job.
    pub next: Option<JobCursor>,
}

impl JobPage {
    /// A page from up to `limit + 1` rows in list order: the extra row only
    /// says that another page exists, so the last page has no cursor and a
    /// client never asks for an empty one.
    pub fn from_rows(mut rows: Vec<Job>, limit: u32) -> Self {
        let limit = limit as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(JobCursor::after)
        } else {
            None
        };
        JobPage { jobs: rows, next }
    }
}

/// A `LIKE` pattern matching `text` anywhere, with `\` as the escape
/// character: `%`, `_` and `\` in the text match only themselves.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_round_trip() {
        let cursor = JobCursor {
            created_at: DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap(),
            id: JobId::new(),
        };
        let text = cursor.encode();
        assert!(
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{text} is safe in a URL without escaping"
        );
        assert_eq!(JobCursor::decode(&text).unwrap(), cursor);
    }

    #[test]
    fn a_cursor_that_is_not_one_is_refused() {
        let id = JobId::new();
        for bad in [
            String::new(),
            "not base64!".into(),
            URL_SAFE_NO_PAD.encode("12345"),
            URL_SAFE_NO_PAD.encode(format!("abc.{id}")),
            URL_SAFE_NO_PAD.encode("1.not-a-uuid"),
            URL_SAFE_NO_PAD.encode(format!("{}.{id}", i64::MAX)),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe, b'.']),
            "A".repeat(1000),
        ] {
            assert!(JobCursor::decode(&bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn like_wildcards_in_the_text_match_only_themselves() {
        assert_eq!(contains_pattern("abc"), "%abc%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
