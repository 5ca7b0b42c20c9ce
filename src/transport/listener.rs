//! The public listener: accept loop, TLS handshake, protocol choice (HTTP/1.1, h2c
//! prior knowledge, ALPN), graceful drain. It hands each request to `pipeline::handle`
//! and nothing else. HTTP/1 connections are served by [`super::conn`]: the own HTTP/1
//! server for requests without a body, hyper's for the rest, on the same stream; HTTP/2
//! connections by hyper's HTTP/2 server directly.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body as _, Incoming};
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn;
use super::workers::Workers;
use crate::config::ServerConfig;
use crate::pipeline::access::{ConnState, Tracked};
use crate::pipeline::{self, ConnInfo};
use crate::runtime::Gateway;
use crate::transport::upstream::ReqBody;

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
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    /// For the rare client whose first bytes are a split-up HTTP/2 preface.
    auto: auto::Builder<TokioExecutor>,
    /// The largest HTTP/1 request head read before hyper's server answers 431.
    max_head: usize,
}

impl Protocols {
    /// Builds the connection builders from the server config.
    pub fn new(server: &ServerConfig) -> Protocols {
        let max_buf = server.limits.max_header_bytes.max(MIN_H1_BUF);
        let max_list = u32::try_from(server.limits.max_header_bytes).unwrap_or(u32::MAX);
        let mut http1 = http1::Builder::new();
        // The header-read deadline is enforced by `conn::serve` (one timer per
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
        Protocols {
            http1,
            http2,
            auto,
            max_head: max_buf,
        }
    }

    /// The HTTP/1 builder (used by `handoff::serve`).
    pub(super) fn http1(&self) -> &http1::Builder {
        &self.http1
    }

    /// The largest HTTP/1 request head the own server reads before it leaves the
    /// request to hyper's server (which answers 431).
    pub(super) fn max_head(&self) -> usize {
        self.max_head
    }
}

/// The future hyper holds per in-flight request. Boxed: the request path is large
/// (auth, refresh, upstream client), and hyper keeps a slot of this size per
/// connection.
type ServiceFuture =
    Pin<Box<dyn std::future::Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

/// The hyper service of one connection: every request goes to `pipeline::handle`.
#[derive(Clone)]
pub(super) struct GatewayService {
    pub(super) gw: Arc<Gateway>,
    pub(super) info: ConnInfo,
}

impl hyper::service::Service<Request<Incoming>> for GatewayService {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, req: Request<Incoming>) -> ServiceFuture {
        // The head has been parsed: what hyper reads from now on belongs to this
        // request's body or to the next request.
        let state = &self.info.state;
        state.fresh_bytes.store(false, Ordering::Relaxed);
        // A body hyper may still read (or drain, if the response comes first) must never
        // meet a synthetic end-of-stream: its rest would be parsed as a new request.
        state
            .body_open
            .store(!req.body().is_end_stream(), Ordering::Relaxed);
        if req
            .extensions()
            .get::<hyper::upgrade::OnUpgrade>()
            .is_some()
        {
            state.upgraded.store(true, Ordering::Relaxed);
        }
        let active = state.begin_request();
        let gw = self.gw.clone();
        let info = self.info.clone();
        let req = req.map(ReqBody::from);
        Box::pin(async move { Ok(pipeline::handle(&gw, &info, req, active).await) })
    }
}

/// What one accepted connection needs besides its socket.
#[derive(Clone)]
pub(super) struct Shared {
    pub gw: Arc<Gateway>,
    pub settings: ListenerSettings,
    pub protocols: Arc<Protocols>,
    pub shutdown: CancellationToken,
}

/// Accepts until `shutdown` is cancelled and hands each connection to a worker;
/// connections are tracked by `tracker`.
pub async fn accept_loop(
    listener: TcpListener,
    gw: Arc<Gateway>,
    settings: ListenerSettings,
    protocols: Arc<Protocols>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    workers: Arc<Workers>,
) {
    let shared = Shared {
        gw,
        settings,
        protocols,
        shutdown,
    };
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
        workers.spawn(move || async move {
            let _token = token;
            // Registered with the reactor of the worker that serves it.
            match TcpStream::from_std(stream) {
                Ok(stream) => serve_tcp(stream, peer, shared).await,
                Err(e) => tracing::warn!(%peer, error = %e, "cannot register connection"),
            }
        });
    }
}

async fn serve_tcp(stream: TcpStream, peer: SocketAddr, shared: Shared) {
    let metrics = shared.gw.metrics.clone();
    metrics.connections_open.inc();
    let state = Arc::new(ConnState::new());
    match shared.settings.tls.clone() {
        None => serve_plain(stream, peer, state, &shared).await,
        // Boxed, like the HTTP/2 paths below: the task of every connection is as large
        // as its largest state, and a parked plaintext HTTP/1 connection should not
        // pay for a TLS handshake or an HTTP/2 connection it does not have.
        Some(tls) => Box::pin(serve_tls(stream, peer, state, tls, &shared)).await,
    }
    metrics.connections_open.dec();
}

fn service(shared: &Shared, peer: SocketAddr, tls: bool, state: &Arc<ConnState>) -> GatewayService {
    GatewayService {
        gw: shared.gw.clone(),
        info: ConnInfo {
            peer,
            tls,
            state: state.clone(),
        },
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

async fn serve_plain(stream: TcpStream, peer: SocketAddr, state: Arc<ConnState>, shared: &Shared) {
    let sniffed = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        r = tokio::time::timeout(shared.settings.header_read, sniff(&stream)) => r,
    };
    let svc = service(shared, peer, false, &state);
    match sniffed {
        Ok(Ok(Sniffed::Http1)) => {
            conn::serve(stream, svc, shared).await;
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

async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<ConnState>,
    tls: Arc<rustls::ServerConfig>,
    shared: &Shared,
) {
    let acceptor = TlsAcceptor::from(tls);
    let handshake = tokio::time::timeout(shared.settings.header_read, acceptor.accept(stream));
    let tls_stream = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
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
        conn::serve(tls_stream, svc, shared).await;
    }
}

/// Runs a connection that is not parked between requests (HTTP/2 and the undecided
/// case) with the idle timeout and the graceful drain.
async fn drive<C>(conn: C, peer: SocketAddr, state: &ConnState, shared: &Shared)
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(conn);
    let idle = shared.settings.idle;
    let mut draining = false;
    let watchdog = tokio::time::sleep(idle);
    tokio::pin!(watchdog);
    let cancelled = shared.shutdown.cancelled();
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
