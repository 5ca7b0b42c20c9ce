//! One HTTP/1 client connection, served by hyper's HTTP/1 server (every request:
//! bodies, `Expect: 100-continue`, upgrades, pipelining, HEAD, trailers), with idle
//! parking.
//!
//! Memory: hyper's connection holds a read and a write buffer (8 KiB each) for as long
//! as it lives. A connection that waits for its next request is therefore *parked*:
//! once hyper is idle (nothing read, nothing unflushed, no body in flight) the loop
//! asks it to finish (`graceful_shutdown`, which on an idle connection closes it at
//! once), takes the stream back with `into_parts` (with any input hyper read but did
//! not process), and waits for readability holding no buffer at all. The next input
//! starts a new hyper connection on the same stream. Both are documented hyper APIs;
//! nothing depends on how hyper reacts to an invented end of stream. A connection parks
//! as soon as it is idle while more than [`EAGER_PARK_ABOVE`] connections are open,
//! otherwise after one watchdog period without a request (so busy keep-alive clients
//! keep their hyper connection between requests).
//!
//! Deadlines, with one lazily re-armed watchdog per connection:
//! - waiting for a request: `header_read` after accept for the first, `idle` after the
//!   last response for the others;
//! - input that does not become a request (a slow head, or the rest of a body after its
//!   response): `header_read` from its first byte (slowloris);
//! - a response the client does not read: `idle` without progress;
//! - shutdown: a parked connection closes at once, one serving a request finishes it
//!   and closes (`Connection: close`).
//!
//! A connection that ends otherwise than by parking closes lingeringly (RFC 9112 §9.6,
//! nginx's `lingering_close`): what the client still sends is read and dropped for at
//! most [`LINGER`] and [`LINGER_BYTES`], since closing with unread input answers with a
//! reset that can destroy the response the client has not read yet.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFuture;

use super::conn_state::ConnState;
use super::listener::Shared;
use super::service::Service;
use super::watched::{Parkable, Watched};
use super::Handler;

/// Open connections above which a connection parks as soon as it is idle.
pub const EAGER_PARK_ABOVE: i64 = 512;

/// The longest the watchdog sleeps: deadlines are checked at least this often.
const WATCHDOG_MAX: Duration = Duration::from_secs(1);

/// The longest a closing connection reads and drops what the client still sends.
pub const LINGER: Duration = Duration::from_secs(2);
/// The most it reads and drops.
pub const LINGER_BYTES: usize = 64 * 1024;

/// Why the loop stopped waiting for input.
enum Waited {
    /// Input arrived (or the stream failed: the read that follows says so).
    Input,
    /// A deadline passed or shutdown began: close.
    Close,
}

/// Serves an HTTP/1 connection until it closes. A block, not an `async fn`: what a
/// parked connection holds is this future, and an `async fn` would keep its arguments
/// twice (see `listener::connection`).
#[allow(clippy::manual_async_fn)] // see above
pub(super) fn serve<'s, I: Parkable, H: Handler>(
    mut io: I,
    svc: Service<H>,
    shared: &'s Shared<H>,
) -> impl Future<Output = ()> + 's {
    async move {
        let settings = &shared.settings;
        let state = &svc.state;
        // The watchdog is never armed further out than this, so a phase that starts
        // later never needs it re-armed earlier.
        let period = settings
            .header_read
            .min(settings.idle)
            .min(WATCHDOG_MAX)
            .max(Duration::from_millis(10));
        let watchdog = tokio::time::sleep(period);
        tokio::pin!(watchdog);
        let cancelled = shared.stop().cancelled();
        tokio::pin!(cancelled);

        let mut prefix = Bytes::new();
        let mut first = true;
        loop {
            if prefix.is_empty() {
                // Parked: the stream, and no buffer.
                let deadline = if first {
                    Instant::from_std(state.last_activity()) + settings.header_read
                } else {
                    Instant::from_std(state.last_activity()) + settings.idle
                };
                shared.metrics.idle.inc();
                let waited =
                    park(&io, watchdog.as_mut(), cancelled.as_mut(), deadline, period).await;
                shared.metrics.idle.dec();
                if let Waited::Close = waited {
                    return;
                }
            }
            first = false;
            // Boxed: a parked connection's task should not be as large as hyper's state.
            let session = Box::pin(session(
                io,
                prefix,
                &svc,
                state,
                shared,
                watchdog.as_mut(),
                cancelled.as_mut(),
                period,
            ));
            let Some((back, rest)) = session.await else {
                return;
            };
            (io, prefix) = (back, rest);
        }
    }
}

