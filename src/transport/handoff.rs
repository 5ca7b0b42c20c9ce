//! The HTTP/1 requests the own server leaves to hyper's (bodies, upgrades,
//! `100-continue`, malformed or oversized heads: `h1.rs`), served on the same stream.
//!
//! [`serve`] builds a hyper `Connection` that starts from the bytes the own server had
//! read, and ends it as soon as hyper waits for the next request with nothing unread:
//! [`ParkIo`] then reports end-of-stream, hyper finishes cleanly (flushing what it
//! wrote) and the stream goes back to the own server, with whatever hyper had read of
//! the next request (pipelining; hyper reports that message incomplete and hands the
//! bytes back). A request with a body keeps hyper until the body has been read or
//! drained, an upgrade for good.
//!
//! While hyper has the stream, this loop keeps the connection's deadlines with the
//! connection's one lazily re-armed watchdog (no per-request timer): `idle` after the
//! last response, `header_read` for a head that stays incomplete (slowloris), `idle`
//! for a response the client does not read (writes without progress), and the
//! graceful drain on shutdown.

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
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFuture;

use super::conn::Parkable;
use super::listener::{GatewayService, Shared};
use crate::pipeline::access::ConnState;

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

impl<I> ParkIo<I> {
    /// Notes a write hyper made: its buffer may now hold part of a response (until the
    /// next flush), and whether the client is taking what is written.
    fn wrote(&mut self, written: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        self.unflushed = true;
        self.state.write_blocked(written.is_pending());
        written
    }
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
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // hyper flushes its own buffer completely before it flushes the stream.
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.io).poll_flush(cx);
        this.state.write_blocked(flushed.is_pending());
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

/// Serves the connection with hyper's HTTP/1 server, starting from `prefix` (input the
/// own server read but left to hyper), until hyper waits for the next request with
/// nothing unread. Returns the stream and whatever hyper read past its last request
/// (the start of the next one); `None` when the connection has ended (closed, failed,
/// upgraded, or drained for shutdown).
pub(super) async fn serve<I: Parkable>(
    io: I,
    prefix: Bytes,
    svc: &GatewayService,
    shared: &Shared,
    mut watchdog: Pin<&mut Sleep>,
    mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
    period: Duration,
) -> Option<(I, Bytes)> {
    let settings = &shared.settings;
    let state = &svc.info.state;
    state.force_park.store(false, Ordering::Relaxed);
    state.fresh_bytes.store(false, Ordering::Relaxed);
    state.write_blocked(false);
    // Back to the own server as soon as hyper waits.
    state.park_now.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let park_io = ParkIo {
        io,
        state: state.clone(),
        parked: false,
        prefix,
        unflushed: false,
    };
    let mut conn = Box::new(
        shared
            .protocols
            .http1()
            .serve_connection(TokioIo::new(park_io), svc.clone())
            .with_upgrades(),
    );
    let mut draining = false;
    // Set when this loop starts draining an idle connection itself.
    let mut drain_deadline: Option<Instant> = None;
    let result = loop {
        tokio::select! {
            res = poll_fn(|cx| poll_conn(&mut conn, state, cx)) => break res,
            _ = cancelled.as_mut(), if !draining => {
                Pin::new(&mut *conn).graceful_shutdown();
                draining = true;
            }
            _ = watchdog.as_mut() => {
                let now = Instant::now();
                // A client that stopped reading its response must not hold the
                // connection (and the upstream one behind it): `idle` without progress.
                if state.write_stalled_for() >= settings.idle {
                    return None;
                }
                if let Some(give_up) = drain_deadline {
                    // A client that stopped reading must not hold the connection.
                    if now >= give_up {
                        return None;
                    }
                } else if state.is_idle() && !draining {
                    let last = Instant::from_std(state.last_activity()).max(started);
                    let idle_for = now.saturating_duration_since(last);
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
                        // A request head started long ago and is still incomplete:
                        // park now; a partial head is then an error and the
                        // connection closes (slowloris).
                        state.force_park.store(true, Ordering::Relaxed);
                    }
                }
                watchdog.as_mut().reset(now + period);
            }
        }
    };
    // `None`: upgraded, the tunnel owns the stream now.
    let parts = conn.into_parts()?;
    let park_io = parts.io.into_inner();
    // hyper may already hold the start of a pipelined request when it is told
    // "end of stream": it reports the message as incomplete and gives the bytes
    // back. Past the header-read deadline (`force_park`) that is the slowloris case:
    // close.
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
        return None;
    }
    Some((park_io.io, parts.read_buf))
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
