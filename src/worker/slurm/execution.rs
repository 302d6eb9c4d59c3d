//! One jobctl job in Slurm, as the job task sees it through the executor
//! seam: where it is (queued and why, running, over), and `scancel` to stop
//! it or to fence it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::watch;

use super::outcome::{ExitRecord, SlurmEnd, end_event};
use super::poller::{Lookup, Snapshot};
use super::queue::{Phase, QueueEntry, SlurmState};
use super::{EXIT_FILE_GRACE, Shared};
use crate::domain::JobId;
use crate::worker::executor::{ExecEvent, Execution};
use crate::worker::fs;
use crate::worker::logfile::LogFile;

/// A job submitted to Slurm.
pub struct SlurmExecution {
    shared: Arc<Shared>,
    job_id: JobId,
    slurm_id: u64,
    log: LogFile,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    /// What next_event has yet to hand out.
    events: VecDeque<ExecEvent>,
    /// The pending reason last handed out.
    queued_reason: Option<String>,
    /// Slurm has been seen running the job.
    running: bool,
    /// jobctl asked for the job to stop (cancel, timeout, fencing).
    stopping: bool,
    /// When the lease runs out unless renewed: then the job is cancelled.
    fence_at: tokio::time::Instant,
    fenced: bool,
    /// Slurm says the job is over: what it said, and until when to wait
    /// for the exit file.
    ended: Option<(SlurmEnd, Instant)>,
}

impl SlurmExecution {
    pub(super) fn new(
        shared: Arc<Shared>,
        job_id: JobId,
        slurm_id: u64,
        log: LogFile,
        lease: Duration,
    ) -> Self {
        shared.poller.track(slurm_id);
        let snapshots = shared.poller.subscribe();
        shared.poller.poke();
        SlurmExecution {
            shared,
            job_id,
            slurm_id,
            log,
            snapshots,
            events: VecDeque::new(),
            queued_reason: None,
            running: false,
            stopping: false,
            fence_at: tokio::time::Instant::now() + lease,
            fenced: false,
            ended: None,
        }
    }

    /// Takes in what the latest poll says about the job.
    async fn observe(&mut self, snapshot: &Snapshot) {
        let end = match snapshot.lookup(self.slurm_id) {
            Lookup::NotAsked => return,
            Lookup::Queue(entry) => match entry.state.phase() {
                Phase::Ended => SlurmEnd::State(entry.state.clone()),
                Phase::Queued => {
                    let reason = queued_reason(self.slurm_id, entry);
                    if self.queued_reason.as_ref() != Some(&reason) {
                        self.queued_reason = Some(reason.clone());
                        self.events.push_back(ExecEvent::Queued(reason));
                    }
                    return;
                }
                Phase::Running => {
                    if !self.running {
                        self.running = true;
                        self.events.push_back(ExecEvent::Running {
                            ran_for: entry.time_used,
                        });
                        tracing::info!(job = %self.job_id, slurm_job = self.slurm_id, node = entry.nodes.as_deref().unwrap_or("?"), "running in Slurm");
                        // Not again for a job re-adopted mid-run.
                        if entry.time_used < Duration::from_secs(5) {
                            self.log
                                .note(&format!(
                                    "Slurm job {} started on {}",
                                    self.slurm_id,
                                    entry.nodes.as_deref().unwrap_or("its node")
                                ))
                                .await;
                        }
                    }
                    return;
                }
            },
            Lookup::Accounting(acct) if acct.state.phase() == Phase::Ended => {
                SlurmEnd::State(acct.state.clone())
            }
            // sacct knows it but squeue does not: wait for a clearer word.
            Lookup::Accounting(_) => return,
            Lookup::Unknown => SlurmEnd::Unknown,
        };
        self.shared.poller.untrack(self.slurm_id);
        // The script writes its exit file just before it ends; on NFS this
        // host may see it a little after Slurm's word. Worth waiting for
        // only when it decides the outcome: not after a stop jobctl asked
        // for, nor when Slurm itself ended the job (its script may never
        // have written one).
        let decisive = !self.stopping
            && match &end {
                SlurmEnd::Unknown => true,
                SlurmEnd::State(state) => {
                    matches!(state, SlurmState::Completed | SlurmState::Failed)
                }
            };
        let wait = if decisive {
            EXIT_FILE_GRACE
        } else {
            Duration::ZERO
        };
        self.ended = Some((end, Instant::now() + wait));
    }

