//! HTTP/1 connections that hand their buffers back between requests.
//!
//! hyper keeps about 16 KiB of buffers per HTTP/1 connection (8 KiB read, 8 KiB write)
//! for as long as its `Connection` lives, so 10,000 idle keep-alive clients would
//! cost ~160 MB. Here a hyper `Connection` lives only while a request is in progress:
//! when hyper waits for the next request and the socket has nothing to read,
//! [`ParkIo`] reports end-of-stream, hyper finishes cleanly (flushing what it wrote),
//! [`serve`] takes the socket back and *parks* it — waiting for readability with no
//! buffer at all — and builds a fresh hyper connection when the next request arrives.
//! (nginx frees its buffers on idle keep-alive connections the same way.)
//!
//! A request whose first bytes hyper had already read (pipelining) is not lost: hyper
//! reports it incomplete and hands the bytes back, and the next connection starts with
//! them.
//!
//! Rebuilding hyper's connection costs a few allocations per request, so a connection
//! parks as soon as it waits only while many connections are open (more than
//! [`EAGER_PARK_ABOVE`], when memory matters); otherwise after [`PARK_AFTER`] of
//! idleness.
//!
//! The same loop owns the connection deadlines, with one lazily re-armed timer per
//! connection instead of hyper's per-request header timer:
//! - parked before the first request: `header_read` after accept;
//! - parked between requests: `idle` after the last response;
//! - reading a request head: `header_read` from its first byte (slowloris);
//! - unparked but idle (rare: see `fresh_bytes`): `idle` after the last response.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFuture;

use super::listener::{GatewayService, Shared};
use crate::pipeline::access::ConnState;

/// Open connections above which HTTP/1 connections park as soon as they wait.
pub const EAGER_PARK_ABOVE: i64 = 512;

/// Idle time after which an HTTP/1 connection parks when few connections are open.
pub const PARK_AFTER: Duration = Duration::from_secs(1);

/// A client stream that can wait for input without a read buffer.
pub(super) trait Parkable: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Resolves when a read would not block (data, end of stream or an error).
    fn ready(&self) -> impl Future<Output = io::Result<()>> + Send + '_;
}

impl Parkable for TcpStream {
    fn ready(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        self.readable()
    }
}

impl Parkable for tokio_rustls::server::TlsStream<TcpStream> {
    fn ready(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        let (tcp, tls) = self.get_ref();
        // Decrypted input (or a close_notify) already buffered by rustls: readable now.
        let buffered = !tls.wants_read();
        async move {
            if buffered {
                Ok(())
            } else {
                tcp.readable().await
            }
        }
    }
}

/// The stream as hyper sees it: reports end-of-stream instead of "would block" when
/// the connection may be parked.
struct ParkIo<I> {
    io: I,
    state: Arc<ConnState>,
    /// This wrapper ended hyper's connection with a synthetic end-of-stream.
    parked: bool,
    /// Input the previous hyper connection had read but not used (the start of a
    /// pipelined request), handed out before reading the socket again.
    prefix: Bytes,
    /// hyper has written since it last flushed: part of a response may still sit in
    /// its buffer, so "end of stream" now would cut the response short.
    unflushed: bool,
}

