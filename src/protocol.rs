//! The REST API's request and response bodies.
//!
//! The api serialises these and the HTTP client (CLI, worker, web UI)
//! deserialises the very same types, so the two sides can never disagree on a
//! field name. The OpenAPI description is derived from them too.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{JobId, JobStatus, Role, Secrets};

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: JobId,
    pub name: Option<String>,
    /// The name of the token that submitted the job.
    pub owner: String,
    /// The argv, program first; run without a shell.
    pub command: Vec<String>,
    pub cwd: Option<String>,
    pub env: BTreeMap<String, String>,
    /// The names of the job's secrets, sorted; their values are never shown.
    #[serde(default)]
    pub secret_names: Vec<String>,
    pub timeout_seconds: Option<u64>,
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    /// Why a failed job failed, e.g. `exit code 3`, `worker lost`.
    pub failure_reason: Option<String>,
    /// The worker that claimed the job.
    pub worker: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// A cancel was asked for while the job runs; its worker is stopping it.
    #[serde(default)]
    pub cancel_requested: bool,
    /// Why the job is not doing work yet, e.g. `in Slurm's queue as job
    /// 1234: Priority` while a Slurm worker's job waits in Slurm's queue.
    #[serde(default)]
    pub pending_reason: Option<String>,
    /// GPUs the job asked for.
    #[serde(default)]
    pub gpus: u32,
    /// CPUs the job asked for.
    #[serde(default = "one")]
    pub cpus: u32,
    /// The device ids its worker gave it (its `CUDA_VISIBLE_DEVICES`) once
    /// claimed; empty for a job without GPUs, null before it is claimed.
    #[serde(default)]
    pub gpu_ids: Option<Vec<String>>,
}

fn one() -> u32 {
    1
}

/// `POST /jobs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    /// argv, program first (no shell: use `["sh", "-c", "…"]` for one).
    #[schema(schema_with = command_schema)]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256, pattern = "^[^\\u0000]*$")]
    pub name: Option<String>,
    /// Absolute working directory on the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 4096, pattern = "^(/[^\\u0000]*)?$")]
    pub cwd: Option<String>,
    /// Variables added to the worker's environment: names of letters,
    /// digits and underscores, not starting with a digit.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(schema_with = env_schema)]
    pub env: BTreeMap<String, String>,
    /// Write-only values set in the job's environment: never returned by
    /// any route (the job shows `secret_names`), redacted from its output,
    /// removed when the job ends. Each at least 6 characters, at most 64 KiB.
    #[serde(default, skip_serializing_if = "Secrets::is_empty")]
    #[schema(schema_with = secrets_schema)]
    pub secrets: Secrets,
    /// Seconds, at most 366 days.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    #[schema(minimum = 1, maximum = 31_622_400)]
    pub timeout_seconds: Option<u64>,
    /// GPUs the job needs (default 0): it runs on a worker with that many
    /// free devices and sees only those in `CUDA_VISIBLE_DEVICES`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 64)]
    pub gpus: Option<u32>,
    /// CPUs the job needs (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1024)]
    pub cpus: Option<u32>,
}

/// A whole number, also when written `90.0`: JSON Schema (and so every
/// client generated from the OpenAPI description) counts that an integer.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(n) = n.as_u64() {
        return Ok(Some(n));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&f) => Ok(Some(f as u64)),
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole number of seconds, got {n}"
        ))),
    }
}

/// Strings the api takes hold no NUL character.
const NO_NUL: &str = "^[^\\u0000]*$";

/// A command as the api takes it: 1 to 4096 arguments, the program (the
/// first) not empty.
/// A claim's free GPU ids: at most 1024 distinct ids of 1 to 128 letters,
/// digits, `-`, `_`, `:` or `.` (what `POST /workers/claim` checks), or null.
fn gpu_ids_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z0-9_:.-]{1,128}$")),
        )
        .max_items(Some(1024))
        .unique_items(true)
        .build()
}

fn command_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .prefix_items([ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .pattern(Some(NO_NUL))
            .build()])
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL)),
        )
        .min_items(Some(1))
        .max_items(Some(crate::domain::limits::MAX_ARGS))
        .description(Some(
            "argv, program first (no shell: use `[\"sh\", \"-c\", \"…\"]` for one).",
        ))
        .build()
}

