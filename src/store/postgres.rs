//! The PostgreSQL store, for scale-out: any number of api replicas share it.
//!
//! Claims take the oldest pending row with `FOR UPDATE SKIP LOCKED` inside a
//! `MATERIALIZED` CTE, so concurrent claimers skip each other's rows instead
//! of queueing on them and the planner cannot inline the CTE and re-run the
//! lock per candidate. Every other read-then-write locks its row with
//! `FOR UPDATE`, so status never moves backwards under races. Every
//! timestamp is the database's clock (`now()`), leases included, so api
//! replicas whose clocks drift apart still agree on when a worker is lost
//! and on the order in which jobs were submitted, claimed and finished.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{FromRow, Postgres, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::{
    CancelDecision, ClaimOffer, FIND_TOKEN, HandBackDecision, JobColumns, JobEnd, JobEnded,
    JobFilter, JobPage, JobStore, JobTimes, LIST_TOKENS, LostJob, REVOKE_TOKEN, StoreError,
    StoredToken, TokenColumns, WorkerRecord, check_hand_back, decide_cancel, end_not_applied,
    new_lease_token, page::contains_pattern, stale_lease,
};
use crate::domain::{JobId, JobSpec, JobStatus, Role, Secrets};
use crate::protocol::{Job, TokenInfo, WorkerRegistration};

const JOB_COLUMNS: &str = "id, name, owner, command::text AS command, cwd, env::text AS env, \
     timeout_seconds, status, exit_code, failure_reason, worker, created_at, started_at, \
     finished_at, cancel_requested, lease_token, pending_reason, \
     secret_names::text AS secret_names, gpus, cpus, gpu_ids";

/// Job state in PostgreSQL.
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects and applies migrations. Migrations take an advisory lock, so
    /// replicas starting together apply them once.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.application_name("jobctl");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    async fn locked_job(
        tx: &mut Transaction<'static, Postgres>,
        id: JobId,
    ) -> Result<(Job, Option<String>), StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE"
        )))
        .bind(id.as_uuid())
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::JobNotFound(id))?;
        let lease: Option<String> = row.try_get("lease_token")?;
        Ok((job_from_row(&row)?, lease))
    }

    /// PostgreSQL's plan for the `GET /jobs` query of `filter`: how tests
    /// and benchmarks check that a page is an index scan.
    pub async fn explain_list_jobs(&self, filter: &JobFilter) -> Result<String, StoreError> {
        let rows = list_query("EXPLAIN ", filter)
            .build()
            .fetch_all(&self.pool)
            .await?;
        let steps = rows
            .iter()
            .map(|row| row.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(steps.join("\n"))
    }

    /// One claim inside the claimer's transaction: the oldest pending job
    /// that fits `offer`, now running under a fresh lease.
    async fn claim_in(
        tx: &mut Transaction<'static, Postgres>,
        worker: &str,
        lease: Duration,
        offer: &ClaimOffer,
    ) -> Result<Option<(Job, String)>, StoreError> {
        let lease_token = new_lease_token();
        // What the oldest job this worker could ever run asks for: read
        // without a lock, since a reservation a moment stale is harmless
        // (the claim below re-checks every job it takes).
        let oldest = if offer.counts_resources() {
            let capacity = offer.capacity();
            sqlx::query_as::<_, (i32, i32)>(
                "SELECT gpus, cpus FROM jobs WHERE status = 'pending' AND gpus <= $1 \
                     AND cpus <= $2 ORDER BY created_at, id LIMIT 1",
            )
            .bind(capacity.gpus)
            .bind(capacity.cpus)
            .fetch_optional(&mut **tx)
            .await?
            .map(|(g, c)| (g.max(0) as u32, c.max(0) as u32))
        } else {
            None
        };
        let Some(limits) = offer.limits(oldest) else {
            return Ok(None);
        };
        // The fit conditions are in the locking SELECT itself: a job that
        // does not fit is never taken, so never given back.
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH next AS MATERIALIZED ( \
                 SELECT id, gpus FROM jobs WHERE status = 'pending' AND gpus <= $4 \
                     AND cpus <= $5 \
                 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             UPDATE jobs SET status = 'running', worker = $1, started_at = now(), \
                 lease_token = $2, lease_expires_at = now() + make_interval(secs => $3), \
                 pending_reason = NULL, \
                 gpu_ids = array_to_string(($6::text[])[1:next.gpus], ',') \
             FROM next WHERE jobs.id = next.id \
             RETURNING {}",
            JOB_COLUMNS
                .split(", ")
                .map(|c| format!("jobs.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .bind(worker)
        .bind(&lease_token)
        .bind(lease.as_secs_f64())
        .bind(limits.gpus)
        .bind(limits.cpus)
        .bind(offer.free_gpu_ids.as_deref())
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            Some(row) => Ok(Some((job_from_row(&row)?, lease_token))),
            None => Ok(None),
        }
    }

    async fn job_in(tx: &mut Transaction<'static, Postgres>, id: JobId) -> Result<Job, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id.as_uuid())
        .fetch_one(&mut **tx)
        .await?;
        job_from_row(&row)
    }
}

fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    let id: Uuid = row.try_get("id")?;
    let times = JobTimes {
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    };
    JobColumns::from_row(row)?.into_job(JobId::from(id), times)
}

/// The `GET /jobs` query for `filter`, after `prefix` (empty, or an
/// `EXPLAIN`).
fn list_query(prefix: &str, filter: &JobFilter) -> QueryBuilder<Postgres> {
    // Only the conditions asked for, so that each query is one the
    // indexes of migration 0003 serve: `($1 IS NULL OR …)` forms get a
    // generic plan that scans the table.
    let mut query =
        QueryBuilder::<Postgres>::new(format!("{prefix}SELECT {JOB_COLUMNS} FROM jobs"));
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
            .push("id::text LIKE ")
            .push_bind(format!("{id_prefix}%"));
        glue = " AND ";
    }
    if let Some(text) = &filter.text {
        let pattern = contains_pattern(text);
        query
            .push(glue)
            .push("(name ILIKE ")
            .push_bind(pattern.clone())
            .push(
                " ESCAPE '\\' OR array_to_string(ARRAY(SELECT jsonb_array_elements_text(command)), ' ') ILIKE ",
            )
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
        glue = " AND ";
    }
    if let Some(after) = &filter.after {
        query
            .push(glue)
            .push("(created_at, id) < (")
            .push_bind(after.created_at)
            .push(", ")
            .push_bind(after.id.as_uuid())
            .push(")");
    }
    query
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(i64::from(filter.limit) + 1);
    query
}

