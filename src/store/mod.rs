//! The job store: the one owner of job and token state.
//!
//! [`JobStore`] is what the api talks to; [`open`] picks an implementation from
//! the database URL (`sqlite://…` or `postgres://…`). Nothing above this module
//! knows which database it has, and every state change goes through
//! [`JobStatus::can_become`], so an illegal transition is refused the same way
//! on every backend.

mod page;
mod postgres;
mod sqlite;
pub mod transfer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{JobId, JobSpec, JobStatus, Role, Secrets};
use crate::protocol::{Job, TokenInfo, WorkerRegistration};

pub use page::{InvalidCursor, JobCursor, JobFilter, JobPage};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No job with that id.
    #[error("job {0} not found")]
    JobNotFound(JobId),
    /// The change is not legal in the job's current state, or the lease that
    /// asked for it is no longer the job's.
    #[error("{0}")]
    Conflict(String),
    /// `token create` with a name already in use.
    #[error("a token named {0:?} already exists; revoke it first or pick another name")]
    TokenExists(String),
    /// A row the code cannot make sense of.
    #[error("corrupt row in the database: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Setup(String),
}

impl StoreError {
    /// The database cannot take writes or cannot be reached right now — a
    /// full disk, a read-only file or server, a lost connection, a lock
    /// held too long — rather than anything wrong with the request. The
    /// api answers 503: try again later; nothing was recorded.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => database_unavailable(e),
            _ => false,
        }
    }
}

fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            // Both dialects' codes can be all digits ("25006" is a SQLSTATE),
            // so ask which database answered before reading the code.
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // PostgreSQL's SQLSTATEs: connection exceptions, a read-only
                // transaction, insufficient resources (disk full, out of
                // memory, too many connections), operator intervention
                // (shutdown, cannot connect now).
                code.starts_with("08")
                    || code == "25006"
                    || code.starts_with("53")
                    || code.starts_with("57P")
            } else {
                // SQLite's result codes, extended ones carrying the primary
                // code in their low byte: BUSY, LOCKED, READONLY, IOERR,
                // FULL, CANTOPEN.
                code.parse::<i32>()
                    .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
            }
        }
        _ => false,
    }
}

/// How a job ended, as its worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnd {
    /// Completed, failed or cancelled.
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    pub failure_reason: Option<String>,
    /// How long before the report the worker saw the job end: a report
    /// delayed by an outage still records when the job ended, by the
    /// database's clock.
    pub ago: Duration,
}

/// A job as a final report left it.
#[derive(Debug, Clone)]
pub struct JobEnded {
    pub job: Job,
    /// This report recorded the end; false for a repeat of a report
    /// already recorded (a retry after a lost answer).
    pub recorded_now: bool,
}

/// A token row, for authentication.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub name: String,
    pub role: Role,
    pub secret_hash: Vec<u8>,
}

/// A job whose lease ran out and that the reaper has just failed.
#[derive(Debug, Clone)]
pub struct LostJob {
    pub id: JobId,
    pub worker: Option<String>,
}

/// What a worker has free when it asks for a job (issue 15).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimOffer {
    /// Free GPU device ids, in the order they are handed out; `None`: the
    /// worker does not count resources, any job fits.
    pub free_gpu_ids: Option<Vec<String>>,
    /// Free CPUs; `None`: no limit.
    pub free_cpus: Option<u32>,
    /// Free slots, this claim's included.
    pub free_slots: u32,
    /// The worker's whole capacity, busy or not.
    pub total_gpus: Option<u32>,
    pub total_cpus: Option<u32>,
}

/// GPUs and CPUs a claimed job may take at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimLimits {
    pub gpus: i64,
    pub cpus: i64,
}

impl ClaimOffer {
    /// Counts resources: the oldest-job reservation applies.
    pub fn counts_resources(&self) -> bool {
        self.free_gpu_ids.is_some()
    }

    /// The worker's capacity: jobs beyond it never fit here, so they do not
    /// hold this worker back.
    pub fn capacity(&self) -> ClaimLimits {
        let free = self.free();
        ClaimLimits {
            gpus: self
                .total_gpus
                .map_or(free.gpus, |t| i64::from(t).max(free.gpus)),
            cpus: self
                .total_cpus
                .map_or(free.cpus, |t| i64::from(t).max(free.cpus)),
        }
    }

