//! The embedded SQLite store: one file in the data dir, in WAL mode.
//!
//! SQLite allows one writer at a time. Every write that first reads (claim,
//! cancel, finish, heartbeat) runs in `BEGIN IMMEDIATE`, which takes the write
//! lock up front: a deferred transaction that reads and then tries to write
//! can fail with `SQLITE_BUSY` without waiting, while an immediate one waits
//! its turn through the busy timeout.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, FromRow, QueryBuilder, Row, Sqlite, Transaction};

use super::{
    CancelDecision, ClaimOffer, FIND_TOKEN, HandBackDecision, JobColumns, JobEnd, JobEnded,
    JobFilter, JobPage, JobStore, JobTimes, LIST_TOKENS, LostJob, REVOKE_TOKEN, StoreError,
    StoredToken, TokenColumns, WorkerRecord, check_hand_back, decide_cancel, end_not_applied,
    lease_expiry, new_lease_token, page::contains_pattern, stale_lease,
};
use crate::domain::{JobId, JobSpec, JobStatus, Role, Secrets};
use crate::protocol::{Job, TokenInfo, WorkerRegistration};

/// How long a connection waits for the write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const JOB_COLUMNS: &str = "id, name, owner, command, cwd, env, timeout_seconds, status, exit_code, \
     failure_reason, worker, created_at, started_at, finished_at, cancel_requested, lease_token, \
     pending_reason, secret_names, gpus, cpus, gpu_ids";

/// Job state in a SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Submits and final reports, committed in groups ([`group_commit`]).
    writes: tokio::sync::mpsc::UnboundedSender<Queued>,
}

/// A write that waits for its group's commit, and where its answer goes.
struct Queued {
    write: GroupedWrite,
    done: tokio::sync::oneshot::Sender<Result<JobEnded, StoreError>>,
}

/// The writes that clients make many of at once: each one job's row.
enum GroupedWrite {
    /// A new job (`POST /jobs`), with its id and submit time already chosen.
    Insert {
        id: JobId,
        owner: String,
        spec: JobSpec,
        created_at: DateTime<Utc>,
    },
    /// A worker's final report on a job.
    Finish {
        id: JobId,
        lease_token: String,
        end: JobEnd,
    },
}

impl GroupedWrite {
    /// This write inside the group's write transaction, with the same
    /// checks as alone.
    async fn apply(&self, tx: &mut Transaction<'static, Sqlite>) -> Result<JobEnded, StoreError> {
        match self {
            GroupedWrite::Insert {
                id,
                owner,
                spec,
                created_at,
            } => {
                let job = SqliteStore::insert_in(tx, *id, owner, spec, *created_at).await?;
                Ok(JobEnded {
                    job,
                    recorded_now: true,
                })
            }
            GroupedWrite::Finish {
                id,
                lease_token,
                end,
            } => SqliteStore::finish_in(tx, *id, lease_token, end).await,
        }
    }
}

/// Most writes committed together.
const MAX_GROUP: usize = 64;

/// Commits submits and final reports in groups: whatever arrived while the
/// previous commit was reaching the disk goes into the next transaction,
/// each write with the same checks as alone, and each is answered only
/// after the commit (a synchronous one: an acknowledged submit or report
/// survives a crash or power cut, as before). One disk flush then records
/// many new jobs and jobs' ends instead of one. A report that fails its
/// checks (a stale lease) is refused without writing and does not touch
/// the others; should the group fail as a whole (a full disk), each write
/// is tried again alone, so that each gets its own answer.
async fn group_commit(pool: SqlitePool, mut queue: tokio::sync::mpsc::UnboundedReceiver<Queued>) {
    let mut group = Vec::new();
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        match commit_group(&pool, &group).await {
            Ok(results) => {
                for (queued, result) in group.drain(..).zip(results) {
                    let _ = queued.done.send(result);
                }
            }
            Err(_) => {
                for queued in group.drain(..) {
                    let result = write_alone(&pool, &queued.write).await;
                    let _ = queued.done.send(result);
                }
            }
        }
    }
}

