//! What a Slurm worker must remember across its own restarts, kept in the
//! shared logs dir under `.slurm/`:
//!
//! - `{id}.json`: one record per job the worker has in Slurm — the Slurm
//!   job id and, above all, the job's **lease token**. A worker killed and
//!   restarted with the same `--name` reads its records back and goes on
//!   heartbeating its jobs with the very leases the api gave it, so the api
//!   needs no notion of re-adoption: to it, the worker never left (as long
//!   as it is back within the lease timeout; later, the api has declared
//!   the jobs lost and the worker cancels them in Slurm).
//! - `{id}.exit`: how the job ended, written by its batch script on the
//!   compute node (see [`super::script`]).
//! - `{id}.secrets`: the job's secrets (0600), from its submission until
//!   its batch script starts and removes it (or the job ends).
//!
//! The records sit next to the logs rather than on the worker's own disk
//! because the logs dir is the one place every login node of a site shares:
//! the worker may come back on another host. The directory is private to
//! the worker's user (0700, records 0600), the user that Slurm runs the jobs
//! as; a record is written to a temporary file, synced, then renamed, so a
//! crash never leaves half of one.
//!
//! These functions block (the logs dir may be NFS): call them from
//! `spawn_blocking`.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::JobId;
use crate::protocol::Job;

/// One job this worker has handed to Slurm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job as the api handed it over (secret values are never part of
    /// it: only their names).
    pub job: Job,
    /// The worker (its `--name`) that owns the job.
    pub worker: String,
    /// The lease the api gave with the claim; every heartbeat and the final
    /// report carry it.
    pub lease_token: String,
    pub lease_timeout_seconds: u64,
    /// Set once `sbatch` has answered; `None` while it runs (a worker that
    /// died right then finds the Slurm job by its comment).
    pub slurm_id: Option<u64>,
    pub claimed_at: DateTime<Utc>,
}

impl JobRecord {
    pub fn job_id(&self) -> JobId {
        self.job.id
    }
}

/// The `.slurm` directory of a logs dir.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state dir inside `logs_dir`, created private to this user.
    pub fn open(logs_dir: &Path) -> io::Result<StateDir> {
        let dir = logs_dir.join(".slurm");
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        Ok(StateDir { dir })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, id: JobId) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Where job `id`'s batch script records how it ended.
    pub fn exit_file(&self, id: JobId) -> PathBuf {
        self.dir.join(format!("{id}.exit"))
    }

    /// Where job `id`'s secrets wait for its batch script.
    pub fn secrets_file(&self, id: JobId) -> PathBuf {
        self.dir.join(format!("{id}.secrets"))
    }

    /// Writes job `id`'s secrets file, readable by this user only. Not
    /// synced: a crash loses it, and the job then cannot start (which it
    /// reports) rather than leave the values on disk for longer.
    pub fn write_secrets(&self, id: JobId, text: &str) -> io::Result<PathBuf> {
        let path = self.secrets_file(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(text.as_bytes())?;
        Ok(path)
    }

    /// Writes (or replaces) a record durably.
    pub fn save(&self, record: &JobRecord) -> io::Result<()> {
        let path = self.record_path(record.job_id());
        let tmp = self.dir.join(format!("{}.json.tmp", record.job_id()));
        let body = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&body)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        // The rename itself must survive a crash too.
        File::open(&self.dir)?.sync_all()
    }

    /// Forgets job `id`: its secrets, its record and its exit file.
    pub fn remove(&self, id: JobId) -> io::Result<()> {
        for path in [
            self.secrets_file(id),
            self.record_path(id),
            self.exit_file(id),
        ] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The records of `worker`'s jobs. A record that cannot be read is
    /// reported in the second list and left in place for a person to look at.
    pub fn load(&self, worker: &str) -> io::Result<(Vec<JobRecord>, Vec<String>)> {
        let mut records = Vec::new();
        let mut problems = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let parsed = fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<JobRecord>(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(r) if r.worker == worker => records.push(r),
                Ok(_) => {}
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        records.sort_by_key(|r| r.claimed_at);
        Ok((records, problems))
    }

    /// What the exit file says, if the job has written it.
    ///
    /// On NFS a file another host just created may be hidden by the
    /// client's cache of the directory; listing the directory revalidates
    /// it, so a missing file is looked for once more after a listing.
    pub fn read_exit(&self, id: JobId) -> io::Result<Option<String>> {
        let path = self.exit_file(id);
        match fs::read_to_string(&path) {
            Ok(text) => return Ok(Some(text)),
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        let name = format!("{id}.exit");
        let listed = fs::read_dir(&self.dir)?
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_str() == Some(name.as_str()));
        if !listed {
            return Ok(None);
        }
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn record(worker: &str) -> JobRecord {
        let job: Job = serde_json::from_value(serde_json::json!({
            "id": JobId::new(),
            "name": null,
            "owner": "alice",
            "command": ["python", "train.py"],
            "cwd": "/home/alice",
            "env": {"A": "b"},
            "timeout_seconds": 90,
            "status": "running",
            "exit_code": null,
            "failure_reason": null,
            "worker": worker,
            "created_at": Utc::now(),
            "started_at": Utc::now(),
            "finished_at": null,
        }))
        .unwrap();
        JobRecord {
            job,
            worker: worker.into(),
            lease_token: "lease-secret".into(),
            lease_timeout_seconds: 60,
            slurm_id: Some(12),
            claimed_at: Utc::now(),
        }
    }

    #[test]
    fn records_round_trip_privately_and_per_worker() {
        let logs = tempfile::tempdir().unwrap();
        let state = StateDir::open(logs.path()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(state.path()), 0o700);
        let mine = record("login-1");
        let theirs = record("login-2");
        state.save(&mine).unwrap();
        state.save(&theirs).unwrap();
        assert_eq!(mode(&state.record_path(mine.job_id())), 0o600);
        let (records, problems) = state.load("login-1").unwrap();
        assert_eq!(records, vec![mine.clone()]);
        assert!(problems.is_empty());

        let mut updated = mine.clone();
        updated.slurm_id = Some(99);
        state.save(&updated).unwrap();
        assert_eq!(state.load("login-1").unwrap().0, vec![updated]);

        fs::write(state.exit_file(mine.job_id()), "exited 0\n").unwrap();
        assert_eq!(
            state.read_exit(mine.job_id()).unwrap().as_deref(),
            Some("exited 0\n")
        );
        state.remove(mine.job_id()).unwrap();
        state.remove(mine.job_id()).unwrap();
        assert!(state.load("login-1").unwrap().0.is_empty());
        assert_eq!(state.read_exit(mine.job_id()).unwrap(), None);
        // Opening again keeps what is there.
        let again = StateDir::open(logs.path()).unwrap();
        assert_eq!(again.load("login-2").unwrap().0, vec![theirs]);
    }

    #[test]
    fn a_damaged_record_is_reported_not_fatal() {
        let logs = tempfile::tempdir().unwrap();
        let state = StateDir::open(logs.path()).unwrap();
        let good = record("w");
        state.save(&good).unwrap();
        fs::write(state.path().join("junk.json"), "{not json").unwrap();
        fs::write(state.path().join("other.exit"), "exited 0").unwrap();
        let (records, problems) = state.load("w").unwrap();
        assert_eq!(records, vec![good]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("junk.json"), "{problems:?}");
    }
}
