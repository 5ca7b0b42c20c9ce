//! What one client connection's watchdog and parking decision read: whether a request is
//! being served, when the last one ended, what hyper last did with the stream. Written
//! by the stream wrapper (`watched.rs`), the service (`service.rs`) and the response
//! bodies; read by the connection loop (`http1.rs`, `listener.rs`).
//!
//! Every field is an atomic with relaxed ordering: a connection, its requests and its
//! response bodies are polled by one task on one worker thread, so the atomics only make
//! the state `Sync` for the futures that carry it, at the price of plain loads and
//! stores.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Activity of one client connection; see the module doc.
pub struct ConnState {
    /// Reference instant for the millisecond fields (the accept).
    epoch: Instant,
    /// Requests whose response has not finished yet.
    active: AtomicUsize,
    /// Milliseconds since `epoch` of the last request end.
    last_activity_ms: AtomicU64,
    /// Bytes were read since the last request head was handed over (a body, or the
    /// start of the next request): hyper may hold them, so it is not idle.
    fresh_bytes: AtomicBool,
    /// Milliseconds since `epoch` when `fresh_bytes` was last set (a head being read).
    fresh_since_ms: AtomicU64,
    /// The last request handed over had a body hyper may still read or drain: not idle
    /// until the next request's head.
    body_open: AtomicBool,
    /// A request asked to switch protocols: hyper keeps upgrade state, never parked.
    upgraded: AtomicBool,
    /// hyper's last read would have blocked: it waits for input.
    read_blocked: AtomicBool,
    /// hyper wrote since it last flushed the stream: part of a response may be buffered.
    unflushed: AtomicBool,
    /// 1 + milliseconds since `epoch` when writes started to block; 0 while they flow.
    write_blocked_ms: AtomicU64,
    /// The connection loop wants it parked when hyper is next idle.
    park_wanted: AtomicBool,
    /// The connection loop has asked hyper to finish for parking: its "shutdown" of
    /// the stream is a no-op (the socket stays open for the next request).
    parking: AtomicBool,
}