impl<I: AsyncRead + Unpin> AsyncRead for ParkIo<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.parked {
            return Poll::Ready(Ok(()));
        }
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            this.state.fresh_bytes.store(true, Ordering::Relaxed);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending if !this.unflushed && this.state.may_park() => {
                this.parked = true;
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                this.state.read_blocked.store(true, Ordering::Relaxed);
                Poll::Pending
            }
            Poll::Ready(Ok(())) => {
                this.state.read_blocked.store(false, Ordering::Relaxed);
                if buf.filled().len() > before {
                    this.state.fresh_bytes.store(true, Ordering::Relaxed);
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ParkIo<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.unflushed = true;
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.unflushed = true;
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // hyper flushes its own buffer completely before it flushes the stream.
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.io).poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) {
            this.unflushed = false;
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.parked {
            // hyper has flushed; the socket stays open for the next request.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Serves an HTTP/1 connection until it closes. `ready`: input is known to be waiting
/// (the first request of a sniffed plaintext connection).
pub(super) async fn serve<I: Parkable>(
    io: I,
    ready: bool,
    svc: GatewayService,
    state: Arc<ConnState>,
    shared: &Shared,
) {
    let settings = &shared.settings;
    let metrics = &shared.gw.metrics;
    // The watchdog is never armed further out than this, so a phase that starts
    // later never needs it re-armed earlier (see the module docs).
    let period = settings
        .header_read
        .min(settings.idle)
        .min(PARK_AFTER)
        .max(Duration::from_millis(10));
    let watchdog = tokio::time::sleep(period);
    tokio::pin!(watchdog);
    let cancelled = shared.shutdown.cancelled();
    tokio::pin!(cancelled);

    let mut io = io;
    let mut svc = svc;
    let mut ready = ready;
    let mut prefix = Bytes::new();
    let mut deadline = Instant::from_std(state.last_activity()) + settings.header_read;
    loop {
        if !ready {
            metrics.connections_idle.inc();
            let woke = park(&io, watchdog.as_mut(), cancelled.as_mut(), deadline, period).await;
            metrics.connections_idle.dec();
            if !woke {
                return;
            }
        }
        ready = false;
        state.force_park.store(false, Ordering::Relaxed);
        state.fresh_bytes.store(false, Ordering::Relaxed);
        let crowded = metrics.connections_open.get() > EAGER_PARK_ABOVE;
        state.park_now.store(crowded, Ordering::Relaxed);
        let unparked = Instant::now();
        let park_io = ParkIo {
            io,
            state: state.clone(),
            parked: false,
            prefix: std::mem::take(&mut prefix),
            unflushed: false,
        };
        let mut conn = Box::new(
            shared
                .protocols
                .http1()
                .serve_connection(TokioIo::new(park_io), svc)
                .with_upgrades(),
        );
        let mut draining = false;
        // Set when this loop starts draining an idle connection itself.
        let mut drain_deadline: Option<Instant> = None;
        let result = loop {
            tokio::select! {
                res = poll_fn(|cx| poll_conn(&mut conn, &state, cx)) => break res,
                _ = cancelled.as_mut(), if !draining => {
                    Pin::new(&mut *conn).graceful_shutdown();
                    draining = true;
                }
                _ = watchdog.as_mut() => {
                    let now = Instant::now();
                    if let Some(give_up) = drain_deadline {
                        // A client that stopped reading must not hold the connection.
                        if now >= give_up {
                            return;
                        }
                    } else if state.is_idle() && !draining {
                        // Idle since the last response or since input woke it up.
                        let last = Instant::from_std(state.last_activity()).max(unparked);
                        let idle_for = now.saturating_duration_since(last);
                        if idle_for >= PARK_AFTER {
                            state.park_now.store(true, Ordering::Relaxed);
                        }
                        let stalled_after_body = state.body_open.load(Ordering::Relaxed)
                            && state.fresh_bytes.load(Ordering::Relaxed);
                        if idle_for >= settings.idle
                            || (idle_for >= settings.header_read && stalled_after_body)
                        {
                            // Idle too long; or input after a request with a body has
                            // not become a request within header_read (a stalled head:
                            // parking is not allowed here, so close).
                            Pin::new(&mut *conn).graceful_shutdown();
                            draining = true;
                            drain_deadline = Some(now + settings.idle);
                        } else if idle_for >= settings.header_read {
                            // A request head started long ago and is still incomplete,
                            // or input after the last head kept the connection from
                            // parking: park now; a partial head is then an error and
                            // the connection closes (slowloris).
                            state.force_park.store(true, Ordering::Relaxed);
                        }
                    }
                    watchdog.as_mut().reset(now + period);
                }
            }
        };
        // `None`: upgraded, the tunnel owns the stream now.
        let Some(parts) = conn.into_parts() else {
            return;
        };
        let park_io = parts.io.into_inner();
        // hyper may already hold the start of a pipelined request when it is told
        // "end of stream": it reports the message as incomplete and gives the bytes
        // back, and the next connection starts with them. Past the header-read
        // deadline (`force_park`) that is the slowloris case: close.
        let resumable = match &result {
            Ok(()) => true,
            Err(e) => {
                e.is_incomplete_message()
                    && park_io.parked
                    && !parts.read_buf.is_empty()
                    && !state.force_park.load(Ordering::Relaxed)
            }
        };
        if let Err(e) = &result {
            if !resumable {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        if !resumable || draining || !park_io.parked {
            return;
        }
        io = park_io.io;
        svc = parts.service;
        if !parts.read_buf.is_empty() {
            prefix = parts.read_buf;
            ready = true;
            continue;
        }
        deadline = Instant::from_std(state.last_activity()) + settings.idle;
    }
}

/// Polls hyper's connection. hyper may try its read while the response is still
/// being finished (so parking is not yet allowed) and then wait for input without
/// reading again; poll once more when parking became allowed meanwhile, so the
/// connection parks now rather than at its next deadline.
fn poll_conn<F: Future + Unpin>(
    conn: &mut F,
    state: &ConnState,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    if let Poll::Ready(res) = Pin::new(&mut *conn).poll(cx) {
        return Poll::Ready(res);
    }
    if state.read_blocked.load(Ordering::Relaxed) && state.may_park() {
        return Pin::new(conn).poll(cx);
    }
    Poll::Pending
}

/// Waits, holding no buffer, until `io` has input. False: close the connection (the
/// deadline passed, shutdown began, or the stream failed).
async fn park<I: Parkable>(
    io: &I,
    mut watchdog: Pin<&mut Sleep>,
    mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
    deadline: Instant,
    period: Duration,
) -> bool {
    let ready = io.ready();
    tokio::pin!(ready);
    loop {
        tokio::select! {
            res = ready.as_mut() => return res.is_ok(),
            _ = cancelled.as_mut() => return false,
            _ = watchdog.as_mut() => {
                let now = Instant::now();
                if now >= deadline {
                    return false;
                }
                watchdog.as_mut().reset(now + period.min(deadline - now));
            }
        }
    }
}
