//! Moving a store's contents: an online backup of a SQLite store, and a
//! copy of a SQLite store into an empty PostgreSQL database.
//!
//! Both read SQLite through a connection of their own, so they work while
//! an api serves from the same file: SQLite's WAL lets a reader see one
//! consistent snapshot while writers go on.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteRow};
use sqlx::{Connection, QueryBuilder, Row, SqliteConnection};

use super::StoreError;

/// Jobs copied per INSERT.
const BATCH: usize = 500;

/// What a backup or a migration holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub jobs: u64,
    pub tokens: u64,
}

/// The SQLite file of a `sqlite://PATH` URL.
pub fn sqlite_path(url: &str) -> Option<&str> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(path.split('?').next().unwrap_or(path))
}

async fn connect_sqlite(path: &str, read_only: bool) -> Result<SqliteConnection, StoreError> {
    if !Path::new(path).exists() {
        return Err(StoreError::Setup(format!(
            "no SQLite database at {path}: check --database / --data-dir"
        )));
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(30));
    Ok(SqliteConnection::connect_with(&options).await?)
}

async fn count(conn: &mut SqliteConnection) -> Result<Counts, StoreError> {
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs")
        .fetch_one(&mut *conn)
        .await?;
    let tokens: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
        .fetch_one(&mut *conn)
        .await?;
    Ok(Counts {
        jobs: jobs as u64,
        tokens: tokens as u64,
    })
}

/// Writes a consistent copy of the SQLite database at `source` to `target`
/// with `VACUUM INTO` (a new file; an existing one is refused), while the
/// api may go on writing. Returns what the copy holds, read back from it.
pub async fn backup_sqlite(source: &str, target: &Path) -> Result<Counts, StoreError> {
    if target.exists() {
        return Err(StoreError::Setup(format!(
            "{} already exists; a backup never overwrites a file: pick a new name or remove it",
            target.display()
        )));
    }
    let target_str = target
        .to_str()
        .ok_or_else(|| StoreError::Setup("the backup path is not valid UTF-8".into()))?;
    let mut conn = connect_sqlite(source, false).await?;
    sqlx::query("VACUUM INTO ?1")
        .bind(target_str)
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let mut copy = connect_sqlite(target_str, true).await?;
    let counts = count(&mut copy).await?;
    copy.close().await?;
    Ok(counts)
}

fn micros(row: &SqliteRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let value: Option<i64> = row.try_get(column)?;
    value
        .map(|m| {
            DateTime::from_timestamp_micros(m)
                .ok_or_else(|| StoreError::Corrupt(format!("{column}: timestamp {m} out of range")))
        })
        .transpose()
}