    /// Whether a job asking for `gpus` and `cpus` fits what is free now.
    pub fn fits_now(&self, gpus: u32, cpus: u32) -> bool {
        let free = self.free();
        i64::from(gpus) <= free.gpus && i64::from(cpus) <= free.cpus
    }

    fn free(&self) -> ClaimLimits {
        ClaimLimits {
            gpus: self
                .free_gpu_ids
                .as_ref()
                .map_or(i64::MAX, |ids| ids.len() as i64),
            cpus: self.free_cpus.map_or(i64::MAX, i64::from),
        }
    }

    /// The starvation rule. `oldest` is what the oldest pending job that
    /// fits this worker's capacity asks for (gpus, cpus). If it fits what is
    /// free, the limits are what is free (and the claim takes it, being the
    /// oldest). If it does not, the worker reserves what it needs: it
    /// claims only a job that fits in what is free minus that reservation
    /// (in each resource, at least nothing), and only while another slot
    /// stays free for it — so no later job delays it, and it starts as soon
    /// as running jobs give back enough. `None`: claim nothing.
    pub fn limits(&self, oldest: Option<(u32, u32)>) -> Option<ClaimLimits> {
        let free = self.free();
        let Some((gpus, cpus)) = oldest else {
            return (!self.counts_resources()).then_some(free);
        };
        if self.fits_now(gpus, cpus) {
            return Some(free);
        }
        let (gpus, cpus) = (i64::from(gpus), i64::from(cpus));
        if self.free_slots < 2 {
            return None;
        }
        let backfill = ClaimLimits {
            gpus: (free.gpus - gpus).max(0),
            cpus: (free.cpus - cpus).max(0),
        };
        (backfill.cpus > 0).then_some(backfill)
    }

    /// What is left of this offer once `job` (just claimed from it) holds
    /// its GPUs, CPUs and slot; `None` when no slot is left.
    pub fn after(&self, job: &Job) -> Option<ClaimOffer> {
        let free_slots = self.free_slots.checked_sub(1).filter(|&s| s > 0)?;
        let taken = job.gpu_ids.as_deref().unwrap_or_default();
        Some(ClaimOffer {
            free_gpu_ids: self.free_gpu_ids.as_ref().map(|ids| {
                ids.iter()
                    .filter(|id| !taken.contains(id))
                    .cloned()
                    .collect()
            }),
            free_cpus: self.free_cpus.map(|c| c.saturating_sub(job.cpus)),
            free_slots,
            total_gpus: self.total_gpus,
            total_cpus: self.total_cpus,
        })
    }

