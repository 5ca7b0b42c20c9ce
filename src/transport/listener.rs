//! The public listener: accept loop, TLS handshake, protocol choice (HTTP/1.1, h2c
//! prior knowledge, ALPN), graceful drain. It hands each request to the [`Handler`] and
//! nothing else. HTTP/1 connections are served by hyper's HTTP/1 server with idle
//! parking ([`super::http1`]), HTTP/2 connections by hyper's HTTP/2 server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::{http1 as hyper_h1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

use super::conn_state::ConnState;
use super::http1;
use super::service::Service;
use super::workers::{self, Padded, Workers};
use super::{ConnInfo, Handler, ListenerMetrics};
use crate::config::ServerConfig;

/// Per-listener settings fixed at start-up.
#[derive(Clone)]
pub struct ListenerSettings {
    /// Header read deadline (also bounds the TLS handshake and the wait for the
    /// first request).
    pub header_read: Duration,
    /// Idle keep-alive timeout.
    pub idle: Duration,
    /// TLS termination, if configured at start-up.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// hyper's HTTP/1 read buffer may not be smaller than this (it asserts otherwise).
const MIN_H1_BUF: usize = 8192;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The connection builders of one listener, configured once from the server config.
pub struct Protocols {
    http1: hyper_h1::Builder,
    http2: http2::Builder<TokioExecutor>,
    /// For the rare client whose first bytes are a split-up HTTP/2 preface.
    auto: auto::Builder<TokioExecutor>,
}

impl Protocols {
    /// Builds the connection builders from the server config.
    pub fn new(server: &ServerConfig) -> Protocols {
        let max_buf = server.limits.max_header_bytes.max(MIN_H1_BUF);
        let max_list = u32::try_from(server.limits.max_header_bytes).unwrap_or(u32::MAX);
        let mut http1 = hyper_h1::Builder::new();
        // The header-read deadline is enforced by `http1::serve` (one timer per
        // connection rather than one per request).
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(None)
            .max_buf_size(max_buf)
            .keep_alive(true);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_header_list_size(max_list)
            .max_concurrent_streams(256);
        let mut auto = auto::Builder::new(TokioExecutor::new());
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(server.timeouts.header_read)
            .max_buf_size(max_buf)
            .keep_alive(true);
        auto.http2()
            .timer(TokioTimer::new())
            .max_header_list_size(max_list)
            .max_concurrent_streams(256);
        Protocols { http1, http2, auto }
    }

    /// The HTTP/1 builder (used by `http1::serve`).
    pub(super) fn http1(&self) -> &hyper_h1::Builder {
        &self.http1
    }
}

/// What one accepted connection needs besides its socket.
pub(super) struct Shared<H> {
    pub handler: Arc<H>,
    pub settings: ListenerSettings,
    pub protocols: Arc<Protocols>,
    pub shutdown: CancellationToken,
    /// Per worker, a child of `shutdown` (cancelled with it): what that worker's
    /// connections wait on. Waiting on `shutdown` itself would take its locks (the
    /// token's and its waiter list's) on every poll of every connection, from both
    /// cores: one of the few cache lines the workers shared per request.
    pub stops: Box<[Padded<CancellationToken>]>,
    pub metrics: ListenerMetrics,
}

impl<H> Shared<H> {
    /// The shutdown signal of the worker running this thread (see `stops`).
    pub fn stop(&self) -> &CancellationToken {
        self.stops
            .get(workers::shard_index(self.stops.len()))
            .map_or(&self.shutdown, |stop| &stop.0)
    }
}

impl<H> Clone for Shared<H> {
    fn clone(&self) -> Self {
        Shared {
            handler: self.handler.clone(),
            settings: self.settings.clone(),
            protocols: self.protocols.clone(),
            shutdown: self.shutdown.clone(),
            stops: self.stops.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// Accepts until `shutdown` is cancelled and hands each connection to a worker;
/// connections are tracked by `tracker`.
#[allow(clippy::too_many_arguments)]
pub async fn accept_loop<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    settings: ListenerSettings,
    protocols: Arc<Protocols>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    workers: Arc<Workers>,
    metrics: ListenerMetrics,
) {
    // One allocation shared by every connection: a connection's task holds a pointer,
    // not a copy of each field.
    let shared = Arc::new(Shared {
        handler,
        settings,
        protocols,
        stops: (0..workers::shards())
            .map(|_| Padded(shutdown.child_token()))
            .collect(),
        shutdown,
        metrics,
    });
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        // Off this (the control) runtime's reactor at once: the worker that serves the
        // connection registers it with its own. (Accepting without registering at all
        // needs `AsyncFd`, whose registration is `unsafe`; this crate has none.)
        let accepted = accepted.and_then(|(s, peer)| Ok((s.into_std()?, peer)));
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let token = tracker.token();
        let shared = shared.clone();
        workers.spawn(move || connection(stream, peer, shared, token));
    }
}

/// One accepted connection, from its registration with the worker's reactor to its end:
/// the future its task runs (a parked connection is this and nothing else, so what it
/// holds is what 10,000 idle connections cost).
///
/// Written as blocks that use what they capture rather than `async fn`s: an `async fn`
/// keeps each argument twice in its state (as passed, and as moved into its body), and
/// here three levels of it held ~600 bytes of copies per connection.
#[allow(clippy::manual_async_fn)] // see above
fn connection<H: Handler>(
    stream: std::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared<H>>,
    token: TaskTrackerToken,
) -> impl Future<Output = ()> + Send {
    async move {
        // Registered with the reactor of the worker that serves it.
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "cannot register connection");
                return;
            }
        };
        shared.metrics.open.inc();
        match &shared.settings.tls {
            None => serve_plain(stream, peer, &shared).await,
            // Boxed, like the HTTP/2 paths below: the task of every connection is as
            // large as its largest state, and a parked plaintext HTTP/1 connection
            // should not pay for a TLS handshake or an HTTP/2 connection it does not
            // have.
            Some(tls) => Box::pin(serve_tls(stream, peer, tls.clone(), &shared)).await,
        }
        shared.metrics.open.dec();
        drop(token);
    }
}

