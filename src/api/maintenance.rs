//! The api's background duties: failing jobs whose worker vanished, and
//! deleting jobs (and their logs) past retention.
//!
//! Both are safe to run in several api replicas at once: the store hands each
//! expired job to exactly one reaper, and deleting an already-deleted job or
//! log is a no-op.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::AppState;
use crate::logs;

/// Jobs deleted per sweep batch, so one sweep never holds a long lock.
const SWEEP_BATCH: u32 = 500;

/// Every `interval`, fails running jobs whose lease ran out and notes it in
/// their logs. The first look comes `grace` after start (see
/// [`super::default_reap_grace`]): after an api outage, workers get time to
/// heartbeat again, and to deliver the final reports the outage held back,
/// before their jobs count as lost.
pub async fn reap_leases(
    state: AppState,
    grace: Duration,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let first = tokio::time::Instant::now() + grace;
    let mut ticker = tokio::time::interval_at(first, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        // Pending jobs no live worker is big enough for say so (issue 15).
        if let Err(e) = state.store.explain_unfit_jobs(state.lease_timeout).await {
            tracing::warn!(error = %e, "cannot check pending jobs against the live workers");
        }
        let lost = match state.store.reap_expired_leases().await {
            Ok(lost) => lost,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for expired leases; will retry");
                continue;
            }
        };
        // Best effort, after the status change: the note cannot be written
        // first without risking a "lost" note on a job whose heartbeat lands
        // in between. A follower that stops at the failed status may miss it;
        // the status itself carries `worker lost`.
        for job in lost {
            crate::metrics::job_lost();
            let worker = job.worker.as_deref().unwrap_or("its worker");
            tracing::warn!(job = %job.id, worker, "lease expired: job failed as worker lost");
            let path = logs::log_path(&state.logs_dir, job.id);
            let note = format!(
                "worker lost: no heartbeat from {worker} for {}s; job marked failed",
                state.lease_timeout.as_secs()
            );
            let written =
                tokio::task::spawn_blocking(move || logs::append_jobctl_line(&path, &note)).await;
            if let Ok(Err(e)) | Err(e) = written.map_err(std::io::Error::other) {
                tracing::warn!(job = %job.id, error = %e, "cannot note the lost worker in the log");
            }
        }
    }
}

/// Every `interval` (and once at start), deletes finished jobs older than
/// `retention` with their logs. Logs go first: a crash in between leaves a
/// job without a log (read as empty), never a log nobody can reach.
pub async fn sweep_retention(
    state: AppState,
    retention: Duration,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = sweep_once(&state, retention).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "retention sweep failed; will retry"
            );
        }
    }
}

async fn sweep_once(state: &AppState, retention: Duration) -> anyhow::Result<()> {
    // Workers unheard of for as long as finished jobs are kept leave the
    // fleet list; a worker that comes back simply registers again.
    let forgotten = state.store.prune_workers(retention).await?;
    if forgotten > 0 {
        tracing::info!(forgotten, "retention: forgot workers gone for good");
    }
    let cutoff = Utc::now() - chrono::Duration::from_std(retention)?;
    loop {
        let ids = state.store.finished_before(cutoff, SWEEP_BATCH).await?;
        if ids.is_empty() {
            return Ok(());
        }
        let paths: Vec<_> = ids
            .iter()
            .map(|id| logs::log_path(&state.logs_dir, *id))
            .collect();
        tokio::task::spawn_blocking(move || {
            for path in paths {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot delete log")
                    }
                }
            }
        })
        .await?;
        let deleted = state.store.delete_finished(&ids).await?;
        tracing::info!(deleted, "retention: deleted finished jobs and their logs");
        if (ids.len() as u32) < SWEEP_BATCH {
            return Ok(());
        }
    }
}
