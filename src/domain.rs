//! Domain types shared by the api, the worker, the web UI and the CLI.
//!
//! Everything that crosses a trust boundary (a request body, a flag, a path
//! segment) is turned into one of these validated types before any logic sees
//! it, so the rest of the code never re-checks an id or a job spec.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::protocol::SubmitJob;

/// A job's identity: a UUID in its canonical hyphenated form, and nothing else.
///
/// Because an id can only ever be 36 characters of hex digits and hyphens, it is
/// also what keeps log paths (`LOGS_DIR/{id}.log`) safe from traversal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(Uuid);

/// Why a string is not a [`JobId`].
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid job id {shown:?}: expected a UUID such as 67e55044-10b1-426f-9247-bb680e5fe0c8")]
pub struct InvalidJobId {
    shown: String,
}

impl JobId {
    /// A fresh random id.
    pub fn new() -> Self {
        JobId(Uuid::new_v4())
    }

    /// Accepts only the canonical hyphenated form (36 characters, either case).
    pub fn parse(s: &str) -> Result<Self, InvalidJobId> {
        let invalid = || InvalidJobId {
            shown: s.chars().take(60).collect(),
        };
        if s.len() != 36 {
            return Err(invalid());
        }
        Uuid::try_parse(s).map(JobId).map_err(|_| invalid())
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

/// The start of a job id, as `jobctl show 67e5` or `GET /jobs?id_prefix=67e5`
/// give it: lowercase hex digits and hyphens, 1 to 36 of them. This is the one
/// rule both the api and the CLI apply; the CLI also asks for at least
/// [`JobIdPrefix::MIN_FOR_LOOKUP`] characters so that a short typo does not
/// match someone else's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobIdPrefix(String);

/// Why a string is not a [`JobIdPrefix`].
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid job id prefix {shown:?}: expected 1 to 36 hex digits or hyphens")]
pub struct InvalidJobIdPrefix {
    shown: String,
}

impl JobIdPrefix {
    /// The shortest prefix the CLI looks a job up by, as git and docker allow.
    pub const MIN_FOR_LOOKUP: usize = 4;

    /// Accepts 1 to 36 hex digits or hyphens, in either case.
    pub fn parse(s: &str) -> Result<Self, InvalidJobIdPrefix> {
        let lower = s.to_ascii_lowercase();
        if lower.is_empty()
            || lower.len() > 36
            || !lower.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        {
            return Err(InvalidJobIdPrefix {
                shown: s.chars().take(60).collect(),
            });
        }
        Ok(JobIdPrefix(lower))
    }

    /// The prefix, lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix, lowercase, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for JobId {
    fn from(u: Uuid) -> Self {
        JobId(u)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = InvalidJobId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobId::parse(s)
    }
}

impl Serialize for JobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        JobId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for JobId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Uuid,
            )))
            .description(Some("Job id (UUID)"))
            .into()
    }
}

impl ToSchema for JobId {}

/// Where a job is in its life. Transitions are decided by
/// [`JobStatus::can_become`] and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for a worker.
    Pending,
    /// Claimed by a worker; its process is (about to be) running.
    Running,
    /// Exited with code 0.
    Completed,
    /// Ended any other way; `failure_reason` says how.
    Failed,
    /// Cancelled by a user, before or while it ran.
    Cancelled,
}

impl JobStatus {
    /// Every status, in life order.
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The one place where legal transitions are defined:
    /// `pending → running | cancelled`, `running → completed | failed |
    /// cancelled`, and `running → pending` when a worker hands back a job it
    /// could not start through no fault of the job.
    pub fn can_become(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Pending, Running)
                | (Pending, Cancelled)
                | (Running, Completed | Failed | Cancelled | Pending)
        )
    }

    /// Pending or running: the job may still write output.
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Running)
    }

    /// Completed, failed or cancelled: nothing will change any more.
    pub fn is_terminal(self) -> bool {
        !self.is_active()
    }

    /// The lowercase name used in JSON, the database and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a [`JobStatus`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown status {0:?}: expected pending, running, completed, failed or cancelled")]
pub struct InvalidStatus(String);

impl FromStr for JobStatus {
    type Err = InvalidStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| InvalidStatus(s.to_string()))
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submits jobs and sees only its own.
    User,
    /// Sees and cancels every job.
    Admin,
    /// Claims jobs, heartbeats them and reports their status; nothing else.
    Worker,
}