/// One hyper connection on the stream, from `prefix` (input read before), until it is
/// finished for parking (the stream and any unprocessed input come back) or the
/// connection ends (`None`: closed, failed, upgraded, or drained for shutdown).
#[allow(clippy::too_many_arguments)]
async fn session<I: Parkable, H: Handler>(
    io: I,
    prefix: Bytes,
    svc: &Service<H>,
    state: &Arc<ConnState>,
    shared: &Shared<H>,
    mut watchdog: Pin<&mut Sleep>,
    mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
    period: Duration,
) -> Option<(I, Bytes)> {
    let settings = &shared.settings;
    state.set_parking(false);
    let watched = Watched::new(io, prefix, state.clone());
    let mut conn: Box<Conn<I, H>> = Box::new(
        shared
            .protocols
            .http1()
            .serve_connection(TokioIo::new(watched), svc.clone())
            .with_upgrades(),
    );
    let mut parking = false;
    let mut draining = false;
    // Once draining (idle timeout or shutdown): the latest the connection may take.
    let mut give_up: Option<Instant> = None;
    let result = loop {
        tokio::select! {
            biased;
            res = poll_fn(|cx| poll_conn(&mut *conn, state, shared, &mut parking, draining, cx)) => {
                break res;
            }
            _ = cancelled.as_mut(), if !draining && !parking => {
                Pin::new(&mut *conn).graceful_shutdown();
                draining = true;
                give_up = Some(Instant::now() + settings.idle);
            }
            _ = watchdog.as_mut() => {
                let now = Instant::now();
                // A client that stopped reading its response must not hold the
                // connection (and the upstream one behind it).
                if state.write_stalled_for() >= settings.idle || give_up.is_some_and(|t| now >= t) {
                    return None;
                }
                if state.is_idle() && !draining && !parking {
                    match state.pending_input_since() {
                        // A head (or the rest of a body) that does not become a request.
                        Some(since) if now.into_std() >= since + settings.header_read => return None,
                        Some(_) => {}
                        None => {
                            let idle_for = now.into_std().saturating_duration_since(state.last_activity());
                            if idle_for >= settings.idle {
                                // Not parkable (a body or upgrade state): ends here.
                                Pin::new(&mut *conn).graceful_shutdown();
                                draining = true;
                                give_up = Some(now + settings.idle);
                            } else if idle_for >= period {
                                state.want_park();
                            }
                        }
                    }
                }
                watchdog.as_mut().reset(now + period);
            }
        }
    };
    // `None`: upgraded, the tunnel owns the stream now.
    let parts = conn.into_parts()?;
    let Watched { io, prefix, .. } = parts.io.into_inner();
    match &result {
        Ok(()) if parking && !draining => {
            return Some((io, unprocessed(&parts.read_buf, &prefix)));
        }
        Ok(()) => {}
        Err(e) => tracing::debug!(error = %e, "connection ended with an error"),
    }
    let mut io = io;
    linger(&mut io, settings.idle).await;
    None
}

/// What hyper read but did not process, then what it never read, in a buffer of its own:
/// hyper's `read_buf` is a slice of its read buffer, and even an empty slice keeps that
/// whole allocation (8 KiB or more) alive for as long as the connection stays parked.
fn unprocessed(read_buf: &Bytes, prefix: &Bytes) -> Bytes {
    if read_buf.is_empty() && prefix.is_empty() {
        return Bytes::new();
    }
    let mut rest = BytesMut::with_capacity(read_buf.len() + prefix.len());
    rest.extend_from_slice(read_buf);
    rest.extend_from_slice(prefix);
    rest.freeze()
}