/// The group's writes in one transaction; `Err` when it cannot commit.
async fn commit_group(
    pool: &SqlitePool,
    group: &[Queued],
) -> Result<Vec<Result<JobEnded, StoreError>>, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut results = Vec::with_capacity(group.len());
    for queued in group {
        match queued.write.apply(&mut tx).await {
            // Refused by the checks, before any write: only this one fails.
            Err(e @ (StoreError::Conflict(_) | StoreError::JobNotFound(_))) => results.push(Err(e)),
            Err(e) => return Err(e),
            Ok(done) => results.push(Ok(done)),
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// One write in a transaction of its own.
async fn write_alone(pool: &SqlitePool, write: &GroupedWrite) -> Result<JobEnded, StoreError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let done = write.apply(&mut tx).await?;
    tx.commit().await?;
    Ok(done)
}

impl SqliteStore {
    /// Opens or creates the database at `path`, sets WAL (and checks that it
    /// took), and applies migrations.
    pub async fn open(path: &str) -> Result<Self, StoreError> {
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err(StoreError::Setup(
                "empty SQLite path: use sqlite:///absolute/path/jobctl.db".into(),
            ));
        }
        if let Some(dir) = Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Setup(format!("cannot create directory {}: {e}", dir.display()))
            })?;
            warn_if_network_filesystem(dir);
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Each commit reaches the disk before it is acknowledged: a
            // submitted job survives a power cut, not only a crash of the
            // api (what NORMAL guarantees in WAL mode).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // A job's secrets are deleted when it ends: overwrite them with
            // zeros instead of leaving the bytes in free pages.
            // No `mmap_size`: mapped reads took a third of pread's time
            // off, but SQLite then remaps the file as it grows (munmap
            // cost as much again) and an I/O error on a mapped page is a
            // SIGBUS instead of an error answered with a 503.
            .pragma("secure_delete", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // A COMMIT that fails for a full disk has SQLite roll the
            // transaction back by itself; sqlx's own ROLLBACK then fails,
            // and the connection would count itself inside a transaction
            // for ever, refusing every later BEGIN. Such a connection is
            // closed instead of reused, so the store recovers by itself as
            // soon as there is space again.
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options)
            .await?;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Setup(format!(
                "SQLite at {path} refused WAL mode (journal_mode is {mode:?}); \
                 is the file on a filesystem without shared-memory support?"
            )));
        }
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let (writes, queue) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(group_commit(pool.clone(), queue));
        Ok(SqliteStore { pool, writes })
    }

    /// `write`, committed with whatever else is queued ([`group_commit`]),
    /// or alone when the group committer is gone (its runtime is shutting
    /// down). `None`: the committer went away after taking it, so whether
    /// it was committed is unknown.
    async fn grouped(&self, write: GroupedWrite) -> Option<Result<JobEnded, StoreError>> {
        let (done, answer) = tokio::sync::oneshot::channel();
        match self.writes.send(Queued { write, done }) {
            Ok(()) => answer.await.ok(),
            Err(tokio::sync::mpsc::error::SendError(queued)) => {
                Some(write_alone(&self.pool, &queued.write).await)
            }
        }
    }

    /// SQLite's plan for the `GET /jobs` query of `filter`, one step a
    /// line: how tests and benchmarks check that a page is an index scan.
    pub async fn explain_list_jobs(&self, filter: &JobFilter) -> Result<String, StoreError> {
        let rows = list_query("EXPLAIN QUERY PLAN ", filter)
            .build()
            .fetch_all(&self.pool)
            .await?;
        let steps = rows
            .iter()
            .map(|row| row.try_get::<String, _>("detail"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(steps.join("\n"))
    }

    /// After a job with secrets ended (its secrets deleted, overwritten in
    /// the pages by `secure_delete`): copies the WAL into the database file
    /// and truncates it, so the frames that still held the values are gone
    /// from the disk too. Best effort: a reader holding an old snapshot can
    /// keep the WAL alive; the next job's end tries again.
    async fn scrub_wal(&self) {
        let result: Result<(i64, i64, i64), sqlx::Error> =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await;
        match result {
            Ok((0, _, _)) => {}
            Ok(_) => tracing::debug!("WAL checkpoint after a job's secrets were deleted was busy"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot checkpoint the WAL after deleting a job's secrets")
            }
        }
    }

    /// Scrubs the WAL if this job, now ended, had secrets.
    async fn ended(&self, job: Job) -> Job {
        if job.status.is_terminal() && !job.secret_names.is_empty() {
            self.scrub_wal().await;
        }
        job
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// One claim inside the claimers' write transaction: the oldest
    /// pending job that fits `offer`, now running under a fresh lease.
    async fn claim_in(
        tx: &mut Transaction<'static, Sqlite>,
        worker: &str,
        lease: Duration,
        now: DateTime<Utc>,
        offer: &ClaimOffer,
    ) -> Result<Option<(Job, String)>, StoreError> {
        let lease_token = new_lease_token();
        let oldest = if offer.counts_resources() {
            let capacity = offer.capacity();
            sqlx::query_as::<_, (String, u32, u32)>(
                "SELECT id, gpus, cpus FROM jobs WHERE status = 'pending' AND gpus <= ?1 \
                     AND cpus <= ?2 ORDER BY created_at, id LIMIT 1",
            )
            .bind(capacity.gpus)
            .bind(capacity.cpus)
            .fetch_optional(&mut **tx)
            .await?
        } else {
            None
        };
        let Some(limits) = offer.limits(oldest.as_ref().map(|(_, g, c)| (*g, *c))) else {
            return Ok(None);
        };
        let next = match oldest {
            // The oldest job this worker could ever run fits what is free
            // now: no job that fits is older, so it is the one (read under
            // the write lock, so still pending).
            Some((id, gpus, cpus)) if offer.fits_now(gpus, cpus) => Some((id, gpus)),
            _ => {
                sqlx::query_as::<_, (String, u32)>(
                    "SELECT id, gpus FROM jobs WHERE status = 'pending' AND gpus <= ?1 \
                         AND cpus <= ?2 ORDER BY created_at, id LIMIT 1",
                )
                .bind(limits.gpus)
                .bind(limits.cpus)
                .fetch_optional(&mut **tx)
                .await?
            }
        };
        let Some((id, gpus)) = next else {
            return Ok(None);
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'running', worker = ?1, started_at = ?2, \
                 lease_token = ?3, lease_expires_at = ?4, pending_reason = NULL, gpu_ids = ?5 \
             WHERE id = ?6 RETURNING {JOB_COLUMNS}"
        )))
        .bind(worker)
        .bind(micros(now))
        .bind(&lease_token)
        .bind(micros(lease_expiry(now, lease)))
        .bind(offer.gpu_ids_for(gpus))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        let job = job_from_row(&row)?;
        Ok(Some((job, lease_token)))
    }

    /// A new pending job (and its secrets) inside a write transaction.
    async fn insert_in(
        tx: &mut Transaction<'static, Sqlite>,
        id: JobId,
        owner: &str,
        spec: &JobSpec,
        created_at: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO jobs (id, name, owner, command, cwd, env, timeout_seconds, status, \
                 created_at, secret_names, gpus, cpus) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?10, ?11) RETURNING {JOB_COLUMNS}"
        )))
        .bind(id.to_string())
        .bind(spec.name())
        .bind(owner)
        .bind(serde_json::to_string(spec.command()).expect("strings serialise"))
        .bind(spec.cwd())
        .bind(serde_json::to_string(spec.env()).expect("strings serialise"))
        .bind(spec.timeout_seconds().map(|t| t as i64))
        .bind(micros(created_at))
        .bind(serde_json::to_string(&spec.secrets().names()).expect("strings serialise"))
        .bind(spec.gpus())
        .bind(spec.cpus())
        .fetch_one(&mut **tx)
        .await?;
        let job = job_from_row(&row)?;
        for (name, value) in spec.secrets().iter() {
            sqlx::query("INSERT INTO job_secrets (job_id, name, value) VALUES (?1, ?2, ?3)")
                .bind(id.to_string())
                .bind(name)
                .bind(value)
                .execute(&mut **tx)
                .await?;
        }
        Ok(job)
    }

    /// A job's end, checked and written inside a write transaction.
    async fn finish_in(
        tx: &mut Transaction<'static, Sqlite>,
        id: JobId,
        lease_token: &str,
        end: &JobEnd,
    ) -> Result<JobEnded, StoreError> {
        let ended = Utc::now() - chrono::Duration::from_std(end.ago).unwrap_or_default();
        // The usual report: a running job under this lease. One statement
        // checks, writes and returns the row; `finished_at` is never
        // before `started_at`, which a running job always has.
        if end.status.is_terminal() {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET status = ?2, exit_code = ?3, failure_reason = ?4, \
                     finished_at = MAX(?5, COALESCE(started_at, ?5)), \
                     lease_expires_at = NULL, pending_reason = NULL \
                 WHERE id = ?1 AND status = 'running' AND lease_token = ?6 \
                 RETURNING {JOB_COLUMNS}"
            )))
            .bind(id.to_string())
            .bind(end.status.as_str())
            .bind(end.exit_code)
            .bind(end.failure_reason.as_deref())
            .bind(micros(ended))
            .bind(lease_token)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some(row) = row {
                return Ok(JobEnded {
                    job: job_from_row(&row)?,
                    recorded_now: true,
                });
            }
        }
        // Anything else: a repeat, a stale lease, an illegal move — the
        // shared checks say which, and nothing is written.
        let (job, current) = Self::job_in(tx, id).await?;
        end_not_applied(job, current.as_deref(), lease_token, end)
    }

    async fn job_in(
        tx: &mut Transaction<'static, Sqlite>,
        id: JobId,
    ) -> Result<(Job, Option<String>), StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"
        )))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::JobNotFound(id))?;
        let lease: Option<String> = row.try_get("lease_token")?;
        Ok((job_from_row(&row)?, lease))
    }
}