impl ConnState {
    /// A fresh state for a connection accepted now.
    pub fn new() -> Arc<ConnState> {
        Arc::new(ConnState {
            epoch: Instant::now(),
            active: AtomicUsize::new(0),
            last_activity_ms: AtomicU64::new(0),
            fresh_bytes: AtomicBool::new(false),
            fresh_since_ms: AtomicU64::new(0),
            body_open: AtomicBool::new(false),
            upgraded: AtomicBool::new(false),
            read_blocked: AtomicBool::new(false),
            unflushed: AtomicBool::new(false),
            write_blocked_ms: AtomicU64::new(0),
            park_wanted: AtomicBool::new(false),
            parking: AtomicBool::new(false),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.epoch + Duration::from_millis(ms)
    }

    /// When the last request ended (the accept before the first one).
    pub fn last_activity(&self) -> Instant {
        self.at(self.last_activity_ms.load(Ordering::Relaxed))
    }

    /// Whether no request is being served.
    pub fn is_idle(&self) -> bool {
        self.active.load(Ordering::Relaxed) == 0
    }

    /// Counts a request as active until the returned guard is dropped (response body
    /// finished, or the request abandoned). Called when hyper hands over a head.
    pub fn begin_request(self: &Arc<Self>, has_body: bool, upgrade: bool) -> ActiveRequest {
        self.fresh_bytes.store(false, Ordering::Relaxed);
        self.body_open.store(has_body, Ordering::Relaxed);
        if upgrade {
            self.upgraded.store(true, Ordering::Relaxed);
        }
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveRequest(Some(self.clone()))
    }

    /// The stream delivered `n > 0` bytes to hyper.
    pub(super) fn read_some(&self) {
        self.read_blocked.store(false, Ordering::Relaxed);
        if !self.fresh_bytes.swap(true, Ordering::Relaxed) {
            self.fresh_since_ms.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// hyper's read would block.
    pub(super) fn read_would_block(&self) {
        self.read_blocked.store(true, Ordering::Relaxed);
    }

    /// hyper wrote (`blocked`: the write would block).
    pub(super) fn wrote(&self, blocked: bool) {
        self.unflushed.store(true, Ordering::Relaxed);
        self.write_progress(blocked);
    }

    /// hyper flushed the stream (`done`) or the flush would block.
    pub(super) fn flushed(&self, done: bool) {
        if done {
            self.unflushed.store(false, Ordering::Relaxed);
        }
        self.write_progress(!done);
    }

    fn write_progress(&self, blocked: bool) {
        if !blocked {
            self.write_blocked_ms.store(0, Ordering::Relaxed);
        } else if self.write_blocked_ms.load(Ordering::Relaxed) == 0 {
            let since = self.now_ms().saturating_add(1);
            self.write_blocked_ms.store(since, Ordering::Relaxed);
        }
    }

    /// For how long writes to the client have made no progress.
    pub fn write_stalled_for(&self) -> Duration {
        match self.write_blocked_ms.load(Ordering::Relaxed) {
            0 => Duration::ZERO,
            since => Duration::from_millis(self.now_ms().saturating_sub(since - 1)),
        }
    }

    /// Input hyper holds that is not a request yet (the start of a head, or the rest of
    /// a body after its response), and since when; `None` when there is none.
    pub fn pending_input_since(&self) -> Option<Instant> {
        self.fresh_bytes.load(Ordering::Relaxed).then(|| {
            let since = self.fresh_since_ms.load(Ordering::Relaxed);
            self.at(since.max(self.last_activity_ms.load(Ordering::Relaxed)))
        })
    }

    /// Whether hyper is waiting for the next request with nothing read, nothing
    /// unflushed and no body in flight: finishing its connection now loses nothing.
    pub fn hyper_idle(&self) -> bool {
        self.is_idle()
            && self.read_blocked.load(Ordering::Relaxed)
            && !self.fresh_bytes.load(Ordering::Relaxed)
            && !self.unflushed.load(Ordering::Relaxed)
            && !self.body_open.load(Ordering::Relaxed)
            && !self.upgraded.load(Ordering::Relaxed)
    }

    /// Asks for the connection to be parked when hyper is next idle.
    pub(super) fn want_park(&self) {
        self.park_wanted.store(true, Ordering::Relaxed);
    }

    /// Whether parking was asked for.
    pub(super) fn park_wanted(&self) -> bool {
        self.park_wanted.load(Ordering::Relaxed)
    }

    /// hyper is being finished for parking (`true`), or a new hyper connection starts
    /// on the stream (`false`).
    pub(super) fn set_parking(&self, parking: bool) {
        self.parking.store(parking, Ordering::Relaxed);
        if !parking {
            self.park_wanted.store(false, Ordering::Relaxed);
            self.read_blocked.store(false, Ordering::Relaxed);
            self.unflushed.store(false, Ordering::Relaxed);
            self.write_blocked_ms.store(0, Ordering::Relaxed);
        }
    }

    /// Whether hyper is being finished for parking.
    pub(super) fn parking(&self) -> bool {
        self.parking.load(Ordering::Relaxed)
    }
}

/// One active request on a connection; see [`ConnState::begin_request`]. Inert when
/// made by [`ActiveRequest::none`].
pub struct ActiveRequest(Option<Arc<ConnState>>);

impl ActiveRequest {
    /// A guard tied to no connection (in-process calls).
    pub fn none() -> ActiveRequest {
        ActiveRequest(None)
    }

    fn end(&mut self) {
        if let Some(state) = self.0.take() {
            state
                .last_activity_ms
                .store(state.now_ms(), Ordering::Relaxed);
            state.active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.end();
    }
}

/// A response body that keeps its request active until it ends or is dropped.
///
/// It also holds back a failure that comes right after data (an upstream that closes
/// mid-body): hyper drops what it has buffered when a body fails, so the failure is
/// reported on the next poll, after hyper has flushed the data (the client then sees the
/// body cut short, as the upstream sent it, rather than nothing).
pub struct Counted<B: Body> {
    inner: B,
    active: ActiveRequest,
    /// Data went out since hyper last found the body pending.
    sent_data: bool,
    held: Option<B::Error>,
}

impl<B: Body> Counted<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, active: ActiveRequest) -> Counted<B> {
        Counted {
            inner,
            active,
            sent_data: false,
            held: None,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Counted<B>
where
    B::Error: Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(err) = this.held.take() {
            return Poll::Ready(Some(Err(err)));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(err))) if this.sent_data => {
                this.sent_data = false;
                this.held = Some(err);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.sent_data = true;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.active.end();
                Poll::Ready(None)
            }
            Poll::Pending => {
                this.sent_data = false;
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