    /// The device ids a job asking for `gpus` gets: the first ones offered.
    pub fn gpu_ids_for(&self, gpus: u32) -> Option<String> {
        self.free_gpu_ids.as_ref().map(|ids| {
            ids.iter()
                .take(gpus as usize)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

/// A worker as the store keeps it: what it registered, when it was last
/// heard from, and the jobs it runs now.
#[derive(Debug, Clone)]
pub struct WorkerRecord {
    pub registration: WorkerRegistration,
    pub started_at: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How long ago `last_seen` was, by the database's clock (the same on
    /// every replica).
    pub silent_for: Duration,
    pub running: Vec<JobId>,
}

/// Job and token state. Implementations must make [`JobStore::claim_job`]
/// atomic: two concurrent claimers never receive the same job.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Checks that the database takes a write (one row, rewritten).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Records a new pending job.
    async fn insert_job(&self, owner: &str, spec: &JobSpec) -> Result<Job, StoreError>;

    /// One job, if it exists.
    async fn get_job(&self, id: JobId) -> Result<Option<Job>, StoreError>;

    /// One page of the jobs matching `filter`, newest first (by
    /// `created_at`, then id), starting after `filter.after`.
    async fn list_jobs(&self, filter: &JobFilter) -> Result<JobPage, StoreError>;

    /// Cancels a pending job at once; flags a running one so its worker stops
    /// it. A finished job is a [`StoreError::Conflict`].
    async fn request_cancel(&self, id: JobId) -> Result<Job, StoreError>;

    /// Hands the oldest pending job that fits `offer` (see
    /// [`ClaimOffer::limits`]) to `worker`, now `running`, with a fresh
    /// lease token valid for `lease` and the first `gpus` of the offered
    /// device ids as its `gpu_ids` — all in one transaction.
    async fn claim_job(
        &self,
        worker: &str,
        lease: Duration,
        offer: &ClaimOffer,
    ) -> Result<Option<(Job, String)>, StoreError> {
        Ok(self.claim_jobs(worker, lease, offer, 1).await?.pop())
    }

    /// Up to `max` claims as [`JobStore::claim_job`] makes them, one after
    /// the other, each against what the previous ones left of `offer`
    /// ([`ClaimOffer::after`]) — in one transaction, so one commit hands
    /// out a whole batch. Stops at the first claim that finds nothing.
    async fn claim_jobs(
        &self,
        worker: &str,
        lease: Duration,
        offer: &ClaimOffer,
        max: u32,
    ) -> Result<Vec<(Job, String)>, StoreError>;

    /// The secrets of a job that is running under this lease: what the
    /// claim answer hands its worker. Empty once the job has ended (they are
    /// deleted with its final status) or when the lease is not the job's.
    async fn claimed_secrets(&self, id: JobId, lease_token: &str) -> Result<Secrets, StoreError>;

    /// Says why each pending job waits when no live worker (seen within
    /// `alive_within`, not draining) is big enough for it, and clears that
    /// once one is; returns how many jobs changed. A worker that does not
    /// announce its GPUs or CPUs (a Slurm worker) fits everything. With no
    /// live worker at all nothing is said.
    async fn explain_unfit_jobs(&self, alive_within: Duration) -> Result<u64, StoreError>;

    /// Extends the lease and records why the job still waits (or that it
    /// does not: `None`); answers whether a cancel was requested. A lease
    /// that is not the job's current one, or a job no longer running, is a
    /// conflict.
    async fn heartbeat(
        &self,
        id: JobId,
        lease_token: &str,
        lease: Duration,
        pending_reason: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Records how a running job ended. Repeating the very same report with
    /// the same lease is accepted (a retry after a lost answer).
    /// `finished_at` is `end.ago` before now, and never before `started_at`.
    async fn finish_job(
        &self,
        id: JobId,
        lease_token: &str,
        end: &JobEnd,
    ) -> Result<JobEnded, StoreError>;

    /// Puts a running job that its worker could not start back to
    /// `pending`, for another worker to claim — or, if a cancel was asked
    /// for meanwhile, cancels it. Repeating it with the same lease is
    /// accepted.
    async fn hand_back(&self, id: JobId, lease_token: &str) -> Result<Job, StoreError>;

    /// Fails every running job whose lease has expired with `worker lost`,
    /// by the database's own clock; each is returned to exactly one caller,
    /// even when several api replicas reap at once.
    async fn reap_expired_leases(&self) -> Result<Vec<LostJob>, StoreError>;

    /// Finished jobs that ended before `cutoff`, oldest first, at most `limit`.
    async fn finished_before(
        &self,
        cutoff: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<JobId>, StoreError>;

    /// Deletes these jobs if they are finished; running and pending ones stay.
    async fn delete_finished(&self, ids: &[JobId]) -> Result<u64, StoreError>;

    /// Stores a new token's hash under `name`, looked up later by `key_id`.
    async fn create_token(
        &self,
        name: &str,
        role: Role,
        key_id: &str,
        secret_hash: &[u8],
    ) -> Result<(), StoreError>;

    /// The token with this public key id, if not revoked.
    async fn find_token(&self, key_id: &str) -> Result<Option<StoredToken>, StoreError>;

    /// Every live token, oldest first.
    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Removes the token named `name`; false when there was none.
    async fn revoke_token(&self, name: &str) -> Result<bool, StoreError>;

    /// Records a worker that starts (a fresh `started_at`) or, with
    /// `draining`, one that has begun to stop; either way it is seen now.
    async fn register_worker(&self, worker: &WorkerRegistration) -> Result<(), StoreError>;

    /// The worker named `name` was seen now (it claimed). At most one write
    /// a second per worker, so busy workers do not add write load.
    async fn touch_worker(&self, name: &str) -> Result<(), StoreError>;

    /// The worker running job `id` was seen now (it heartbeated), as
    /// [`JobStore::touch_worker`].
    async fn touch_worker_of_job(&self, id: JobId) -> Result<(), StoreError>;

    /// Every known worker, by name, with the jobs it runs now.
    async fn list_workers(&self) -> Result<Vec<WorkerRecord>, StoreError>;

    /// Forgets workers not heard from for `silent_for`; how many.
    async fn prune_workers(&self, silent_for: Duration) -> Result<u64, StoreError>;

    /// How many jobs are in each status right now (statuses with none are
    /// left out).
    async fn count_jobs(&self) -> Result<Vec<(JobStatus, u64)>, StoreError>;
}

/// Groups `(worker, job)` pairs of running jobs by worker.
fn running_by_worker(pairs: Vec<(String, JobId)>) -> std::collections::HashMap<String, Vec<JobId>> {
    let mut map: std::collections::HashMap<String, Vec<JobId>> = Default::default();
    for (worker, id) in pairs {
        map.entry(worker).or_default().push(id);
    }
    map
}

/// Opens (creating and migrating as needed) the store at `url`:
/// `sqlite://PATH` or `postgres://…`.
pub async fn open(url: &str) -> Result<Arc<dyn JobStore>, StoreError> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Ok(Arc::new(SqliteStore::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::Setup(format!(
            "unsupported database URL {url:?}: use sqlite://PATH or postgres://USER@HOST/DB"
        )))
    }
}

/// The checks shared by every backend when a worker reports a job's end:
/// the lease must be the job's, and the move must be legal.
fn check_finish(
    current: &Job,
    current_lease: Option<&str>,
    lease_token: &str,
    end: &JobEnd,
) -> Result<FinishDecision, StoreError> {
    if !end.status.is_terminal() {
        return Err(StoreError::Conflict(format!(
            "a job's end is completed, failed or cancelled, not {}",
            end.status
        )));
    }
    let lease_matches = current_lease == Some(lease_token);
    if lease_matches
        && current.status == end.status
        && current.exit_code == end.exit_code
        && current.failure_reason == end.failure_reason
    {
        return Ok(FinishDecision::AlreadyRecorded);
    }
    if !lease_matches {
        return Err(StoreError::Conflict(format!(
            "job {} is no longer leased to this worker (it is {})",
            current.id, current.status
        )));
    }
    if !current.status.can_become(end.status) || end.status == JobStatus::Running {
        return Err(StoreError::Conflict(format!(
            "job {} cannot move from {} to {}",
            current.id, current.status, end.status
        )));
    }
    Ok(FinishDecision::Apply)
}

enum FinishDecision {
    Apply,
    AlreadyRecorded,
}

/// What a final report comes to when the store's conditional update (the
/// job running under this lease) did not take it: a repeat of the end
/// already recorded, or the conflict the shared checks name.
fn end_not_applied(
    job: Job,
    current_lease: Option<&str>,
    lease_token: &str,
    end: &JobEnd,
) -> Result<JobEnded, StoreError> {
    match check_finish(&job, current_lease, lease_token, end)? {
        FinishDecision::AlreadyRecorded => Ok(JobEnded {
            job,
            recorded_now: false,
        }),
        FinishDecision::Apply => Err(StoreError::Conflict(format!(
            "job {} is {}, not running under this lease",
            job.id, job.status
        ))),
    }
}

/// What a hand-back does to a job in its current state.
enum HandBackDecision {
    /// Back to pending.
    Requeue,
    /// A cancel was asked for while it was being started: cancel it.
    Cancel,
    /// A retry of a hand-back that already took effect.
    AlreadyDone,
}

/// The checks for a hand-back: only the lease holder, only while running.
/// The lease token stays on the job until its next claim, so a retried
/// hand-back is recognised.
fn check_hand_back(
    current: &Job,
    current_lease: Option<&str>,
    lease_token: &str,
) -> Result<HandBackDecision, StoreError> {
    if current_lease != Some(lease_token) {
        return Err(stale_lease(current.id, current.status));
    }
    match current.status {
        JobStatus::Running if current.cancel_requested => Ok(HandBackDecision::Cancel),
        JobStatus::Running => Ok(HandBackDecision::Requeue),
        JobStatus::Pending | JobStatus::Cancelled => Ok(HandBackDecision::AlreadyDone),
        done => Err(StoreError::Conflict(format!(
            "job {} has already ended ({done}); it cannot go back to pending",
            current.id
        ))),
    }
}

/// The conflict for a heartbeat whose lease is gone.
fn stale_lease(id: JobId, status: JobStatus) -> StoreError {
    StoreError::Conflict(format!(
        "job {id} is no longer leased to this worker (it is {status})"
    ))
}

/// What `request_cancel` does to a job in each state.
enum CancelDecision {
    CancelNow,
    AskWorker,
    AlreadyAsked,
}

fn decide_cancel(job: &Job) -> Result<CancelDecision, StoreError> {
    match job.status {
        JobStatus::Pending => Ok(CancelDecision::CancelNow),
        JobStatus::Running if job.cancel_requested => Ok(CancelDecision::AlreadyAsked),
        JobStatus::Running => Ok(CancelDecision::AskWorker),
        done => Err(StoreError::Conflict(format!(
            "job {} has already ended ({done}); only pending or running jobs can be cancelled",
            job.id
        ))),
    }
}

/// A random lease token.
fn new_lease_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn lease_expiry(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60))
}

/// The columns of a job row that both stores keep in the same SQL types.
/// Each store reads the id and the timestamps itself (TEXT and integer
/// microseconds in SQLite; UUID and TIMESTAMPTZ in PostgreSQL), then
/// [`JobColumns::into_job`] does the rest once for both.
#[derive(sqlx::FromRow)]
struct JobColumns {
    name: Option<String>,
    owner: String,
    command: String,
    cwd: Option<String>,
    env: String,
    /// A JSON array of names (TEXT in SQLite, JSONB read as text in PostgreSQL).
    secret_names: String,
    timeout_seconds: Option<i64>,
    status: String,
    exit_code: Option<i32>,
    failure_reason: Option<String>,
    worker: Option<String>,
    cancel_requested: bool,
    pending_reason: Option<String>,
    gpus: i32,
    cpus: i32,
    gpu_ids: Option<String>,
}

/// When a job was created, started and finished, in the store's own types.
struct JobTimes {
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl JobColumns {
    fn into_job(self, id: JobId, times: JobTimes) -> Result<Job, StoreError> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("job {id}: bad {what}: {e}"))
        };
        Ok(Job {
            id,
            name: self.name,
            owner: self.owner,
            command: serde_json::from_str(&self.command).map_err(|e| corrupt("command", &e))?,
            cwd: self.cwd,
            env: serde_json::from_str(&self.env).map_err(|e| corrupt("env", &e))?,
            secret_names: serde_json::from_str(&self.secret_names)
                .map_err(|e| corrupt("secret_names", &e))?,
            timeout_seconds: self.timeout_seconds.map(|t| t as u64),
            status: self.status.parse().map_err(|e| corrupt("status", &e))?,
            exit_code: self.exit_code,
            failure_reason: self.failure_reason,
            worker: self.worker,
            created_at: times.created_at,
            started_at: times.started_at,
            finished_at: times.finished_at,
            cancel_requested: self.cancel_requested,
            pending_reason: self.pending_reason,
            gpus: u32::try_from(self.gpus).map_err(|e| corrupt("gpus", &e))?,
            cpus: u32::try_from(self.cpus).map_err(|e| corrupt("cpus", &e))?,
            gpu_ids: self.gpu_ids.map(|ids| {
                ids.split(',')
                    .filter(|id| !id.is_empty())
                    .map(String::from)
                    .collect()
            }),
        })
    }
}

