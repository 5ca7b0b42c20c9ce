//! One HTTP/1 connection: the own server's loop (`h1.rs` parses, `respond.rs` writes),
//! with hyper's server for the requests it leaves (`handoff.rs`).
//!
//! Each turn of the loop reads a request head into the connection's buffer, hands the
//! request to `pipeline::handle`, writes the response and goes on with the next head
//! (already in the buffer when the client pipelines). No task, channel or per-request
//! timer sits between the socket and the pipeline.
//!
//! Memory: a connection waiting for its next request keeps its buffers while few
//! connections are open; above [`EAGER_PARK_ABOVE`] open connections it *parks* —
//! frees them and waits for readability with no buffer at all — so 10,000 idle
//! keep-alive clients cost no read buffers (nginx frees them the same way).
//!
//! Deadlines, with one lazily re-armed watchdog per connection:
//! - waiting for a request: `header_read` after accept for the first, `idle` after the
//!   last response for the others;
//! - a head that stays incomplete: `header_read` from when the wait began (slowloris);
//! - a response the client does not read: `idle` without progress;
//! - shutdown: a waiting connection closes at once; one serving a request finishes it
//!   and closes (`Connection: close`).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFuture;

use super::h1::{self, Parsed};
use super::handoff;
use super::listener::{GatewayService, Shared};
use super::respond;
use crate::pipeline;
use crate::transport::upstream::h1::Span;
use crate::transport::upstream::ReqBody;

/// Open connections above which a waiting HTTP/1 connection frees its buffers.
pub const EAGER_PARK_ABOVE: i64 = 512;

/// The longest the watchdog sleeps: deadlines are checked at least this often.
const WATCHDOG_MAX: Duration = Duration::from_secs(1);

/// What a read asks room for in the buffer (a typical request head fits).
const READ_CHUNK: usize = 4096;

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

/// The buffers a connection keeps between requests (freed when it parks).
#[derive(Default)]
pub(super) struct Buffers {
    /// Input not yet taken: the next request head, or the start of it.
    pub input: BytesMut,
    /// The response head and small body frames, gathered into one write.
    pub output: Vec<u8>,
    /// Field positions of the head being parsed.
    pub spans: Vec<Span>,
}

/// The capacity a buffer may keep while its connection waits for the next request.
const KEEP_CAPACITY: usize = 16 * 1024;

impl Buffers {
    /// Frees buffers a large request or response grew, before the connection waits.
    fn trim(&mut self) {
        if self.input.capacity() > KEEP_CAPACITY {
            self.input = BytesMut::new();
        }
        if self.output.capacity() > KEEP_CAPACITY {
            self.output = Vec::new();
        }
    }
}

/// Why the loop stopped waiting for input.
enum Waited {
    /// Input arrived (or the stream failed: the read that follows says so).
    Input,
    /// A deadline passed or shutdown began: close.
    Close,
}

/// Serves an HTTP/1 connection until it closes.
pub(super) async fn serve<I: Parkable>(io: I, svc: GatewayService, shared: &Shared) {
    let settings = &shared.settings;
    let state = &svc.info.state;
    let metrics = &shared.gw.metrics;
    let max_head = shared.protocols.max_head();
    // The watchdog is never armed further out than this, so a phase that starts later
    // never needs it re-armed earlier.
    let period = settings
        .header_read
        .min(settings.idle)
        .min(WATCHDOG_MAX)
        .max(Duration::from_millis(10));
    let watchdog = tokio::time::sleep(period);
    tokio::pin!(watchdog);
    let cancelled = shared.shutdown.cancelled();
    tokio::pin!(cancelled);

    let mut io = io;
    let mut bufs = Buffers::default();
    let mut request_state = None;
    let mut first = true;
    loop {
        // 1. A request head.
        let mut head_deadline: Option<Instant> = None;
        let parsed = loop {
            match h1::parse_request(&mut bufs.input, &mut bufs.spans, max_head) {
                Parsed::Request(req, meta) => break Some((req, meta)),
                Parsed::Handoff => break None,
                Parsed::Partial if bufs.input.len() >= max_head => break None,
                Parsed::Partial => {}
            }
            let deadline = if bufs.input.is_empty() {
                let wait = if first {
                    settings.header_read
                } else {
                    settings.idle
                };
                Instant::from_std(state.last_activity()) + wait
            } else {
                *head_deadline.get_or_insert_with(|| Instant::now() + settings.header_read)
            };
            let idle = bufs.input.is_empty();
            if idle {
                bufs.trim();
                if metrics.connections_open.get() > EAGER_PARK_ABOVE {
                    // Park: no buffer (and no request state) while waiting.
                    bufs = Buffers::default();
                    request_state = None;
                    metrics.connections_idle.inc();
                    let waited = park(&io, watchdog.as_mut(), cancelled.as_mut(), deadline, period);
                    let waited = waited.await;
                    metrics.connections_idle.dec();
                    if let Waited::Close = waited {
                        return;
                    }
                }
                metrics.connections_idle.inc();
            }
            if bufs.input.capacity() - bufs.input.len() < READ_CHUNK / 2 {
                bufs.input.reserve(READ_CHUNK);
            }
            let read = read_until(
                &mut io,
                &mut bufs.input,
                watchdog.as_mut(),
                cancelled.as_mut(),
                deadline,
                period,
            )
            .await;
            if idle {
                metrics.connections_idle.dec();
            }
            match read {
                Some(Ok(n)) if n > 0 => {}
                // End of stream, a failure, a deadline or shutdown.
                _ => return,
            }
        };
        first = false;

        // 2a. hyper's server for what the own one leaves.
        let Some((req, meta)) = parsed else {
            let prefix = bufs.input.split().freeze();
            // Boxed, as is the request below: a connection's task is as large as its
            // largest state, and an idle one should not pay for either.
            let back = Box::pin(handoff::serve(
                io,
                prefix,
                &svc,
                shared,
                watchdog.as_mut(),
                cancelled.as_mut(),
                period,
            ))
            .await;
            let Some((back, rest)) = back else {
                return;
            };
            io = back;
            bufs.input.extend_from_slice(&rest);
            continue;
        };

        // 2b. The own server. Boxed, as the hand-off above: the request's state
        // (auth, refresh, upstream exchange, response) is several kB, on the heap rather
        // than in every idle connection's task. The box is the connection's, reused by
        // each request (no allocation per request) and freed when the connection parks.
        let stall = settings.idle;
        let served = serve_request(io, bufs, req, meta, &svc, shared, stall);
        let Some((back, rest)) = reuse(&mut request_state, served).await else {
            return;
        };
        (io, bufs) = (back, rest);
    }
}

