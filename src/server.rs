//! Serving HTTP with every connection bounded: the api's and the web UI's
//! accept loop.
//!
//! `axum::serve` keeps every connection for as long as the client likes:
//! 1 500 idle sockets under a 1 024 open-file limit made the api fail every
//! `accept` with `Too many open files`, and every new client hung. Here:
//!
//! - **a cap on connections** ([`ServeLimits::max_connections`], never more
//!   than the open-file limit allows, see [`connection_budget`]). At the cap,
//!   a new connection closes the connection that has been idle the longest —
//!   as nginx reuses idle keep-alive connections when it runs out — and if
//!   every connection is busy the newcomer gets a `503` and is closed. The
//!   accept loop itself never waits;
//! - **a header timeout**: a connection must send a request's head within
//!   [`ServeLimits::header_timeout`] of starting to wait for one, which also
//!   closes keep-alive connections idle that long;
//! - **a write-stall timeout**: a client that takes no bytes of its answer
//!   for [`ServeLimits::write_stall_timeout`] is dropped, so a stalled
//!   reader cannot hold a connection, a download or an answer's memory for
//!   ever. (Request bodies are bounded in time by the router's
//!   `RequestBodyTimeoutLayer`.)
//!
//! On shutdown the loop stops accepting, asks every connection to close
//! after its current answer, and drops what is left after
//! [`REQUEST_GRACE`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long in-flight requests may run on after a server is told to stop. A
/// log download or a stalled client must not hold a restart hostage.
pub const REQUEST_GRACE: Duration = Duration::from_secs(10);

/// File descriptors kept out of the connection budget: the database pool,
/// log files being read or downloaded, the blocking threads that read them,
/// and (in `jobctl up`) the worker's jobs.
pub const RESERVED_FDS: usize = 256;

/// The bounds on a server's connections.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a connection may wait to receive a whole request head,
    /// counted from when it starts waiting for one (so also how long a
    /// keep-alive connection may sit idle).
    pub header_timeout: Duration,
    /// How long a write to a client may make no progress at all.
    pub write_stall_timeout: Duration,
}

impl ServeLimits {
    /// The defaults, for at most `max_connections`.
    pub fn new(max_connections: usize) -> Self {
        ServeLimits {
            max_connections: max_connections.max(1),
            header_timeout: Duration::from_secs(60),
            write_stall_timeout: Duration::from_secs(30),
        }
    }
}

/// How many connections this process can hold open: raises the soft
/// open-file limit to the hard one (as Go and nginx do), then leaves
/// [`RESERVED_FDS`] for everything else.
pub fn connection_budget() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 1024 - RESERVED_FDS;
    };
    let soft = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    (soft as usize).saturating_sub(RESERVED_FDS).max(1)
}

/// Serves `router` on `listener` within `limits` until `stop` fires, then
/// lets in-flight requests finish for at most [`REQUEST_GRACE`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    stop: CancellationToken,
) -> io::Result<()> {
    let registry = Arc::new(Registry::default());
    let mut connections = JoinSet::new();
    let mut refused_since_log: u64 = 0;
    let mut last_refusal_log = Instant::now() - Duration::from_secs(60);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        // Answers are small and latency matters: without TCP_NODELAY the
        // last segment of a response can wait ~40 ms on the client's
        // delayed ACK.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        if registry.open() >= limits.max_connections && !registry.close_longest_idle() {
            refused_since_log += 1;
            if last_refusal_log.elapsed() >= Duration::from_secs(10) {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    refused = refused_since_log,
                    "every connection is busy: refusing new ones with 503 (raise --max-connections and the open-file limit)"
                );
                refused_since_log = 0;
                last_refusal_log = Instant::now();
            }
            connections.spawn(refuse(stream));
            continue;
        }
        let connection = registry.add(stop.child_token());
        connections.spawn(serve_connection(
            stream,
            router.clone(),
            limits,
            connection,
            registry.clone(),
        ));
    }
    drop(listener);
    // Every connection's token is a child of `stop`: each closes after its
    // current answer.
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(REQUEST_GRACE, drained).await.is_err() {
        tracing::warn!(
            "requests still running {}s after the stop signal; closing them",
            REQUEST_GRACE.as_secs()
        );
        connections.abort_all();
    }
    Ok(())
}