/// A job's environment: at most 256 variables with portable names.
fn env_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z_][A-Za-z0-9_]{0,1023}$")),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL))
                .into(),
        )))
        .max_properties(Some(crate::domain::limits::MAX_ENV_VARS))
        .description(Some(
            "Variables added to the worker's environment: names of letters, digits and \
             underscores, not starting with a digit.",
        ))
        .build()
}

/// A job's secrets: at most 64, names like environment names, values of
/// 6 characters to 64 KiB.
fn secrets_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z_][A-Za-z0-9_]{0,1023}$")),
        ))
        .additional_properties(Some(AdditionalProperties::RefOr(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL))
                .min_length(Some(crate::domain::limits::MIN_SECRET_CHARS))
                .max_length(Some(crate::domain::limits::MAX_SECRET_CHARS))
                .into(),
        )))
        .max_properties(Some(crate::domain::limits::MAX_SECRETS))
        .description(Some(
            "Write-only values set in the job's environment: never returned (the job shows \
             `secret_names`), redacted from its output, removed when the job ends. Names like \
             env names; values of 6 to 16 384 characters.",
        ))
        .build()
}

/// `GET /jobs` answer: one page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// Newest first (by `created_at`, then id).
    pub jobs: Vec<Job>,
    /// Pass as `cursor=` for the next, older page; null on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// `GET /jobs` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this status, or in any of a comma-separated list
    /// (`pending,running`).
    #[param(
        example = "pending,running",
        pattern = "^(pending|running|completed|failed|cancelled)(,(pending|running|completed|failed|cancelled))*$"
    )]
    pub status: Option<String>,
    /// Only jobs of this owner (admins; a user may only name themself).
    pub owner: Option<String>,
    /// Only jobs whose name or command (its words joined by spaces)
    /// contains this text, case-insensitively (ASCII letters only on
    /// SQLite). At most 256 characters.
    #[param(max_length = 256, pattern = "^[^\\u0000]*$")]
    pub q: Option<String>,
    /// At most this many jobs (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page: continue with older jobs.
    /// Opaque; anything else is refused (400).
    #[param(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    pub cursor: Option<String>,
    /// Only jobs whose id starts with these hex digits (how the CLI resolves
    /// short ids).
    #[param(pattern = "^[0-9a-fA-F-]{1,36}$")]
    pub id_prefix: Option<String>,
}

/// `GET /jobs/{id}/logs` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// The last N lines (default 1000, at most 10000), of the log or of
    /// what lies before `before`. Not with `offset`.
    #[param(minimum = 0, maximum = 10000)]
    pub tail: Option<u32>,
    /// The bytes from this offset on, instead of a tail. Not with `tail`
    /// or `before`.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub offset: Option<u64>,
    /// The last `tail` lines that end at or before this byte offset: the
    /// output above what a viewer shows. Ask again with the answer's
    /// `offset` for the lines above those. A value past the end of the log
    /// is taken as its end. Not with `offset`.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
}

/// A piece of a job's log, as `GET /jobs/{id}/logs` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogChunk {
    pub job_id: JobId,
    /// The job's status when the log was read: a follower stops once this is
    /// terminal and it has read to `size`.
    pub status: JobStatus,
    /// The text, decoded lossily (invalid UTF-8 becomes U+FFFD).
    pub logs: String,
    /// Byte offset in the file where `logs` starts (with `before`: ask
    /// `before=offset` for the lines above).
    pub offset: u64,
    /// Byte offset where `logs` ends: where the next `?offset=` poll starts.
    pub next_offset: u64,
    /// File size when read.
    pub size: u64,
    /// The tail was cut at the byte limit (a huge line).
    pub truncated: bool,
}

/// `GET /jobs/{id}/logs/search` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogSearchQuery {
    /// The text to find, literally (no wildcards, no regular expression):
    /// not empty, no line break, at most 1024 characters.
    #[param(min_length = 1, max_length = 1024, pattern = "^[^\\r\\n]+$")]
    pub q: String,
    /// Match ASCII letters in either case (other characters match exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_case: Option<bool>,
    /// At most this many matching lines (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Start here: 0, or the `next_after` of the previous answer.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
}