impl Role {
    /// The lowercase name used in the database and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::Worker => "worker",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            "worker" => Ok(Role::Worker),
            other => Err(format!(
                "unknown role {other:?}: expected user, admin or worker"
            )),
        }
    }
}

/// Upper bounds on a job spec, so one request cannot fill the database.
pub mod limits {
    /// Arguments in a command.
    pub const MAX_ARGS: usize = 4096;
    /// Bytes across all arguments.
    pub const MAX_COMMAND_BYTES: usize = 256 * 1024;
    /// Characters in a job name.
    pub const MAX_NAME_CHARS: usize = 256;
    /// Bytes in a working directory path.
    pub const MAX_CWD_BYTES: usize = 4096;
    /// Environment variables.
    pub const MAX_ENV_VARS: usize = 256;
    /// Bytes across all environment names and values.
    pub const MAX_ENV_BYTES: usize = 128 * 1024;
    /// The longest timeout accepted: 366 days.
    pub const MAX_TIMEOUT_SECONDS: u64 = 366 * 24 * 3600;
    /// The kernel's limit on one argument or one `NAME=value` environment
    /// string, its terminating NUL included (`MAX_ARG_STRLEN`, 32 pages of
    /// 4 KiB): a longer one makes `execve` fail with `E2BIG`.
    pub const MAX_ARG_STRLEN: usize = 32 * 4096;
    /// What the command line and environment of a job may not take from
    /// the kernel's total (`ARG_MAX`): the room left for the worker's own
    /// environment, which the job inherits, and the supervisor's arguments.
    pub const EXEC_RESERVE_BYTES: usize = 64 * 1024;
    /// GPUs one job may ask for.
    pub const MAX_GPUS: u32 = 64;
    /// CPUs one job may ask for.
    pub const MAX_CPUS: u32 = 1024;
    /// Secrets in one job.
    pub const MAX_SECRETS: usize = 64;
    /// Characters in one secret's value: at most 64 KiB in UTF-8. Counted
    /// in characters, as JSON Schema's `maxLength` counts, so that the
    /// OpenAPI description states the very rule the api applies.
    pub const MAX_SECRET_CHARS: usize = 16 * 1024;
    /// Characters a secret's value needs at least: a shorter one could not
    /// be redacted from the job's output without redacting ordinary text.
    pub const MIN_SECRET_CHARS: usize = 6;
}

/// A job's secrets, `NAME → value`: set in the job's environment, never
/// shown. Its `Debug` prints the names only, so a value never reaches a log
/// line through `{:?}`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secrets(pub BTreeMap<String, String>);

impl Secrets {
    /// The names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `(name, value)` pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0.iter()
    }
    /// The values, for the redactor.
    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.0.values()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl FromIterator<(String, String)> for Secrets {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Secrets(iter.into_iter().collect())
    }
}

/// The kernel's limit on the total size of a new program's arguments and
/// environment (`sysconf(_SC_ARG_MAX)`: a quarter of the stack limit).
pub fn arg_max() -> usize {
    // SAFETY: sysconf has no preconditions.
    let max = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
    if max > 0 { max as usize } else { 128 * 1024 }
}

/// Whether `execve` can take this command line and environment: each
/// string within `MAX_ARG_STRLEN`, and all of them — strings, their NULs
/// and the pointer arrays — within `arg_max` less the worker's reserve.
fn check_exec_size(
    command: &[String],
    env: &BTreeMap<String, String>,
    arg_max: usize,
) -> Result<(), SpecError> {
    let pointer = std::mem::size_of::<usize>();
    let mut total = 2 * pointer; // the two NULL terminators
    for (i, arg) in command.iter().enumerate() {
        if arg.len() + 1 > limits::MAX_ARG_STRLEN {
            return Err(SpecError::ArgumentTooLong(i, arg.len()));
        }
        total += arg.len() + 1 + pointer;
    }
    for (k, v) in env {
        let entry = k.len() + 1 + v.len();
        if entry + 1 > limits::MAX_ARG_STRLEN {
            return Err(SpecError::EnvEntryTooLong(k.clone(), entry));
        }
        total += entry + 1 + pointer;
    }
    let limit = arg_max.saturating_sub(limits::EXEC_RESERVE_BYTES);
    if total > limit {
        return Err(SpecError::ExecTooLarge { total, limit });
    }
    Ok(())
}