/// Copies every job (logs stay where they are: a job's log path is its
/// id under the logs dir) and every token (hashes only: secrets were never
/// stored) from the SQLite database at `source` into the PostgreSQL
/// database at `target`, which must hold no jobs and no tokens. One
/// transaction: a copy that fails leaves the target as empty as it was.
pub async fn sqlite_to_postgres(source: &str, target: &str) -> Result<Counts, StoreError> {
    // Creates the schema (migrations) if the database is new.
    super::PostgresStore::open(target).await?;
    let options = PgConnectOptions::from_str(target)?.application_name("jobctl-migrate");
    let mut pg = sqlx::PgConnection::connect_with(&options).await?;
    let mut tx = pg.begin().await?;
    for table in ["jobs", "tokens"] {
        let (exists,): (bool,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {table})"
        )))
        .fetch_one(&mut *tx)
        .await?;
        if exists {
            return Err(StoreError::Setup(format!(
                "the target database already has {table}; migrate only into an empty one"
            )));
        }
    }
    let mut lite = connect_sqlite(source, true).await?;
    let mut lite_tx = lite.begin().await?;
    let mut counts = Counts::default();

    let tokens = sqlx::query("SELECT name, role, key_id, secret_hash, created_at FROM tokens")
        .fetch_all(&mut *lite_tx)
        .await?;
    for t in &tokens {
        sqlx::query(
            "INSERT INTO tokens (name, role, key_id, secret_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(t.try_get::<String, _>("name")?)
        .bind(t.try_get::<String, _>("role")?)
        .bind(t.try_get::<String, _>("key_id")?)
        .bind(t.try_get::<Vec<u8>, _>("secret_hash")?)
        .bind(micros(t, "created_at")?)
        .execute(&mut *tx)
        .await?;
        counts.tokens += 1;
    }

    // Keyset pages, so memory holds one batch whatever the store's size.
    let mut after: Option<(i64, String)> = None;
    loop {
        let rows = sqlx::query(
            "SELECT id, name, owner, command, cwd, env, timeout_seconds, status, exit_code, \
                 failure_reason, worker, created_at, started_at, finished_at, cancel_requested, \
                 lease_token, lease_expires_at, pending_reason, secret_names, gpus, cpus, \
                 gpu_ids FROM jobs \
             WHERE ?1 IS NULL OR (created_at, id) > (?1, ?2) \
             ORDER BY created_at, id LIMIT ?3",
        )
        .bind(after.as_ref().map(|a| a.0))
        .bind(after.as_ref().map(|a| a.1.clone()))
        .bind(BATCH as i64)
        .fetch_all(&mut *lite_tx)
        .await?;
        let Some(last) = rows.last() else { break };
        after = Some((last.try_get("created_at")?, last.try_get("id")?));
        let mut insert = QueryBuilder::new(
            "INSERT INTO jobs (id, name, owner, command, cwd, env, timeout_seconds, status, \
                 exit_code, failure_reason, worker, created_at, started_at, finished_at, \
                 cancel_requested, lease_token, lease_expires_at, pending_reason, \
                 secret_names, gpus, cpus, gpu_ids) ",
        );
        let mut bad = None;
        insert.push_values(&rows, |mut b, r| {
            let id = r
                .try_get::<String, _>("id")
                .ok()
                .and_then(|id| uuid::Uuid::parse_str(&id).ok());
            if id.is_none() {
                bad = Some("a job id that is not a UUID");
            }
            let get = |c: &str| r.try_get::<Option<String>, _>(c).ok().flatten();
            let time = |c: &str| micros(r, c).ok().flatten();
            b.push_bind(id)
                .push_bind(get("name"))
                .push_bind(get("owner"))
                .push_bind(get("command"))
                .push_unseparated("::jsonb")
                .push_bind(get("cwd"))
                .push_bind(get("env"))
                .push_unseparated("::jsonb")
                .push_bind(
                    r.try_get::<Option<i64>, _>("timeout_seconds")
                        .ok()
                        .flatten(),
                )
                .push_bind(get("status"))
                .push_bind(r.try_get::<Option<i32>, _>("exit_code").ok().flatten())
                .push_bind(get("failure_reason"))
                .push_bind(get("worker"))
                .push_bind(time("created_at"))
                .push_bind(time("started_at"))
                .push_bind(time("finished_at"))
                .push_bind(r.try_get::<bool, _>("cancel_requested").unwrap_or(false))
                .push_bind(get("lease_token"))
                .push_bind(time("lease_expires_at"))
                .push_bind(get("pending_reason"))
                .push_bind(get("secret_names").unwrap_or_else(|| "[]".into()))
                .push_unseparated("::jsonb")
                .push_bind(r.try_get::<i32, _>("gpus").unwrap_or(0))
                .push_bind(r.try_get::<i32, _>("cpus").unwrap_or(1))
                .push_bind(get("gpu_ids"));
        });
        if let Some(what) = bad {
            return Err(StoreError::Corrupt(format!("the source holds {what}")));
        }
        counts.jobs += insert.build().execute(&mut *tx).await?.rows_affected();
    }
    // The secrets of jobs that have not ended (those of ended jobs were
    // deleted with their end), so a pending job still gets them.
    let secrets = sqlx::query("SELECT job_id, name, value FROM job_secrets")
        .fetch_all(&mut *lite_tx)
        .await?;
    for row in &secrets {
        let id: String = row.try_get("job_id")?;
        let id = uuid::Uuid::parse_str(&id).map_err(|_| {
            StoreError::Corrupt("the source holds a job id that is not a UUID".into())
        })?;
        sqlx::query("INSERT INTO job_secrets (job_id, name, value) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(row.try_get::<String, _>("name")?)
            .bind(row.try_get::<String, _>("value")?)
            .execute(&mut *tx)
            .await?;
    }
    lite_tx.rollback().await?;
    tx.commit().await?;
    Ok(counts)
}