/// SQLite's locking relies on POSIX locks and shared memory that network
/// filesystems implement unreliably; a database there can corrupt.
fn warn_if_network_filesystem(dir: &Path) {
    if let Some(kind) = crate::fsinfo::network_filesystem(dir) {
        tracing::warn!(
            "the SQLite database directory {} is on a network filesystem ({kind}); SQLite's \
             locking is unreliable there and the database can be corrupted. Use PostgreSQL \
             (--database postgres://…) when jobctl runs across machines.",
            dir.display()
        );
    }
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(v: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    v.map(|m| {
        DateTime::from_timestamp_micros(m)
            .ok_or_else(|| StoreError::Corrupt(format!("timestamp {m} out of range")))
    })
    .transpose()
}

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
    let id: String = row.try_get("id")?;
    let id =
        JobId::parse(&id).map_err(|e| StoreError::Corrupt(format!("job {id}: bad id: {e}")))?;
    let times = JobTimes {
        created_at: from_micros(Some(row.try_get("created_at")?))?.expect("Some in, Some out"),
        started_at: from_micros(row.try_get("started_at")?)?,
        finished_at: from_micros(row.try_get("finished_at")?)?,
    };
    JobColumns::from_row(row)?.into_job(id, times)
}

/// The `GET /jobs` query for `filter`, after `prefix` (empty, or an
/// `EXPLAIN`).
fn list_query(prefix: &str, filter: &JobFilter) -> QueryBuilder<Sqlite> {
    // Only the conditions asked for, so that each query is one the
    // indexes of migration 0003 serve: `(? IS NULL OR …)` forms make
    // SQLite plan for every combination at once and scan the table.
    let mut query = QueryBuilder::<Sqlite>::new(format!("{prefix}SELECT {JOB_COLUMNS} FROM jobs"));
    let mut glue = " WHERE ";
    if !filter.statuses.is_empty() {
        query.push(glue).push("status IN (");
        let mut list = query.separated(", ");
        for status in &filter.statuses {
            list.push_bind(status.as_str());
        }
        query.push(")");
        glue = " AND ";
    }
    if let Some(owner) = &filter.owner {
        query.push(glue).push("owner = ").push_bind(owner.clone());
        glue = " AND ";
    }
    if let Some(id_prefix) = &filter.id_prefix {
        // Lowercase hex digits and hyphens only: no LIKE wildcards.
        query
            .push(glue)
            .push("id LIKE ")
            .push_bind(format!("{id_prefix}%"));
        glue = " AND ";
    }
    if let Some(text) = &filter.text {
        // SQLite's LIKE folds ASCII letters only.
        let pattern = contains_pattern(text);
        query
            .push(glue)
            .push("(name LIKE ")
            .push_bind(pattern.clone())
            .push(
                " ESCAPE '\\' OR (SELECT group_concat(value, ' ') FROM json_each(jobs.command)) LIKE ",
            )
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
        glue = " AND ";
    }
    if let Some(after) = &filter.after {
        // The `<=` bound is what the index range scan starts from; the
        // rest drops the ties already listed.
        let at = micros(after.created_at);
        query
            .push(glue)
            .push("created_at <= ")
            .push_bind(at)
            .push(" AND (created_at < ")
            .push_bind(at)
            .push(" OR id < ")
            .push_bind(after.id.to_string())
            .push(")");
    }
    query
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(filter.limit) + 1);
    query
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE health SET checked_at = ?1 WHERE id = 1")
            .bind(micros(Utc::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_job(&self, owner: &str, spec: &JobSpec) -> Result<Job, StoreError> {
        let write = GroupedWrite::Insert {
            id: JobId::new(),
            owner: owner.to_string(),
            spec: spec.clone(),
            created_at: Utc::now(),
        };
        match self.grouped(write).await {
            Some(result) => Ok(result?.job),
            // Not retried: it may have been committed, and a second try
            // would record the job twice. The api answers 503.
            None => Err(StoreError::Database(sqlx::Error::WorkerCrashed)),
        }
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn list_jobs(&self, filter: &JobFilter) -> Result<JobPage, StoreError> {
        let rows = list_query("", filter).build().fetch_all(&self.pool).await?;
        let jobs = rows.iter().map(job_from_row).collect::<Result<_, _>>()?;
        Ok(JobPage::from_rows(jobs, filter.limit))
    }

    async fn request_cancel(&self, id: JobId) -> Result<Job, StoreError> {
        let mut tx = self.write_tx().await?;
        let (job, _) = Self::job_in(&mut tx, id).await?;
        let update = match decide_cancel(&job)? {
            CancelDecision::CancelNow => {
                sqlx::query("UPDATE jobs SET status = 'cancelled', finished_at = ?2 WHERE id = ?1")
                    .bind(id.to_string())
                    .bind(micros(Utc::now()))
            }
            CancelDecision::AskWorker => {
                sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1")
                    .bind(id.to_string())
            }
            CancelDecision::AlreadyAsked => {
                tx.commit().await?;
                return Ok(job);
            }
        };
        update.execute(&mut *tx).await?;
        let (job, _) = Self::job_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(self.ended(job).await)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        lease: Duration,
        offer: &ClaimOffer,
        max: u32,
    ) -> Result<Vec<(Job, String)>, StoreError> {
        let now = Utc::now();
        // Under the write lock from the first read: the jobs chosen here are
        // the ones updated, and no other claimer can run in between.
        let mut tx = self.write_tx().await?;
        let mut claimed = Vec::new();
        let mut left = Some(offer.clone());
        while let Some(offer) = left.take()
            && claimed.len() < max as usize
        {
            let Some((job, lease_token)) =
                Self::claim_in(&mut tx, worker, lease, now, &offer).await?
            else {
                break;
            };
            left = offer.after(&job);
            claimed.push((job, lease_token));
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn claimed_secrets(&self, id: JobId, lease_token: &str) -> Result<Secrets, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT s.name, s.value FROM job_secrets s JOIN jobs j ON j.id = s.job_id \
             WHERE s.job_id = ?1 AND j.status = 'running' AND j.lease_token = ?2",
        )
        .bind(id.to_string())
        .bind(lease_token)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn explain_unfit_jobs(&self, alive_within: Duration) -> Result<u64, StoreError> {
        let since = Utc::now() - chrono::Duration::from_std(alive_within).unwrap_or_default();
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(super::explain_unfit_sql("?1")))
            .bind(micros(since))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn heartbeat(
        &self,
        id: JobId,
        lease_token: &str,
        lease: Duration,
        pending_reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let (job, current) = Self::job_in(&mut tx, id).await?;
        if job.status != JobStatus::Running || current.as_deref() != Some(lease_token) {
            return Err(stale_lease(id, job.status));
        }
        sqlx::query("UPDATE jobs SET lease_expires_at = ?2, pending_reason = ?3 WHERE id = ?1")
            .bind(id.to_string())
            .bind(micros(lease_expiry(Utc::now(), lease)))
            .bind(pending_reason)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(job.cancel_requested)
    }

    async fn finish_job(
        &self,
        id: JobId,
        lease_token: &str,
        end: &JobEnd,
    ) -> Result<JobEnded, StoreError> {
        let write = GroupedWrite::Finish {
            id,
            lease_token: lease_token.to_string(),
            end: end.clone(),
        };
        let ended = match self.grouped(write).await {
            Some(result) => result?,
            // A report is safe to repeat: one already recorded is
            // recognised as such.
            None => {
                let write = GroupedWrite::Finish {
                    id,
                    lease_token: lease_token.to_string(),
                    end: end.clone(),
                };
                write_alone(&self.pool, &write).await?
            }
        };
        Ok(JobEnded {
            job: self.ended(ended.job).await,
            recorded_now: ended.recorded_now,
        })
    }

    async fn hand_back(&self, id: JobId, lease_token: &str) -> Result<Job, StoreError> {
        let mut tx = self.write_tx().await?;
        let (job, current) = Self::job_in(&mut tx, id).await?;
        let update = match check_hand_back(&job, current.as_deref(), lease_token)? {
            HandBackDecision::AlreadyDone => {
                tx.commit().await?;
                return Ok(job);
            }
            HandBackDecision::Requeue => sqlx::query(
                "UPDATE jobs SET status = 'pending', worker = NULL, started_at = NULL, \
                     lease_expires_at = NULL, pending_reason = NULL, gpu_ids = NULL WHERE id = ?1",
            )
            .bind(id.to_string()),
            HandBackDecision::Cancel => sqlx::query(
                "UPDATE jobs SET status = 'cancelled', finished_at = ?2, \
                     lease_expires_at = NULL, pending_reason = NULL WHERE id = ?1",
            )
            .bind(id.to_string())
            .bind(micros(Utc::now())),
        };
        update.execute(&mut *tx).await?;
        let (job, _) = Self::job_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(self.ended(job).await)
    }

    async fn reap_expired_leases(&self) -> Result<Vec<LostJob>, StoreError> {
        // One file on one host: the local clock is the database's clock.
        let now = Utc::now();
        let mut tx = self.write_tx().await?;
        let rows = sqlx::query(
            "UPDATE jobs SET status = 'failed', failure_reason = 'worker lost', finished_at = ?1, \
                 lease_expires_at = NULL, pending_reason = NULL \
             WHERE status = 'running' AND lease_expires_at <= ?1 \
             RETURNING id, worker, secret_names != '[]' AS had_secrets",
        )
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        if rows
            .iter()
            .any(|r| r.try_get("had_secrets").unwrap_or(true))
        {
            self.scrub_wal().await;
        }
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(LostJob {
                    id: JobId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    worker: r.try_get("worker")?,
                })
            })
            .collect()
    }

    async fn finished_before(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<JobId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE status IN ('completed', 'failed', 'cancelled') \
               AND finished_at IS NOT NULL AND finished_at < ?1 ORDER BY finished_at LIMIT ?2",
        )
        .bind(micros(cutoff))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        ids.iter()
            .map(|id| JobId::parse(id).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    async fn delete_finished(&self, ids: &[JobId]) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut deleted = 0;
        for id in ids {
            deleted += sqlx::query(
                "DELETE FROM jobs WHERE id = ?1 AND status IN ('completed', 'failed', 'cancelled')",
            )
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn create_token(
        &self,
        name: &str,
        role: Role,
        key_id: &str,
        secret_hash: &[u8],
    ) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO tokens (name, role, key_id, secret_hash, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(key_id)
        .bind(secret_hash)
        .bind(micros(Utc::now()))
        .execute(&self.pool)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::TokenExists(name.to_string()))
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    async fn find_token(&self, key_id: &str) -> Result<Option<StoredToken>, StoreError> {
        let row = sqlx::query(FIND_TOKEN)
            .bind(key_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let token = TokenColumns::from_row(&r)?;
            Ok(StoredToken {
                role: token.role()?,
                name: token.name,
                secret_hash: r.try_get("secret_hash")?,
            })
        })
        .transpose()
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(LIST_TOKENS).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let token = TokenColumns::from_row(r)?;
                Ok(TokenInfo {
                    role: token.role()?,
                    name: token.name,
                    created_at: from_micros(Some(r.try_get("created_at")?))?
                        .expect("Some in, Some out"),
                })
            })
            .collect()
    }

    async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(REVOKE_TOKEN)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn register_worker(&self, w: &WorkerRegistration) -> Result<(), StoreError> {
        let now = micros(Utc::now());
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO workers (name, executor, slots, gpus, cpus, version, host, started_at, \
                 last_seen, draining) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9) \
             ON CONFLICT (name) DO UPDATE SET executor = excluded.executor, \
                 slots = excluded.slots, gpus = excluded.gpus, cpus = excluded.cpus, \
                 version = excluded.version, host = excluded.host, \
                 started_at = CASE WHEN excluded.draining THEN workers.started_at \
                                   ELSE excluded.started_at END, \
                 last_seen = excluded.last_seen, draining = excluded.draining",
        )
        .bind(&w.name)
        .bind(&w.executor)
        .bind(w.slots as i64)
        .bind(w.gpus.map(i64::from))
        .bind(w.cpus.map(i64::from))
        .bind(&w.version)
        .bind(&w.host)
        .bind(now)
        .bind(w.draining)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_worker(&self, name: &str) -> Result<(), StoreError> {
        let now = micros(Utc::now());
        sqlx::query(
            "UPDATE workers SET last_seen = ?2 WHERE name = ?1 AND last_seen < ?2 - 1000000",
        )
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn touch_worker_of_job(&self, id: JobId) -> Result<(), StoreError> {
        let now = micros(Utc::now());
        sqlx::query(
            "UPDATE workers SET last_seen = ?2 \
             WHERE name = (SELECT worker FROM jobs WHERE id = ?1) AND last_seen < ?2 - 1000000",
        )
        .bind(id.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_workers(&self) -> Result<Vec<WorkerRecord>, StoreError> {
        let now = Utc::now();
        let pairs: Vec<(String, String)> = sqlx::query_as(
            "SELECT worker, id FROM jobs WHERE status = 'running' AND worker IS NOT NULL \
             ORDER BY started_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let pairs = pairs
            .into_iter()
            .map(|(w, id)| {
                JobId::parse(&id)
                    .map(|id| (w, id))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut running = super::running_by_worker(pairs);
        let rows = sqlx::query(
            "SELECT name, executor, slots, gpus, cpus, version, host, started_at, last_seen, \
                 draining FROM workers ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                let last_seen = from_micros(Some(r.try_get("last_seen")?))?.expect("Some");
                Ok(WorkerRecord {
                    registration: WorkerRegistration {
                        executor: r.try_get("executor")?,
                        slots: r.try_get::<i64, _>("slots")? as u32,
                        gpus: r.try_get::<Option<i64>, _>("gpus")?.map(|g| g as u32),
                        cpus: r.try_get::<Option<i64>, _>("cpus")?.map(|c| c as u32),
                        version: r.try_get("version")?,
                        host: r.try_get("host")?,
                        draining: r.try_get("draining")?,
                        name: name.clone(),
                    },
                    started_at: from_micros(Some(r.try_get("started_at")?))?.expect("Some"),
                    last_seen,
                    silent_for: (now - last_seen).to_std().unwrap_or_default(),
                    running: running.remove(&name).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn prune_workers(&self, silent_for: Duration) -> Result<u64, StoreError> {
        let cutoff = Utc::now() - chrono::Duration::from_std(silent_for).unwrap_or_default();
        let done = sqlx::query("DELETE FROM workers WHERE last_seen < ?1")
            .bind(micros(cutoff))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn count_jobs(&self) -> Result<Vec<(JobStatus, u64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(status, n)| {
                let status = status
                    .parse::<JobStatus>()
                    .map_err(|e| StoreError::Corrupt(format!("bad status: {e}")))?;
                Ok((status, n as u64))
            })
            .collect()
    }
}