/// Why a job spec was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("command must not be empty")]
    EmptyCommand,
    #[error("command argument {0} is empty: the program name must not be empty")]
    EmptyProgram(usize),
    #[error("command argument {0} contains a NUL byte")]
    NulInArgument(usize),
    #[error(
        "command has too many arguments (at most {} allowed)",
        limits::MAX_ARGS
    )]
    TooManyArguments,
    #[error(
        "command is too long (at most {} bytes allowed)",
        limits::MAX_COMMAND_BYTES
    )]
    CommandTooLong,
    #[error(
        "name is too long (at most {} characters allowed)",
        limits::MAX_NAME_CHARS
    )]
    NameTooLong,
    #[error("cwd must be an absolute path without NUL bytes, got {0:?}")]
    InvalidCwd(String),
    #[error("cwd is too long (at most {} bytes allowed)", limits::MAX_CWD_BYTES)]
    CwdTooLong,
    #[error(
        "invalid environment variable name {0:?}: use letters, digits and underscores, not starting with a digit"
    )]
    InvalidEnvName(String),
    #[error("environment variable {0} contains a NUL byte")]
    NulInEnvValue(String),
    #[error(
        "too many environment variables (at most {} allowed)",
        limits::MAX_ENV_VARS
    )]
    TooManyEnvVars,
    #[error(
        "environment is too large (at most {} bytes allowed)",
        limits::MAX_ENV_BYTES
    )]
    EnvTooLarge,
    #[error(
        "command argument {0} is {1} bytes; the kernel takes at most {max} bytes in one argument (MAX_ARG_STRLEN)",
        max = limits::MAX_ARG_STRLEN - 1
    )]
    ArgumentTooLong(usize, usize),
    #[error(
        "environment variable {0} is {1} bytes as NAME=value; the kernel takes at most {max} bytes in one (MAX_ARG_STRLEN)",
        max = limits::MAX_ARG_STRLEN - 1
    )]
    EnvEntryTooLong(String, usize),
    #[error(
        "command and environment take {total} bytes when passed to a program; this system allows {limit} (ARG_MAX less what the worker's own environment needs)"
    )]
    ExecTooLarge { total: usize, limit: usize },
    #[error(
        "invalid secret name {0:?}: use letters, digits and underscores, not starting with a digit"
    )]
    InvalidSecretName(String),
    #[error("{0} is given both as an environment variable and as a secret; give it once")]
    SecretAlsoInEnv(String),
    #[error("too many secrets (at most {} allowed)", limits::MAX_SECRETS)]
    TooManySecrets,
    #[error("secret {0} contains a NUL byte")]
    NulInSecret(String),
    #[error(
        "secret {0} is {1} characters long; a secret needs at least {min}: a shorter value \
         could not be redacted from the job's output without also redacting ordinary text",
        min = limits::MIN_SECRET_CHARS
    )]
    SecretTooShort(String, usize),
    #[error(
        "secret {0} is {1} characters long (at most {max} allowed)",
        max = limits::MAX_SECRET_CHARS
    )]
    SecretTooLong(String, usize),
    #[error("timeout_seconds must be greater than 0")]
    ZeroTimeout,
    #[error(
        "timeout_seconds is too large (at most {} allowed)",
        limits::MAX_TIMEOUT_SECONDS
    )]
    TimeoutTooLarge,
    #[error("gpus must be at most {max}, got {0}", max = limits::MAX_GPUS)]
    TooManyGpus(u32),
    #[error("cpus must be between 1 and {max}, got {0}", max = limits::MAX_CPUS)]
    BadCpus(u32),
}

/// A job as a user asks for it, validated: what a worker needs to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    command: Vec<String>,
    name: Option<String>,
    cwd: Option<String>,
    env: BTreeMap<String, String>,
    secrets: Secrets,
    timeout_seconds: Option<u64>,
    gpus: u32,
    cpus: u32,
}

/// Validates every field of a submitted job: the only way to build a
/// [`JobSpec`].
impl TryFrom<SubmitJob> for JobSpec {
    type Error = SpecError;