/// A line of a log that holds the searched text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogMatch {
    /// Byte offset where the line starts (`?before=` / `?offset=` load the
    /// output around it).
    pub offset: u64,
    /// Byte offset of the first occurrence in the line.
    pub match_offset: u64,
    /// The line without its line break, at most 1024 bytes of it, decoded
    /// lossily; it always holds the occurrence.
    pub text: String,
    /// Byte offset where `text` starts: `offset`, unless the occurrence
    /// lies further into a long line.
    pub text_offset: u64,
    /// `text` is not the whole line.
    pub truncated: bool,
}

/// `GET /jobs/{id}/logs/search` answer: the matching lines of one stretch
/// of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogSearch {
    pub job_id: JobId,
    /// The job's status when the log was searched.
    pub status: JobStatus,
    /// In file order.
    pub matches: Vec<LogMatch>,
    /// Ask again with `after=` this to go on; null when the search reached
    /// the end of the log as it was.
    pub next_after: Option<u64>,
    /// Bytes of the log this request scanned (at most 64 MiB).
    pub scanned_bytes: u64,
    /// The log's size when searched.
    pub size: u64,
}

/// `POST /workers/claim`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The worker's name (host name by default): not blank, no control
    /// characters.
    #[schema(
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub worker: String,
    /// The GPU device ids free on the worker now, in the order it hands
    /// them out: a claimed job gets the first `gpus` of them. Absent: the
    /// worker does not count resources (it claims any job; the Slurm
    /// executor leaves that to Slurm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = gpu_ids_schema)]
    pub free_gpu_ids: Option<Vec<String>>,
    /// CPUs free on the worker now. Absent: no limit.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_count"
    )]
    #[schema(minimum = 0, maximum = 100_000)]
    pub free_cpus: Option<u32>,
    /// Job slots free on the worker now, the one this claim is for
    /// included. Absent: one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_count"
    )]
    #[schema(minimum = 0, maximum = 100_000)]
    pub free_slots: Option<u32>,
    /// All the GPUs the worker has, busy or not (for the starvation rule:
    /// the oldest job that fits this total is not overtaken).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_count"
    )]
    #[schema(minimum = 0, maximum = 100_000)]
    pub total_gpus: Option<u32>,
    /// All the CPUs the worker has.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_count"
    )]
    #[schema(minimum = 0, maximum = 100_000)]
    pub total_cpus: Option<u32>,
    /// How many jobs `POST /workers/claims` may hand out at once, each
    /// fitting what the ones before it left free (at most `free_slots`).
    /// Absent: one. `POST /workers/claim` hands out one job whatever it says.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "optional_whole_count"
    )]
    #[schema(minimum = 1, maximum = 1024)]
    pub max_jobs: Option<u32>,
}

/// What `POST /workers/claims` hands out: the claimed jobs, oldest first
/// (none when nothing fits).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimedJobs {
    pub jobs: Vec<ClaimedJob>,
}

/// A job handed to a worker, with the lease that fences its reports.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClaimedJob {
    #[serde(flatten)]
    pub job: Job,
    /// The job's secrets, for the claiming worker alone: set in the job's
    /// environment and redacted from its output.
    #[serde(default, skip_serializing_if = "Secrets::is_empty")]
    #[schema(value_type = BTreeMap<String, String>)]
    pub secrets: Secrets,
    /// Present with every heartbeat and status report for this job.
    pub lease_token: String,
    /// How long the lease lasts without a heartbeat.
    pub lease_timeout_seconds: u64,
}

/// `POST /jobs/{id}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub lease_token: String,
    /// Why the job, although claimed, is not running yet (it waits in an
    /// executor's queue, such as Slurm's); absent once it runs. Each
    /// heartbeat replaces the job's `pending_reason` with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<String>,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatAck {
    /// A user asked to cancel the job: stop it and report `cancelled`.
    pub cancel_requested: bool,
}

/// The longest `failure_reason` a status report may carry.
pub const MAX_FAILURE_REASON_BYTES: usize = 1024;

