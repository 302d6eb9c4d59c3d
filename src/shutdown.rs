//! Turning SIGINT and SIGTERM into cancellation tokens.
//!
//! One token reaches every long-running task. The first signal asks for a
//! graceful stop (a worker drains its jobs); a second one asks to stop now.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// The two stages of stopping.
#[derive(Clone, Default)]
pub struct Shutdown {
    /// Stop taking new work and finish what is under way.
    pub graceful: CancellationToken,
    /// Stop what is under way, now.
    pub immediate: CancellationToken,
}

impl Shutdown {
    /// A pair of tokens wired to SIGINT and SIGTERM. Must be called inside a
    /// tokio runtime.
    pub fn on_signals() -> std::io::Result<Self> {
        let shutdown = Shutdown::default();
        let mut sigint = signal(SignalKind::interrupt())?;
        let mut sigterm = signal(SignalKind::terminate())?;
        let s = shutdown.clone();
        tokio::spawn(async move {
            for stage in 0.. {
                let name = tokio::select! {
                    _ = sigint.recv() => "SIGINT",
                    _ = sigterm.recv() => "SIGTERM",
                };
                if stage == 0 {
                    tracing::info!(
                        "{name} received: shutting down (send it again to stop at once)"
                    );
                    s.graceful.cancel();
                } else {
                    tracing::warn!("{name} received again: stopping at once");
                    s.immediate.cancel();
                    s.graceful.cancel();
                    return;
                }
            }
        });
        Ok(shutdown)
    }
}