fn service<H>(
    shared: &Shared<H>,
    peer: SocketAddr,
    tls: bool,
    state: &Arc<ConnState>,
) -> Service<H> {
    Service {
        handler: shared.handler.clone(),
        info: ConnInfo { peer, tls },
        state: state.clone(),
    }
}

/// What the first bytes of a plaintext connection say about its protocol.
enum Sniffed {
    Http1,
    /// The complete HTTP/2 preface (h2c with prior knowledge).
    Http2,
    /// A strict prefix of the preface: undecided yet.
    Unsure,
    Closed,
}

async fn sniff(stream: &TcpStream) -> std::io::Result<Sniffed> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let n = stream.peek(&mut buf).await?;
    Ok(if n == 0 {
        Sniffed::Closed
    } else if buf[..n] != H2_PREFACE[..n] {
        Sniffed::Http1
    } else if n == H2_PREFACE.len() {
        Sniffed::Http2
    } else {
        Sniffed::Unsure
    })
}

// Not an `async fn`: that would keep each argument twice in the state.
#[allow(clippy::manual_async_fn)]
fn serve_plain<'s, H: Handler>(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &'s Shared<H>,
) -> impl Future<Output = ()> + Send + 's {
    async move {
        let state = ConnState::new();
        let sniffed = tokio::select! {
            _ = shared.stop().cancelled() => return,
            r = tokio::time::timeout(shared.settings.header_read, sniff(&stream)) => r,
        };
        let svc = service(shared, peer, false, &state);
        match sniffed {
            Ok(Ok(Sniffed::Http1)) => {
                http1::serve(stream, svc, shared).await;
            }
            Ok(Ok(Sniffed::Http2)) => {
                let conn = shared
                    .protocols
                    .http2
                    .serve_connection(TokioIo::new(stream), svc);
                Box::pin(drive(conn, peer, &state, shared)).await;
            }
            Ok(Ok(Sniffed::Unsure)) => {
                let conn = shared
                    .protocols
                    .auto
                    .serve_connection_with_upgrades(TokioIo::new(stream), svc);
                Box::pin(drive(conn, peer, &state, shared)).await;
            }
            Ok(Ok(Sniffed::Closed)) => {}
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection failed before a request"),
            Err(_) => tracing::debug!(%peer, "no request within the header-read timeout"),
        }
    }
}

async fn serve_tls<H: Handler>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    shared: &Shared<H>,
) {
    let state = ConnState::new();
    let acceptor = TlsAcceptor::from(tls);
    let handshake = tokio::time::timeout(shared.settings.header_read, acceptor.accept(stream));
    let tls_stream = tokio::select! {
        _ = shared.stop().cancelled() => return,
        r = handshake => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
    };
    let svc = service(shared, peer, true, &state);
    if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") {
        let conn = shared
            .protocols
            .http2
            .serve_connection(TokioIo::new(tls_stream), svc);
        drive(conn, peer, &state, shared).await;
    } else {
        http1::serve(tls_stream, svc, shared).await;
    }
}

/// Runs a connection that is not parked between requests (HTTP/2 and the undecided
/// case) with the idle timeout and the graceful drain.
async fn drive<C, H>(conn: C, peer: SocketAddr, state: &ConnState, shared: &Shared<H>)
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(conn);
    let idle = shared.settings.idle;
    let mut draining = false;
    let watchdog = tokio::time::sleep(idle);
    tokio::pin!(watchdog);
    let cancelled = shared.stop().cancelled();
    tokio::pin!(cancelled);
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = &mut cancelled, if !draining => {
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
            _ = &mut watchdog, if !draining => {
                let idle_for = state.last_activity().elapsed();
                if state.is_idle() && idle_for >= idle {
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                } else {
                    let left = idle.saturating_sub(idle_for).max(Duration::from_millis(50));
                    watchdog.as_mut().reset(tokio::time::Instant::now() + left);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
