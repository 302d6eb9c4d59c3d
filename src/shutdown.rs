//! Turning SIGINT and SIGTERM into cancellation tokens.
//!
//! One token reaches every long-running task. The first signal asks for a
//! graceful stop (a worker drains its jobs); a second one asks to stop now.

use std::future::IntoFuture;

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

/// How long in-flight requests may run on after a server is told to stop. A
/// log download or a stalled client must not hold a restart hostage.
pub const REQUEST_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `router` on `listener` until `stop` fires, then lets in-flight
/// requests finish for at most [`REQUEST_GRACE`] before closing them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Answers are small and latency matters: without TCP_NODELAY the last
    // segment of a response can wait ~40 ms on the client's delayed ACK.
    let listener = listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => return served,
        _ = stop.cancelled() => {}
    }
    match tokio::time::timeout(REQUEST_GRACE, &mut server).await {
        Ok(served) => served,
        Err(_) => {
            tracing::warn!(
                "requests still running {}s after the stop signal; closing them",
                REQUEST_GRACE.as_secs()
            );
            Ok(())
        }
    }
}