/// `POST /jobs/{id}/status`: a worker reports how its job ended — or
/// hands back, as `pending`, a job it could not start through no fault of
/// the job (its logs dir is unwritable, its supervisor failed).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    pub lease_token: String,
    /// `completed`, `failed` or `cancelled`; `pending` to hand the job back.
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why the job failed; for a hand-back, why this worker could not
    /// start it (logged by the api, not stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// How many milliseconds before this report the worker saw the job
    /// end: `finished_at` is when the job ended, not when a report delayed
    /// by an outage arrived. Absent: just now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 31_622_400_000_u64)]
    pub finished_ms_ago: Option<u64>,
}

/// What `POST /workers/reports` takes: the final reports of several jobs,
/// sent together when they end at about the same time.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobReports {
    /// At most 256, each job at most once.
    #[schema(max_items = 256)]
    pub reports: Vec<JobReport>,
}

/// One job's report in a [`JobReports`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobReport {
    pub job_id: JobId,
    pub report: StatusReport,
}

/// What `POST /workers/reports` answers: one result per report, in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportResults {
    pub results: Vec<ReportResult>,
}

/// How one report of a batch went: the HTTP status `POST /jobs/{id}/status`
/// would have answered it with, and the job's status after it (200) or the
/// error (any other).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportResult {
    pub job_id: JobId,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<JobStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The largest `finished_ms_ago` accepted: 366 days.
pub const MAX_FINISHED_MS_AGO: u64 = 366 * 24 * 3600 * 1000;

/// Every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
}

/// A token as `jobctl token list` shows it: never the secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// `GET /whoami`: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub name: String,
    pub role: Role,
}

/// What a worker tells the api when it starts, and again (with `draining`)
/// when it is told to stop: `POST /workers/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerRegistration {
    /// The name the worker claims jobs under.
    #[schema(
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    /// `local` or `slurm`.
    #[schema(
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub executor: String,
    /// Jobs it runs at once.
    #[serde(deserialize_with = "whole_count")]
    #[schema(minimum = 1, maximum = 100_000)]
    pub slots: u32,
    /// GPUs it offers, when it announces them.
    #[serde(default, deserialize_with = "optional_whole_count")]
    #[schema(minimum = 0, maximum = 100_000)]
    pub gpus: Option<u32>,
    /// CPUs it offers, when it announces them.
    #[serde(default, deserialize_with = "optional_whole_count")]
    #[schema(minimum = 0, maximum = 100_000)]
    pub cpus: Option<u32>,
    /// The worker's jobctl version.
    #[schema(
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub version: String,
    /// The machine it runs on.
    #[schema(
        max_length = 256,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub host: String,
    /// It has stopped claiming and is finishing its running jobs.
    #[serde(default)]
    pub draining: bool,
}

/// The most slots, GPUs or CPUs a worker may announce.
pub const MAX_WORKER_COUNT: u32 = 100_000;

/// A count, also when written `4.0` (see [`whole_number`]).
fn whole_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    optional_whole_count(d)?.ok_or_else(|| serde::de::Error::custom("expected a whole number"))
}

fn optional_whole_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let value = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    });
    match value {
        Some(v) if v <= u64::from(MAX_WORKER_COUNT) => Ok(Some(v as u32)),
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole number from 0 to {MAX_WORKER_COUNT}, got {n}"
        ))),
    }
}

/// Where a worker is in its life, as the api sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    /// Claiming and running jobs.
    Active,
    /// Told to stop: finishing its jobs, claiming no more.
    Draining,
    /// Not heard from for longer than a lease.
    Gone,
}

impl WorkerState {
    /// The lowercase word, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Active => "active",
            WorkerState::Draining => "draining",
            WorkerState::Gone => "gone",
        }
    }
}

/// One worker in `GET /workers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerInfo {
    pub name: String,
    pub executor: String,
    pub slots: u32,
    pub gpus: Option<u32>,
    pub cpus: Option<u32>,
    pub version: String,
    pub host: String,
    /// When it (last) registered.
    pub started_at: DateTime<Utc>,
    /// Its last claim, heartbeat or registration.
    pub last_seen: DateTime<Utc>,
    pub state: WorkerState,
    /// The jobs it runs now.
    pub running: Vec<JobId>,
}

/// `GET /workers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerList {
    pub workers: Vec<WorkerInfo>,
}