/// After a failed `accept`: a connection that died in the backlog is
/// nothing; running out of descriptors or memory is worth a pause, so the
/// loop does not spin while connections close.
async fn accept_failed(e: io::Error) {
    match e.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {}
        _ => {
            tracing::warn!(error = %e, "cannot accept a connection");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What a connection over the cap gets when no idle one can make room.
async fn refuse(mut stream: TcpStream) {
    const BODY: &str =
        "{\"error\":\"too many connections: every connection is busy; try again in a moment\"}";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: ServeLimits,
    connection: Arc<Connection>,
    registry: Arc<Registry>,
) {
    let io = TokioIo::new(StallGuard::new(stream, limits.write_stall_timeout));
    let service = hyper_util::service::TowerToHyperService::new(Tracked {
        router,
        connection: connection.clone(),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = connection.close.cancelled(), if !closing => {
                // Closes at once when idle, after the current answer if not.
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
    registry.remove(connection.id);
}

/// The open connections, for the cap and for choosing which idle one to
/// close.
#[derive(Default)]
struct Registry {
    connections: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections not already on their way out.
    fn open(&self) -> usize {
        self.lock()
            .values()
            .filter(|c| !c.closing.load(Ordering::Relaxed))
            .count()
    }

    fn add(&self, close: CancellationToken) -> Arc<Connection> {
        let connection = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            active: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            closing: AtomicBool::new(false),
            close,
        });
        self.lock().insert(connection.id, connection.clone());
        connection
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Closes the connection idle the longest, if any is idle.
    fn close_longest_idle(&self) -> bool {
        let connections = self.lock();
        let victim = connections
            .values()
            .filter(|c| !c.closing.load(Ordering::Relaxed) && c.active.load(Ordering::Acquire) == 0)
            .min_by_key(|c| *c.idle_since.lock().unwrap_or_else(|e| e.into_inner()));
        match victim {
            Some(victim) => {
                victim.closing.store(true, Ordering::Relaxed);
                victim.close.cancel();
                true
            }
            None => false,
        }
    }
}

/// One open connection.
struct Connection {
    id: u64,
    /// Requests whose answer is not yet all sent.
    active: AtomicUsize,
    /// When `active` last fell to zero (or the connection opened).
    idle_since: Mutex<Instant>,
    /// Asked to close.
    closing: AtomicBool,
    close: CancellationToken,
}

impl Connection {
    fn begin(self: &Arc<Self>) -> Active {
        self.active.fetch_add(1, Ordering::AcqRel);
        Active(self.clone())
    }
}

/// A request in progress on its connection, until its answer's body has
/// been sent (or dropped).
struct Active(Arc<Connection>);

impl Drop for Active {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router, marking its connection busy from a request's head to the
/// end of its answer.
#[derive(Clone)]
struct Tracked {
    router: Router,
    connection: Arc<Connection>,
}

impl tower::Service<Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let active = self.connection.begin();
        let answer = self.router.clone().oneshot(request.map(Body::new));
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|body| {
                Body::new(TrackedBody {
                    inner: body,
                    active: Some(active),
                })
            }))
        })
    }
}

/// An answer's body that holds its request's [`Active`] mark until the
/// last byte has been handed on.
struct TrackedBody {
    inner: Body,
    active: Option<Active>,
}

impl http_body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.active = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A socket whose writes fail with `TimedOut` once they have made no
/// progress for the stall timeout.
struct StallGuard<T> {
    inner: T,
    timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> StallGuard<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        StallGuard {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// After a write made progress, or not: starts or checks the stall
    /// timer.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let timeout = self.timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no data for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_that_makes_no_progress_times_out() {
        // A duplex pipe whose reader never reads: writes stall once its
        // buffer is full.
        let (ours, _theirs) = tokio::io::duplex(16);
        let mut guarded = StallGuard::new(ours, Duration::from_millis(50));
        let written = guarded.write_all(&[0u8; 64]).await;
        let e = written.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn the_longest_idle_connection_is_closed_first_and_busy_ones_never() {
        let registry = Registry::default();
        let old = registry.add(CancellationToken::new());
        let busy = registry.add(CancellationToken::new());
        let newer = registry.add(CancellationToken::new());
        *old.idle_since.lock().unwrap() = Instant::now() - Duration::from_secs(10);
        *busy.idle_since.lock().unwrap() = Instant::now() - Duration::from_secs(20);
        let _request = busy.begin();
        assert_eq!(registry.open(), 3);
        assert!(registry.close_longest_idle());
        assert!(old.close.is_cancelled(), "idle the longest");
        assert!(!busy.close.is_cancelled(), "busy");
        assert_eq!(registry.open(), 2);
        assert!(registry.close_longest_idle());
        assert!(newer.close.is_cancelled());
        assert!(!registry.close_longest_idle(), "only a busy one is left");
    }
}