/// `pending_reason` of a pending job no live worker can fit.
const UNFIT_REASON: &str = "'no live worker has ' || jobs.gpus || ' GPU(s) and ' || jobs.cpus || \
     ' CPU(s); it starts when one that big registers'";

/// The UPDATE of [`JobStore::explain_unfit_jobs`], the same in both
/// dialects but for `live_since`, the oldest `last_seen` that counts as
/// live; only rows whose reason changes are written.
fn explain_unfit_sql(live_since: &str) -> String {
    let live = format!("w.last_seen >= {live_since} AND NOT w.draining");
    let some_worker_fits = format!(
        "EXISTS (SELECT 1 FROM workers w WHERE {live} \
             AND (w.gpus IS NULL OR w.gpus >= jobs.gpus) \
             AND (w.cpus IS NULL OR w.cpus >= jobs.cpus))"
    );
    let some_worker_lives = format!("EXISTS (SELECT 1 FROM workers w WHERE {live})");
    format!(
        "UPDATE jobs SET pending_reason = CASE WHEN {some_worker_fits} OR NOT {some_worker_lives} \
             THEN NULL ELSE {UNFIT_REASON} END \
         WHERE status = 'pending' AND (gpus > 0 OR cpus > 1 OR pending_reason IS NOT NULL) \
           AND pending_reason IS DISTINCT FROM (CASE WHEN {some_worker_fits} OR NOT {some_worker_lives} \
             THEN NULL ELSE {UNFIT_REASON} END)"
    )
}

