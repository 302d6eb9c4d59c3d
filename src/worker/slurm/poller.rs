//! One `squeue` per poll for all of a worker's Slurm jobs.
//!
//! Job tasks register their Slurm job ids here and watch the snapshots the
//! poller publishes; no task ever runs `squeue` itself, so a worker with a
//! hundred jobs in Slurm still asks the controller once per interval. Jobs
//! that have left the queue are looked up with one `sacct` in the same
//! poll, when the cluster keeps accounting.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::commands::SlurmCommands;
use super::queue::{AccountingEntry, QueueEntry};

/// What one poll learned.
#[derive(Debug)]
pub struct Snapshot {
    /// The ids this poll asked about: an id missing from `queue` is only
    /// unknown to Slurm if it was asked about.
    pub asked: BTreeSet<u64>,
    /// `squeue`'s answer, or why there was none (the controller is down):
    /// then nothing is known, and nothing is concluded.
    pub queue: Result<HashMap<u64, QueueEntry>, String>,
    /// `sacct`'s answer for asked ids missing from the queue.
    pub accounting: HashMap<u64, AccountingEntry>,
}

impl Snapshot {
    /// What this poll knows about `id`.
    pub fn lookup(&self, id: u64) -> Lookup<'_> {
        if !self.asked.contains(&id) {
            return Lookup::NotAsked;
        }
        match &self.queue {
            Err(_) => Lookup::NotAsked,
            Ok(queue) => match (queue.get(&id), self.accounting.get(&id)) {
                (Some(entry), _) => Lookup::Queue(entry),
                (None, Some(acct)) => Lookup::Accounting(acct),
                (None, None) => Lookup::Unknown,
            },
        }
    }
}

/// One job's entry in a snapshot.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// This poll did not ask about the job (registered too late, or Slurm
    /// could not be asked).
    NotAsked,
    Queue(&'a QueueEntry),
    Accounting(&'a AccountingEntry),
    /// Slurm does not know the job (any more).
    Unknown,
}

/// The shared poller; cheap to clone.
#[derive(Clone)]
pub struct Poller {
    inner: Arc<Inner>,
}

struct Inner {
    /// A std mutex: held for a set insert or a copy, never across an await.
    ids: Mutex<BTreeSet<u64>>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    /// Asks for a poll now instead of at the next tick.
    poke: Notify,
}

impl Poller {
    pub fn new() -> Poller {
        let (snapshots, _) = watch::channel(Arc::new(Snapshot {
            asked: BTreeSet::new(),
            queue: Err("not polled yet".into()),
            accounting: HashMap::new(),
        }));
        Poller {
            inner: Arc::new(Inner {
                ids: Mutex::new(BTreeSet::new()),
                snapshots,
                poke: Notify::new(),
            }),
        }
    }

    /// Starts watching Slurm job `id`.
    pub fn track(&self, id: u64) {
        self.inner.ids.lock().expect("poisoned").insert(id);
    }

    /// Stops watching Slurm job `id`.
    pub fn untrack(&self, id: u64) {
        self.inner.ids.lock().expect("poisoned").remove(&id);
    }

    /// Snapshots as they come.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.inner.snapshots.subscribe()
    }

    /// Polls again without waiting for the interval (after a cancel, say).
    pub fn poke(&self) {
        self.inner.poke.notify_one();
    }

    /// Polls every `interval` until `done`.
    pub async fn run(
        self,
        commands: SlurmCommands,
        use_accounting: bool,
        interval: Duration,
        done: CancellationToken,
    ) {
        let mut failing = false;
        // Pokes (a new job, a cancel) ask for a poll sooner, but never
        // more than one per MIN_GAP: a burst of submissions is one squeue.
        const MIN_GAP: Duration = Duration::from_millis(250);
        let mut last = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = done.cancelled() => return,
                _ = tokio::time::sleep_until(last + interval) => {}
                _ = self.inner.poke.notified() => {
                    tokio::select! {
                        _ = done.cancelled() => return,
                        _ = tokio::time::sleep_until(last + MIN_GAP.min(interval)) => {}
                    }
                }
            }
            last = tokio::time::Instant::now();
            let asked = self.inner.ids.lock().expect("poisoned").clone();
            if asked.is_empty() {
                continue;
            }
            let ids: Vec<u64> = asked.iter().copied().collect();
            let queue = tokio::select! {
                _ = done.cancelled() => return,
                queue = commands.jobs(&ids) => queue,
            };
            let queue: Result<HashMap<u64, QueueEntry>, String> = match queue {
                Ok(entries) => {
                    if failing {
                        tracing::info!("squeue answers again");
                        failing = false;
                    }
                    Ok(entries.into_iter().map(|e| (e.slurm_id, e)).collect())
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot read Slurm's queue; jobs keep running and the poll is retried");
                        failing = true;
                    }
                    Err(e.to_string())
                }
            };
            let mut accounting = HashMap::new();
            if let (true, Ok(queue)) = (use_accounting, &queue) {
                let gone: Vec<u64> = ids
                    .iter()
                    .copied()
                    .filter(|id| !queue.contains_key(id))
                    .collect();
                match commands.accounting(&gone).await {
                    Ok(entries) => accounting.extend(entries.into_iter().map(|e| (e.slurm_id, e))),
                    Err(e) => tracing::warn!(error = %e, "cannot read Slurm's accounting"),
                }
            }
            self.inner.snapshots.send_replace(Arc::new(Snapshot {
                asked,
                queue,
                accounting,
            }));
        }
    }
}

impl Default for Poller {
    fn default() -> Self {
        Poller::new()
    }
}