    /// The exit file, if the job has written one (and it can be read).
    async fn exit_record(&self) -> Option<ExitRecord> {
        let state = self.shared.state.clone();
        let id = self.job_id;
        match fs::blocking(self.shared.fs_timeout, move || state.read_exit(id)).await {
            Ok(Some(text)) => {
                let record = ExitRecord::parse(&text);
                if record.is_none() {
                    tracing::warn!(job = %id, text, "unreadable exit file");
                }
                record
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "cannot read the exit file");
                None
            }
        }
    }

    async fn scancel(&self, signal: Option<&str>) {
        let result = match signal {
            Some(signal) => self.shared.commands.signal(self.slurm_id, signal).await,
            None => self.shared.commands.cancel(self.slurm_id).await,
        };
        if let Err(e) = result {
            tracing::warn!(job = %self.job_id, slurm_job = self.slurm_id, error = %e, "scancel failed");
            if signal.is_some() {
                // A job Slurm cannot signal (between states): end it.
                let _ = self.shared.commands.cancel(self.slurm_id).await;
            }
        }
        self.shared.poller.poke();
    }
}

/// The job's `pending_reason` while it waits in Slurm's queue.
fn queued_reason(slurm_id: u64, entry: &QueueEntry) -> String {
    let why = match &entry.state {
        SlurmState::Configuring => Some("nodes are booting (CONFIGURING)".to_string()),
        _ => entry.reason.clone(),
    };
    match why {
        Some(why) => format!("in Slurm's queue as job {slurm_id}: {why}"),
        None => format!("in Slurm's queue as job {slurm_id}"),
    }
}

#[async_trait]
impl Execution for SlurmExecution {
    fn describe(&self) -> String {
        format!("Slurm job {}", self.slurm_id)
    }

    fn stop_action(&self) -> String {
        if self.running {
            format!("sending SIGTERM to Slurm job {}", self.slurm_id)
        } else {
            format!(
                "cancelling Slurm job {}, which had not started",
                self.slurm_id
            )
        }
    }

    fn starts_queued(&self) -> bool {
        true
    }

    async fn next_event(&mut self) -> ExecEvent {
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            if let Some((end, give_up)) = &self.ended {
                let (end, give_up) = (end.clone(), *give_up);
                let exit = self.exit_record().await;
                if exit.is_some() || Instant::now() >= give_up {
                    return end_event(self.slurm_id, &end, exit.as_ref());
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            tokio::select! {
                changed = self.snapshots.changed() => {
                    if changed.is_err() {
                        // The poller is gone: the worker is stopping.
                        std::future::pending::<()>().await;
                    }
                    let snapshot = self.snapshots.borrow_and_update().clone();
                    self.observe(&snapshot).await;
                }
                _ = tokio::time::sleep_until(self.fence_at), if !self.fenced => {
                    // The api will count the job lost: it must not run on.
                    self.fenced = true;
                    self.stopping = true;
                    tracing::warn!(job = %self.job_id, slurm_job = self.slurm_id, "lease expired without a renewal; cancelling the Slurm job");
                    self.log.note(&format!(
                        "the lease expired without reaching the API; cancelling Slurm job {}",
                        self.slurm_id
                    )).await;
                    self.scancel(None).await;
                    return ExecEvent::Fenced;
                }
            }
        }
    }

    async fn terminate(&mut self) {
        self.stopping = true;
        if self.running {
            self.scancel(Some("TERM")).await;
        } else {
            self.scancel(None).await;
        }
    }

    async fn kill(&mut self) {
        self.stopping = true;
        self.scancel(Some("KILL")).await;
        self.scancel(None).await;
    }

    async fn renew_lease(&mut self, valid_for: Duration) {
        self.fence_at = tokio::time::Instant::now() + valid_for;
    }

    async fn finish(&mut self) {
        self.shared.poller.untrack(self.slurm_id);
    }

    async fn reported(&mut self) {
        self.shared.forget(self.job_id).await;
    }

    async fn detach(&mut self) -> String {
        self.shared.poller.untrack(self.slurm_id);
        format!(
            "worker {} stopped; Slurm job {} goes on, and the worker takes it back when it starts again",
            self.shared.worker, self.slurm_id
        )
    }
}

/// A re-adopted job that never reached Slurm: it ends at once, as `event`
/// says.
pub struct NeverSubmitted {
    shared: Arc<Shared>,
    job_id: JobId,
    event: Option<ExecEvent>,
}

impl NeverSubmitted {
    pub(super) fn new(shared: Arc<Shared>, job_id: JobId, event: ExecEvent) -> Self {
        NeverSubmitted {
            shared,
            job_id,
            event: Some(event),
        }
    }
}

#[async_trait]
impl Execution for NeverSubmitted {
    fn describe(&self) -> String {
        "a job never submitted to Slurm".into()
    }

    fn stop_action(&self) -> String {
        "it never reached Slurm".into()
    }

    fn starts_queued(&self) -> bool {
        true
    }

    async fn next_event(&mut self) -> ExecEvent {
        match self.event.take() {
            Some(event) => event,
            None => std::future::pending().await,
        }
    }

    async fn terminate(&mut self) {}

    async fn kill(&mut self) {}

    async fn renew_lease(&mut self, _valid_for: Duration) {}

    async fn finish(&mut self) {}

    async fn reported(&mut self) {
        self.shared.forget(self.job_id).await;
    }

    async fn detach(&mut self) -> String {
        "worker stopped".into()
    }
}
