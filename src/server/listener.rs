//! The public listener: accept loop, TLS handshake, HTTP/1.1 + HTTP/2 (h2c prior
//! knowledge and ALPN) via hyper-util's auto builder, header-read and idle timeouts,
//! graceful drain. It hands each request to `pipeline::handle` and nothing else.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ServerConfig;
use crate::pipeline::access::ConnState;
use crate::pipeline::{self, ConnInfo};
use crate::runtime::Gateway;

/// Per-listener settings fixed at start-up.
#[derive(Clone)]
pub struct ListenerSettings {
    /// Header read deadline (also bounds the TLS handshake).
    pub header_read: Duration,
    /// Idle keep-alive timeout.
    pub idle: Duration,
    /// TLS termination, if configured at start-up.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

type ServiceFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<http::Response<pipeline::access::Tracked>, Infallible>,
            > + Send,
    >,
>;

/// hyper's HTTP/1 read buffer may not be smaller than this (it asserts otherwise).
const MIN_H1_BUF: usize = 8192;

/// Builds the connection builder from the server config.
pub fn http_builder(server: &ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(server.timeouts.header_read)
        .max_buf_size(server.limits.max_header_bytes.max(MIN_H1_BUF))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(server.limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    builder
}

/// Accepts until `shutdown` is cancelled; connections are tracked by `tracker`.
pub async fn accept_loop(
    listener: TcpListener,
    gw: Arc<Gateway>,
    settings: ListenerSettings,
    builder: Arc<auto::Builder<TokioExecutor>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
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
        tracker.spawn(serve_tcp(
            stream,
            peer,
            gw.clone(),
            settings.clone(),
            builder.clone(),
            shutdown.clone(),
        ));
    }
}

async fn serve_tcp(
    stream: TcpStream,
    peer: SocketAddr,
    gw: Arc<Gateway>,
    settings: ListenerSettings,
    builder: Arc<auto::Builder<TokioExecutor>>,
    shutdown: CancellationToken,
) {
    match settings.tls.clone() {
        None => serve_io(stream, peer, false, gw, settings, builder, shutdown).await,
        Some(tls) => {
            let acceptor = TlsAcceptor::from(tls);
            match tokio::time::timeout(settings.header_read, acceptor.accept(stream)).await {
                Ok(Ok(tls_stream)) => {
                    serve_io(tls_stream, peer, true, gw, settings, builder, shutdown).await
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn serve_io<I>(
    io: I,
    peer: SocketAddr,
    tls: bool,
    gw: Arc<Gateway>,
    settings: ListenerSettings,
    builder: Arc<auto::Builder<TokioExecutor>>,
    shutdown: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::new(ConnState::new());
    let info = ConnInfo {
        peer,
        tls,
        state: state.clone(),
    };
    let service = service_fn(move |req| {
        let gw = gw.clone();
        let info = info.clone();
        // Boxed: hyper keeps one in-flight slot per connection sized like the service
        // future; the whole request path is large (auth, refresh, upstream client), so an
        // unboxed future would cost every idle keep-alive connection that much memory.
        let fut: ServiceFuture =
            Box::pin(async move { Ok::<_, Infallible>(pipeline::handle(&gw, &info, req).await) });
        fut
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut draining = false;
    let mut idle_deadline = tokio::time::Instant::now() + settings.idle;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = shutdown.cancelled(), if !draining => {
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
            _ = tokio::time::sleep_until(idle_deadline), if !draining => {
                let active = state.active.load(Ordering::Relaxed);
                let last = Duration::from_millis(state.last_activity_ms.load(Ordering::Relaxed));
                let since_accept = state.epoch.map(|e| e.elapsed()).unwrap_or_default();
                let idle_for = since_accept.saturating_sub(last);
                if active == 0 && idle_for >= settings.idle {
                    conn.as_mut().graceful_shutdown();
                    draining = true;
                } else {
                    idle_deadline = tokio::time::Instant::now()
                        + settings.idle.saturating_sub(idle_for).max(Duration::from_millis(50));
                }
            }
        }
    }
}