    fn try_from(job: SubmitJob) -> Result<Self, SpecError> {
        let SubmitJob {
            command,
            name,
            cwd,
            env,
            secrets,
            timeout_seconds,
            gpus,
            cpus,
        } = job;
        if command.is_empty() {
            return Err(SpecError::EmptyCommand);
        }
        if command.len() > limits::MAX_ARGS {
            return Err(SpecError::TooManyArguments);
        }
        if command[0].is_empty() {
            return Err(SpecError::EmptyProgram(0));
        }
        let mut total = 0;
        for (i, arg) in command.iter().enumerate() {
            if arg.contains('\0') {
                return Err(SpecError::NulInArgument(i));
            }
            total += arg.len();
        }
        if total > limits::MAX_COMMAND_BYTES {
            return Err(SpecError::CommandTooLong);
        }
        // An empty name is the same as no name.
        let name = name.filter(|n| !n.is_empty());
        if let Some(n) = &name
            && n.chars().count() > limits::MAX_NAME_CHARS
        {
            return Err(SpecError::NameTooLong);
        }
        let cwd = cwd.filter(|c| !c.is_empty());
        if let Some(c) = &cwd {
            if c.len() > limits::MAX_CWD_BYTES {
                return Err(SpecError::CwdTooLong);
            }
            if !c.starts_with('/') || c.contains('\0') {
                return Err(SpecError::InvalidCwd(c.chars().take(80).collect()));
            }
        }
        if env.len() > limits::MAX_ENV_VARS {
            return Err(SpecError::TooManyEnvVars);
        }
        let mut env_bytes = 0;
        for (k, v) in &env {
            if !is_env_name(k) {
                return Err(SpecError::InvalidEnvName(k.chars().take(80).collect()));
            }
            if v.contains('\0') {
                return Err(SpecError::NulInEnvValue(k.clone()));
            }
            env_bytes += k.len() + v.len();
        }
        if env_bytes > limits::MAX_ENV_BYTES {
            return Err(SpecError::EnvTooLarge);
        }
        check_secrets(&secrets, &env)?;
        let mut exec_env = env.clone();
        exec_env.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
        check_exec_size(&command, &exec_env, arg_max())?;
        match timeout_seconds {
            Some(0) => return Err(SpecError::ZeroTimeout),
            Some(t) if t > limits::MAX_TIMEOUT_SECONDS => return Err(SpecError::TimeoutTooLarge),
            _ => {}
        }
        let gpus = gpus.unwrap_or(0);
        if gpus > limits::MAX_GPUS {
            return Err(SpecError::TooManyGpus(gpus));
        }
        let cpus = cpus.unwrap_or(1);
        if !(1..=limits::MAX_CPUS).contains(&cpus) {
            return Err(SpecError::BadCpus(cpus));
        }
        Ok(JobSpec {
            command,
            name,
            cwd,
            env,
            secrets,
            timeout_seconds,
            gpus,
            cpus,
        })
    }
}

/// Names like environment names, not also in `env`; values neither too
/// short to redact nor too long.
fn check_secrets(secrets: &Secrets, env: &BTreeMap<String, String>) -> Result<(), SpecError> {
    if secrets.0.len() > limits::MAX_SECRETS {
        return Err(SpecError::TooManySecrets);
    }
    for (k, v) in secrets.iter() {
        if !is_env_name(k) {
            return Err(SpecError::InvalidSecretName(k.chars().take(80).collect()));
        }
        if env.contains_key(k) {
            return Err(SpecError::SecretAlsoInEnv(k.clone()));
        }
        if v.contains('\0') {
            return Err(SpecError::NulInSecret(k.clone()));
        }
        let chars = v.chars().count();
        if chars < limits::MIN_SECRET_CHARS {
            return Err(SpecError::SecretTooShort(k.clone(), chars));
        }
        if chars > limits::MAX_SECRET_CHARS {
            return Err(SpecError::SecretTooLong(k.clone(), chars));
        }
    }
    Ok(())
}

impl JobSpec {
    /// The argv, program first; run without a shell.
    pub fn command(&self) -> &[String] {
        &self.command
    }
    /// A human label, if one was given.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// The absolute working directory, if one was given.
    pub fn cwd(&self) -> Option<&str> {
        self.cwd.as_deref()
    }
    /// Variables added to the worker's environment.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }
    /// Values set in the job's environment and never shown.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }
    /// How long the job may run.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.timeout_seconds
    }
    /// GPUs the job needs.
    pub fn gpus(&self) -> u32 {
        self.gpus
    }
    /// CPUs the job needs.
    pub fn cpus(&self) -> u32 {
        self.cpus
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, the portable shell variable name.
fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 1024
}