/// `fut` in `slot`'s box (made on first use, then reused: the future is the same type
/// for every request of a connection, and the one before it has completed).
fn reuse<F: Future>(slot: &mut Option<Pin<Box<F>>>, fut: F) -> Pin<&mut F> {
    let boxed = match slot.take() {
        Some(mut boxed) => {
            boxed.set(fut);
            boxed
        }
        None => Box::pin(fut),
    };
    slot.insert(boxed).as_mut()
}

/// Serves one request the own server parsed, and writes its response. Gives the
/// stream and buffers back when the connection goes on; `None`: it ends (closed here,
/// or failed).
async fn serve_request<I: Parkable>(
    mut io: I,
    mut bufs: Buffers,
    req: http::Request<ReqBody>,
    meta: h1::Meta,
    svc: &GatewayService,
    shared: &Shared,
    stall: Duration,
) -> Option<(I, Buffers)> {
    let active = svc.info.state.begin_request();
    // In a block of its own, so that the pipeline's state and the writer's below share
    // their room in this future.
    let resp = {
        let handled = pipeline::handle(&svc.gw, &svc.info, req, active);
        tokio::pin!(handled);
        // A client that closes while its request is served cancels it (the upstream
        // request with it). Once input is waiting (the next request) the client is no
        // longer watched: it may have half-closed after pipelining, and is answered (as
        // hyper does).
        let mut watching = bufs.input.is_empty();
        loop {
            tokio::select! {
                biased;
                resp = handled.as_mut() => break resp,
                read = io.read_buf(&mut bufs.input), if watching => match read {
                    Ok(n) if n > 0 => watching = false,
                    _ => return None,
                },
            }
        }
    };
    let mut keep_alive = meta.keep_alive && !shared.shutdown.is_cancelled();
    if let Err(e) = respond::send(&mut io, &mut bufs, resp, &meta, &mut keep_alive, stall).await {
        tracing::debug!(error = %e, "response not sent whole; connection closed");
        return None;
    }
    if !keep_alive {
        respond::close(&mut io, &mut bufs.input, stall).await;
        return None;
    }
    Some((io, bufs))
}

/// Reads into `buf` (which has room) until input arrives; `None` when `deadline`
/// passes or shutdown begins first.
async fn read_until<I: Parkable>(
    io: &mut I,
    buf: &mut BytesMut,
    mut watchdog: Pin<&mut Sleep>,
    mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
    deadline: Instant,
    period: Duration,
) -> Option<io::Result<usize>> {
    // Input is usually there already: no select, no timer.
    let mut read = std::pin::pin!(io.read_buf(buf));
    if let Poll::Ready(r) = poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await {
        return Some(r);
    }
    loop {
        tokio::select! {
            biased;
            r = read.as_mut() => return Some(r),
            _ = cancelled.as_mut() => return None,
            _ = watchdog.as_mut() => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                watchdog.as_mut().reset(now + period.min(deadline - now));
            }
        }
    }
}

/// Waits, holding no buffer, until `io` has input, `deadline` passes or shutdown
/// begins.
async fn park<I: Parkable>(
    io: &I,
    mut watchdog: Pin<&mut Sleep>,
    mut cancelled: Pin<&mut WaitForCancellationFuture<'_>>,
    deadline: Instant,
    period: Duration,
) -> Waited {
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    #[test]
    fn the_request_state_box_is_made_once_and_reused() {
        // One async fn, so every call has the same future type, as serve_request does.
        async fn request(n: u32) -> u32 {
            n
        }
        let mut slot = None;
        let first = reuse(&mut slot, request(1));
        let at = std::ptr::from_ref(&*first);
        assert_eq!(first.now_or_never(), Some(1));
        let second = reuse(&mut slot, request(2));
        assert_eq!(std::ptr::from_ref(&*second), at, "a new box per request");
        assert_eq!(second.now_or_never(), Some(2), "the new request runs");
    }
}