/// Token SQL that both dialects read the same (`$1` is a parameter to
/// SQLite as well as to PostgreSQL).
const FIND_TOKEN: &str = "SELECT name, role, secret_hash FROM tokens WHERE key_id = $1";
const LIST_TOKENS: &str = "SELECT name, role, created_at FROM tokens ORDER BY created_at, name";
const REVOKE_TOKEN: &str = "DELETE FROM tokens WHERE name = $1";

/// A token row's name and role, the same in both stores.
#[derive(sqlx::FromRow)]
struct TokenColumns {
    name: String,
    role: String,
}

impl TokenColumns {
    fn role(&self) -> Result<Role, StoreError> {
        self.role.parse().map_err(StoreError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(free_gpus: usize, free_cpus: u32, free_slots: u32) -> ClaimOffer {
        ClaimOffer {
            free_gpu_ids: Some((0..free_gpus).map(|i| i.to_string()).collect()),
            free_cpus: Some(free_cpus),
            free_slots,
            total_gpus: Some(4),
            total_cpus: Some(16),
        }
    }

    fn lim(gpus: i64, cpus: i64) -> Option<ClaimLimits> {
        Some(ClaimLimits { gpus, cpus })
    }

    #[test]
    fn the_oldest_job_that_fits_now_is_taken() {
        assert_eq!(offer(4, 16, 8).limits(Some((2, 1))), lim(4, 16));
        assert_eq!(offer(1, 16, 1).limits(Some((1, 1))), lim(1, 16));
        assert!(offer(2, 4, 1).fits_now(2, 4));
        assert!(!offer(2, 4, 8).fits_now(3, 1));
        assert!(!offer(2, 4, 8).fits_now(0, 5));
    }

    #[test]
    fn a_waiting_big_job_reserves_what_it_needs() {
        // 3 GPUs wanted, 1 free: no GPU job may start, CPU-only ones may.
        assert_eq!(offer(1, 16, 8).limits(Some((3, 2))), lim(0, 14));
        // Short of CPUs: nothing that needs a CPU (everything) starts.
        assert_eq!(offer(4, 4, 8).limits(Some((0, 8))), None);
        // The last free slot is kept for it.
        assert_eq!(offer(1, 16, 1).limits(Some((3, 1))), None);
    }

    #[test]
    fn nothing_pending_that_fits_means_no_claim_unless_uncounted() {
        assert_eq!(offer(4, 16, 8).limits(None), None);
        let uncounted = ClaimOffer {
            free_slots: 1,
            ..ClaimOffer::default()
        };
        assert_eq!(uncounted.limits(None), lim(i64::MAX, i64::MAX));
        assert_eq!(uncounted.gpu_ids_for(2), None);
    }

    #[test]
    fn a_job_gets_the_first_offered_devices() {
        let o = offer(4, 16, 8);
        assert_eq!(o.gpu_ids_for(2).as_deref(), Some("0,1"));
        assert_eq!(o.gpu_ids_for(0).as_deref(), Some(""));
        assert_eq!(o.capacity(), ClaimLimits { gpus: 4, cpus: 16 });
    }
}