#[async_trait]
impl JobStore for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE health SET checked_at = now() WHERE id = 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_job(&self, owner: &str, spec: &JobSpec) -> Result<Job, StoreError> {
        let id = JobId::new();
        let insert = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO jobs (id, name, owner, command, cwd, env, timeout_seconds, status, \
                 created_at, secret_names, gpus, cpus) \
             VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, 'pending', now(), $8::jsonb, $9, $10) \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(id.as_uuid())
        .bind(spec.name())
        .bind(owner)
        .bind(serde_json::to_string(spec.command()).expect("strings serialise"))
        .bind(spec.cwd())
        .bind(serde_json::to_string(spec.env()).expect("strings serialise"))
        .bind(spec.timeout_seconds().map(|t| t as i64))
        .bind(serde_json::to_string(&spec.secrets().names()).expect("strings serialise"))
        .bind(spec.gpus() as i32)
        .bind(spec.cpus() as i32);
        if spec.secrets().is_empty() {
            // One row: one statement in one round trip, committed on its
            // own. The answer is read through to the end of the exchange,
            // so a commit that fails is an error here, never a job
            // acknowledged and lost.
            let row = insert.fetch_one(&self.pool).await?;
            return job_from_row(&row);
        }
        let mut tx = self.pool.begin().await?;
        let row = insert.fetch_one(&mut *tx).await?;
        let job = job_from_row(&row)?;
        for (name, value) in spec.secrets().iter() {
            sqlx::query("INSERT INTO job_secrets (job_id, name, value) VALUES ($1, $2, $3)")
                .bind(id.as_uuid())
                .bind(name)
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(job)
    }

    async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id.as_uuid())
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
        let mut tx = self.pool.begin().await?;
        let (job, _) = Self::locked_job(&mut tx, id).await?;
        let id_uuid = id.as_uuid();
        let decision = match decide_cancel(&job) {
            Ok(decision) => decision,
            Err(e) => {
                // Release the row lock now: a transaction merely dropped is
                // rolled back later, and a claimer's SKIP LOCKED meanwhile
                // would pass over the row.
                tx.rollback().await?;
                return Err(e);
            }
        };
        let update = match decision {
            CancelDecision::CancelNow => sqlx::query(
                "UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = $1",
            )
            .bind(id_uuid),
            CancelDecision::AskWorker => {
                sqlx::query("UPDATE jobs SET cancel_requested = TRUE WHERE id = $1").bind(id_uuid)
            }
            CancelDecision::AlreadyAsked => {
                tx.commit().await?;
                return Ok(job);
            }
        };
        update.execute(&mut *tx).await?;
        let job = Self::job_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(job)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        lease: Duration,
        offer: &ClaimOffer,
        max: u32,
    ) -> Result<Vec<(Job, String)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut claimed = Vec::new();
        let mut left = Some(offer.clone());
        while let Some(offer) = left.take()
            && claimed.len() < max as usize
        {
            let Some((job, lease_token)) = Self::claim_in(&mut tx, worker, lease, &offer).await?
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
             WHERE s.job_id = $1 AND j.status = 'running' AND j.lease_token = $2",
        )
        .bind(id.as_uuid())
        .bind(lease_token)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn explain_unfit_jobs(&self, alive_within: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query(sqlx::AssertSqlSafe(super::explain_unfit_sql(
            "(now() - make_interval(secs => $1))",
        )))
        .bind(alive_within.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn heartbeat(
        &self,
        id: JobId,
        lease_token: &str,
        lease: Duration,
        pending_reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        // One conditional update: it either extends this lease or touches
        // nothing, so no lock is held across round trips.
        let row = sqlx::query(
            "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3), \
                 pending_reason = $4 \
             WHERE id = $1 AND status = 'running' AND lease_token = $2 \
             RETURNING cancel_requested",
        )
        .bind(id.as_uuid())
        .bind(lease_token)
        .bind(lease.as_secs_f64())
        .bind(pending_reason)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(row.try_get("cancel_requested")?),
            None => match self.get_job(id).await? {
                Some(job) => Err(stale_lease(id, job.status)),
                None => Err(StoreError::JobNotFound(id)),
            },
        }
    }

    async fn finish_job(
        &self,
        id: JobId,
        lease_token: &str,
        end: &JobEnd,
    ) -> Result<JobEnded, StoreError> {
        // The usual report: a running job under this lease. One statement
        // in one round trip checks, writes and returns the row (the update
        // locks it, and re-checks the conditions after any concurrent
        // change); `finished_at` by the database's clock, never before
        // `started_at`. Its commit is awaited with it: the answer is read
        // through to the end of the exchange, past any commit error.
        if end.status.is_terminal() {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET status = $2, exit_code = $3, failure_reason = $4, \
                     finished_at = GREATEST(now() - make_interval(secs => $5), started_at), \
                     lease_expires_at = NULL, pending_reason = NULL \
                 WHERE id = $1 AND status = 'running' AND lease_token = $6 \
                 RETURNING {JOB_COLUMNS}"
            )))
            .bind(id.as_uuid())
            .bind(end.status.as_str())
            .bind(end.exit_code)
            .bind(end.failure_reason.as_deref())
            .bind(end.ago.as_secs_f64())
            .bind(lease_token)
            .fetch_optional(&self.pool)
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::JobNotFound(id))?;
        let current: Option<String> = row.try_get("lease_token")?;
        let job = job_from_row(&row)?;
        end_not_applied(job, current.as_deref(), lease_token, end)
    }

    async fn hand_back(&self, id: JobId, lease_token: &str) -> Result<Job, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (job, current) = Self::locked_job(&mut tx, id).await?;
        let decision = match check_hand_back(&job, current.as_deref(), lease_token) {
            Ok(decision) => decision,
            Err(e) => {
                // Release the row lock now, as in finish_job.
                tx.rollback().await?;
                return Err(e);
            }
        };
        let update = match decision {
            HandBackDecision::AlreadyDone => {
                tx.commit().await?;
                return Ok(job);
            }
            HandBackDecision::Requeue => {
                "UPDATE jobs SET status = 'pending', worker = NULL, started_at = NULL, \
                     lease_expires_at = NULL, pending_reason = NULL, gpu_ids = NULL WHERE id = $1"
            }
            HandBackDecision::Cancel => {
                "UPDATE jobs SET status = 'cancelled', finished_at = now(), \
                     lease_expires_at = NULL, pending_reason = NULL WHERE id = $1"
            }
        };
        sqlx::query(update)
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
        let job = Self::job_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(job)
    }

    async fn reap_expired_leases(&self) -> Result<Vec<LostJob>, StoreError> {
        // Concurrent reapers: the second waits on the first's row locks, then
        // re-checks `status = 'running'` and skips rows already failed.
        let rows = sqlx::query(
            "UPDATE jobs SET status = 'failed', failure_reason = 'worker lost', finished_at = now(), \
                 lease_expires_at = NULL, pending_reason = NULL \
             WHERE status = 'running' AND lease_expires_at <= now() RETURNING id, worker",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LostJob {
                    id: JobId::from(r.try_get::<Uuid, _>("id")?),
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
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE status IN ('completed', 'failed', 'cancelled') \
               AND finished_at IS NOT NULL AND finished_at < $1 ORDER BY finished_at LIMIT $2",
        )
        .bind(cutoff)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(JobId::from).collect())
    }

    async fn delete_finished(&self, ids: &[JobId]) -> Result<u64, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let done = sqlx::query(
            "DELETE FROM jobs WHERE id = ANY($1) AND status IN ('completed', 'failed', 'cancelled')",
        )
        .bind(&ids)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
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
             VALUES ($1, $2, $3, $4, now())",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(key_id)
        .bind(secret_hash)
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
                    created_at: r.try_get("created_at")?,
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
        sqlx::query(
            "INSERT INTO workers (name, executor, slots, gpus, cpus, version, host, started_at, \
                 last_seen, draining) VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now(), $8) \
             ON CONFLICT (name) DO UPDATE SET executor = excluded.executor, \
                 slots = excluded.slots, gpus = excluded.gpus, cpus = excluded.cpus, \
                 version = excluded.version, host = excluded.host, \
                 started_at = CASE WHEN excluded.draining THEN workers.started_at \
                                   ELSE excluded.started_at END, \
                 last_seen = excluded.last_seen, draining = excluded.draining",
        )
        .bind(&w.name)
        .bind(&w.executor)
        .bind(w.slots as i32)
        .bind(w.gpus.map(|g| g as i32))
        .bind(w.cpus.map(|c| c as i32))
        .bind(&w.version)
        .bind(&w.host)
        .bind(w.draining)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn touch_worker(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workers SET last_seen = now() \
             WHERE name = $1 AND last_seen < now() - interval '1 second'",
        )
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn touch_worker_of_job(&self, id: JobId) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE workers SET last_seen = now() \
             WHERE name = (SELECT worker FROM jobs WHERE id = $1) \
               AND last_seen < now() - interval '1 second'",
        )
        .bind(id.as_uuid())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_workers(&self) -> Result<Vec<WorkerRecord>, StoreError> {
        let pairs: Vec<(String, Uuid)> = sqlx::query_as(
            "SELECT worker, id FROM jobs WHERE status = 'running' AND worker IS NOT NULL \
             ORDER BY started_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut running = super::running_by_worker(
            pairs
                .into_iter()
                .map(|(w, id)| (w, JobId::from(id)))
                .collect(),
        );
        let rows = sqlx::query(
            "SELECT name, executor, slots, gpus, cpus, version, host, started_at, last_seen, \
                 draining, EXTRACT(EPOCH FROM (now() - last_seen))::float8 AS silent \
             FROM workers ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get("name")?;
                let silent: f64 = r.try_get("silent")?;
                Ok(WorkerRecord {
                    registration: WorkerRegistration {
                        executor: r.try_get("executor")?,
                        slots: r.try_get::<i32, _>("slots")? as u32,
                        gpus: r.try_get::<Option<i32>, _>("gpus")?.map(|g| g as u32),
                        cpus: r.try_get::<Option<i32>, _>("cpus")?.map(|c| c as u32),
                        version: r.try_get("version")?,
                        host: r.try_get("host")?,
                        draining: r.try_get("draining")?,
                        name: name.clone(),
                    },
                    started_at: r.try_get("started_at")?,
                    last_seen: r.try_get("last_seen")?,
                    silent_for: Duration::from_secs_f64(silent.max(0.0)),
                    running: running.remove(&name).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn prune_workers(&self, silent_for: Duration) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM workers WHERE last_seen < now() - make_interval(secs => $1)")
                .bind(silent_for.as_secs_f64())
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