/// Parses a human duration: `90s`, `30m`, `2h`, `1h30m`, `1d`, or bare seconds (`45`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {s:?} ({e}); use e.g. 90s, 30m, 2h or 1h30m"))
}

/// Formats a duration the way people write it: `1h 2m 3s`, `850ms`.
pub fn format_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    match (h, m) {
        (0, 0) if secs < 10 && d.subsec_millis() != 0 => format!("{:.1}s", d.as_secs_f64()),
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cmd: &[&str]) -> Result<JobSpec, SpecError> {
        JobSpec::try_from(SubmitJob {
            command: cmd.iter().map(|s| s.to_string()).collect(),
            ..SubmitJob::default()
        })
    }

    #[test]
    fn job_id_prefix_is_lowercase_hex_and_hyphens() {
        assert_eq!(JobIdPrefix::parse("67E5").unwrap().as_str(), "67e5");
        assert_eq!(
            JobIdPrefix::parse("67e55044-10b1").unwrap().as_str(),
            "67e55044-10b1"
        );
        let full = JobId::new().to_string();
        assert_eq!(JobIdPrefix::parse(&full).unwrap().as_str(), full);
        for bad in ["", "67g5", "67e5 ", "%", &format!("{full}0")] {
            assert!(JobIdPrefix::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn job_id_accepts_only_canonical_uuids() {
        let id = JobId::new();
        assert_eq!(JobId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(
            JobId::parse(&id.to_string().to_uppercase()).unwrap(),
            id,
            "upper case is the same UUID"
        );
        for bad in [
            "",
            "../x",
            "../../etc/passwd",
            "..%2F..%2Fetc%2Fpasswd",
            "67e5504410b1426f9247bb680e5fe0c8",
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
            "67e55044-10b1-426f-9247-bb680e5fe0cg",
            &"a".repeat(10_000),
        ] {
            assert!(JobId::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn only_the_documented_transitions_are_legal() {
        use JobStatus::*;
        let legal = [
            (Pending, Running),
            (Pending, Cancelled),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled),
            (Running, Pending),
        ];
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn status_round_trips_through_its_name() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("done".parse::<JobStatus>().is_err());
    }

    #[test]
    fn spec_validation_refuses_bad_commands() {
        assert_eq!(spec(&[]), Err(SpecError::EmptyCommand));
        assert_eq!(spec(&[""]), Err(SpecError::EmptyProgram(0)));
        assert_eq!(spec(&["echo", "a\0b"]), Err(SpecError::NulInArgument(1)));
        let many: Vec<&str> = vec!["x"; limits::MAX_ARGS + 1];
        assert_eq!(spec(&many), Err(SpecError::TooManyArguments));
        let long = "x".repeat(limits::MAX_COMMAND_BYTES + 1);
        assert_eq!(spec(&[&long]), Err(SpecError::CommandTooLong));
        assert!(
            spec(&["echo", ""]).is_ok(),
            "empty later arguments are fine"
        );
    }

    #[test]
    fn command_lines_the_kernel_would_refuse_are_refused() {
        let none = BTreeMap::new();
        let max = limits::MAX_ARG_STRLEN;
        let ok = vec!["x".repeat(max - 1)];
        assert_eq!(check_exec_size(&ok, &none, 2 << 20), Ok(()));
        let long = vec!["echo".to_string(), "x".repeat(max)];
        assert_eq!(
            check_exec_size(&long, &none, 2 << 20),
            Err(SpecError::ArgumentTooLong(1, max))
        );
        let cmd = vec!["env".to_string()];
        // "K=" + value + NUL: a 131 071-byte value is 3 bytes too long.
        let env = BTreeMap::from([("K".to_string(), "v".repeat(max - 1))]);
        assert_eq!(
            check_exec_size(&cmd, &env, 2 << 20),
            Err(SpecError::EnvEntryTooLong("K".into(), max + 1))
        );
        // Within each string's limit, but not in total on a small stack.
        let many: Vec<String> = (0..4).map(|_| "x".repeat(60_000)).collect();
        assert!(matches!(
            check_exec_size(&many, &none, 256 * 1024),
            Err(SpecError::ExecTooLarge { .. })
        ));
        assert_eq!(check_exec_size(&many, &none, 2 << 20), Ok(()));
    }

    #[test]
    fn spec_validation_refuses_bad_env_cwd_and_timeout() {
        let cmd = vec!["true".to_string()];
        let env = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        let parse = |cwd: Option<&str>, env, timeout_seconds| {
            JobSpec::try_from(SubmitJob {
                command: cmd.clone(),
                cwd: cwd.map(String::from),
                env,
                timeout_seconds,
                ..SubmitJob::default()
            })
        };
        assert!(matches!(
            parse(None, env("1X", "v"), None),
            Err(SpecError::InvalidEnvName(_))
        ));
        assert!(matches!(
            parse(None, env("A=B", "v"), None),
            Err(SpecError::InvalidEnvName(_))
        ));
        assert!(matches!(
            parse(None, env("OK", "a\0"), None),
            Err(SpecError::NulInEnvValue(_))
        ));
        assert!(parse(None, env("_OK_1", "any value"), None).is_ok());
        assert!(matches!(
            parse(Some("relative/dir"), BTreeMap::new(), None),
            Err(SpecError::InvalidCwd(_))
        ));
        assert!(parse(Some("/tmp"), BTreeMap::new(), None).is_ok());
        assert_eq!(
            parse(None, BTreeMap::new(), Some(0)),
            Err(SpecError::ZeroTimeout)
        );
        assert_eq!(
            parse(None, BTreeMap::new(), Some(limits::MAX_TIMEOUT_SECONDS + 1)),
            Err(SpecError::TimeoutTooLarge)
        );
    }

    #[test]
    fn gpus_and_cpus_have_defaults_and_bounds() {
        let parse = |gpus, cpus| {
            JobSpec::try_from(SubmitJob {
                command: vec!["true".into()],
                gpus,
                cpus,
                ..SubmitJob::default()
            })
        };
        let spec = parse(None, None).unwrap();
        assert_eq!((spec.gpus(), spec.cpus()), (0, 1));
        let spec = parse(Some(64), Some(1024)).unwrap();
        assert_eq!((spec.gpus(), spec.cpus()), (64, 1024));
        assert_eq!(parse(Some(65), None), Err(SpecError::TooManyGpus(65)));
        assert_eq!(parse(None, Some(0)), Err(SpecError::BadCpus(0)));
        assert_eq!(parse(None, Some(1025)), Err(SpecError::BadCpus(1025)));
    }

    #[test]
    fn secrets_are_validated_and_never_debug_printed() {
        let parse = |env: &[(&str, &str)], secrets: &[(&str, &str)]| {
            JobSpec::try_from(SubmitJob {
                command: vec!["true".to_string()],
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                secrets: secrets
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..SubmitJob::default()
            })
        };
        let ok = parse(&[], &[("API_KEY", "s3cr3t-value")]).unwrap();
        assert_eq!(ok.secrets().names(), vec!["API_KEY".to_string()]);
        assert!(!format!("{ok:?}").contains("s3cr3t-value"));
        assert_eq!(
            parse(&[], &[("K", "12345")]),
            Err(SpecError::SecretTooShort("K".into(), 5))
        );
        let message = parse(&[], &[("K", "12345")]).unwrap_err().to_string();
        assert!(
            message.contains("at least 6") && message.contains("redact"),
            "{message}"
        );
        assert!(parse(&[], &[("K", "123456")]).is_ok());
        assert!(matches!(
            parse(&[], &[("1K", "long enough")]),
            Err(SpecError::InvalidSecretName(_))
        ));
        assert_eq!(
            parse(&[("K", "v")], &[("K", "long enough")]),
            Err(SpecError::SecretAlsoInEnv("K".into()))
        );
        assert_eq!(
            parse(&[], &[("K", "long\0enough")]),
            Err(SpecError::NulInSecret("K".into()))
        );
        let huge = "x".repeat(limits::MAX_SECRET_CHARS + 1);
        assert!(matches!(
            parse(&[], &[("K", &huge)]),
            Err(SpecError::SecretTooLong(_, _))
        ));
    }

    #[test]
    fn durations_parse_the_usual_ways() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-5s").is_err());
    }

    #[test]
    fn durations_format_for_people() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_secs(75)), "1m 15s");
        assert_eq!(format_duration(Duration::from_secs(3723)), "1h 2m 3s");
    }
}