/// hyper's HTTP/1 connection on a watched stream.
type Conn<I, H> =
    hyper::server::conn::http1::UpgradeableConnection<TokioIo<Watched<I>>, Service<H>>;

/// Polls hyper's connection; when it is idle and parking is wanted (or many
/// connections are open), asks it to finish and polls it again so it does at once.
fn poll_conn<I: Parkable, H: Handler>(
    conn: &mut Conn<I, H>,
    state: &ConnState,
    shared: &Shared<H>,
    parking: &mut bool,
    draining: bool,
    cx: &mut Context<'_>,
) -> Poll<hyper::Result<()>> {
    if let Poll::Ready(res) = Pin::new(&mut *conn).poll(cx) {
        return Poll::Ready(res);
    }
    let wanted = state.park_wanted() || shared.metrics.open.get() > EAGER_PARK_ABOVE;
    if !*parking && !draining && wanted && state.hyper_idle() {
        *parking = true;
        state.set_parking(true);
        Pin::new(&mut *conn).graceful_shutdown();
        return Pin::new(conn).poll(cx);
    }
    Poll::Pending
}

/// Waits, holding no buffer, until `io` has input, `deadline` passes or shutdown
/// begins. (A block, like [`serve`], which holds it while parked.)
#[allow(clippy::manual_async_fn)] // see above
fn park<'a, 'c: 'a, I: Parkable>(
    io: &'a I,
    mut watchdog: Pin<&'a mut Sleep>,
    mut cancelled: Pin<&'a mut WaitForCancellationFuture<'c>>,
    deadline: Instant,
    period: Duration,
) -> impl Future<Output = Waited> + use<'a, 'c, I> {
    async move {
        let ready = io.ready();
        tokio::pin!(ready);
        loop {
            tokio::select! {
                res = ready.as_mut() => {
                    // A failure shows in the read that follows.
                    let _ = res;
                    return Waited::Input;
                }
                _ = cancelled.as_mut() => return Waited::Close,
                _ = watchdog.as_mut() => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Waited::Close;
                    }
                    watchdog.as_mut().reset(now + period.min(deadline - now));
                }
            }
        }
    }
}

/// Closes the connection lingeringly (see the module doc): the write side first, then
/// what the client still sends is read and dropped, within `stall` for the close.
async fn linger<I: AsyncRead + AsyncWrite + Unpin>(io: &mut I, stall: Duration) {
    if !matches!(tokio::time::timeout(stall, io.shutdown()).await, Ok(Ok(()))) {
        return;
    }
    let drain = async {
        let mut sink = vec![0u8; 4096];
        let mut read = 0;
        while read < LINGER_BYTES {
            match io.read(&mut sink).await {
                Ok(n) if n > 0 => read += n,
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER.min(stall), drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_connection_keeps_no_part_of_hypers_read_buffer() {
        // hyper's buffer after it processed a whole request: empty, its capacity kept.
        let mut buf = BytesMut::with_capacity(8192);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let all = buf.len();
        bytes::Buf::advance(&mut buf, all);
        let read_buf = buf.freeze();
        assert!(read_buf.is_empty());
        let hyper_handle = read_buf.clone();
        let none = unprocessed(&read_buf, &Bytes::new());
        assert!(none.is_empty());
        // And one holding the start of the next request, with input hyper never read.
        let mut buf = BytesMut::with_capacity(8192);
        buf.extend_from_slice(b"GET / HTTP/1.1\r\n\r\nGET /next");
        bytes::Buf::advance(&mut buf, 18);
        let partial = buf.freeze();
        let partial_handle = partial.clone();
        let rest = unprocessed(&partial, &Bytes::from_static(b" HTTP/1.1"));
        assert_eq!(&rest[..], b"GET /next HTTP/1.1");
        drop((read_buf, partial));
        // What the parked connection keeps shares nothing with hyper's buffers.
        assert!(hyper_handle.is_unique());
        assert!(partial_handle.is_unique());
        drop((rest, none));
    }
}
