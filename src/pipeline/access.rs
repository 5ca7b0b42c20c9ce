//! The access log line, request metrics and per-connection activity, all emitted when
//! the response body is finished or dropped (so duration and bytes are the real ones).
//! Logs method, host, path (never the query), route, status, duration, bytes, request
//! id and user — never tokens, cookies or secrets.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::transport::upstream::ReqBody;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri};
use http_body::{Body, Frame, SizeHint};

use super::ResBody;
use crate::auth::principal::Principal;
use crate::error::GatewayError;
use crate::runtime::Runtime;

/// Activity of one client connection, shared by the listener (idle watchdog, HTTP/1
/// parking), its IO wrapper and the requests served on it.
#[derive(Default)]
pub struct ConnState {
    /// Requests whose response has not finished yet.
    pub active: AtomicUsize,
    /// Milliseconds since `epoch` of the last request end.
    pub last_activity_ms: AtomicU64,
    /// Reference instant for `last_activity_ms`.
    pub epoch: Option<Instant>,
    /// HTTP/1: bytes were read from the client since the last request head was
    /// handed to the gateway (a body, or the start of the next request), so hyper may
    /// hold buffered input and the connection must not be parked yet.
    pub fresh_bytes: AtomicBool,
    /// HTTP/1: park on the next read that would block, unless `fresh_bytes` is set
    /// (many connections are open, or this one has been idle for a while).
    pub park_now: AtomicBool,
    /// HTTP/1: park on the next read that would block even with `fresh_bytes` set
    /// (the header-read deadline passed).
    pub force_park: AtomicBool,
    /// A request asked to switch protocols: hyper keeps upgrade state for the rest of
    /// its connection, which is therefore never parked again.
    pub upgraded: AtomicBool,
    /// HTTP/1: the last request handed over has a body that hyper may still be reading
    /// or draining; the connection is not parked until the next request's head (after
    /// which hyper is done with that body).
    pub body_open: AtomicBool,
    /// HTTP/1: hyper's last read would have blocked (it waits for input).
    pub read_blocked: AtomicBool,
    /// HTTP/1 (hyper's server): 1 + milliseconds since `epoch` when hyper's writes
    /// started to block; 0 while they make progress.
    pub write_blocked_ms: AtomicU64,
}

impl ConnState {
    /// A fresh state for a connection accepted now.
    pub fn new() -> ConnState {
        ConnState {
            epoch: Some(Instant::now()),
            ..ConnState::default()
        }
    }

    fn touch(&self) {
        self.last_activity_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.map_or(0, |epoch| {
            u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
        })
    }

    /// Notes whether a write to the client would block (`blocked`) or went through.
    pub fn write_blocked(&self, blocked: bool) {
        if !blocked {
            self.write_blocked_ms.store(0, Ordering::Relaxed);
        } else if self.write_blocked_ms.load(Ordering::Relaxed) == 0 {
            let since = self.now_ms().saturating_add(1);
            self.write_blocked_ms.store(since, Ordering::Relaxed);
        }
    }

    /// For how long writes to the client have made no progress.
    pub fn write_stalled_for(&self) -> std::time::Duration {
        match self.write_blocked_ms.load(Ordering::Relaxed) {
            0 => std::time::Duration::ZERO,
            since => std::time::Duration::from_millis(self.now_ms().saturating_sub(since - 1)),
        }
    }

    /// When the last request ended (the accept time before the first one).
    pub fn last_activity(&self) -> Instant {
        let ms = self.last_activity_ms.load(Ordering::Relaxed);
        match self.epoch {
            Some(epoch) => epoch + std::time::Duration::from_millis(ms),
            None => Instant::now(),
        }
    }

    /// Whether no request is being served.
    pub fn is_idle(&self) -> bool {
        self.active.load(Ordering::Relaxed) == 0
    }

    /// HTTP/1: whether hyper may be told "end of stream" when its read would block,
    /// so that the connection is parked.
    pub fn may_park(&self) -> bool {
        self.is_idle()
            && !self.upgraded.load(Ordering::Relaxed)
            && !self.body_open.load(Ordering::Relaxed)
            && ((self.park_now.load(Ordering::Relaxed)
                && !self.fresh_bytes.load(Ordering::Relaxed))
                || self.force_park.load(Ordering::Relaxed))
    }

    /// Counts a request as active from the moment its head is handed over until the
    /// returned guard is dropped (response body finished, or the request abandoned).
    pub fn begin_request(self: &Arc<Self>) -> ActiveRequest {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveRequest(self.clone())
    }
}

/// One active request on a connection; see [`ConnState::begin_request`].
pub struct ActiveRequest(Arc<ConnState>);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.touch();
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Everything the access log line needs, filled in as the request advances.
pub struct AccessLog {
    method: Method,
    uri: Uri,
    host: Option<HeaderValue>,
    /// The request id (echoed to the client and the upstream).
    pub request_id: HeaderValue,
    start: Instant,
    /// Index of the matched route in the snapshot.
    pub route: Option<usize>,
    /// Final status.
    pub status: u16,
    /// The authenticated principal, when any: its username, else its subject, is logged.
    pub user: Option<Arc<Principal>>,
    /// The failure, logged once here.
    pub error: Option<GatewayError>,
    /// Released when the record is written.
    active: Option<ActiveRequest>,
    /// The snapshot the request runs on: the request's one reference to it (its
    /// phases borrow it from here), its routes' and the process's metrics.
    pub rt: Arc<Runtime>,
    /// Response bytes sent so far.
    bytes: u64,
    written: bool,
}

impl AccessLog {
    /// Starts the record of a request (and counts it in flight).
    pub fn begin(
        req: &Request<ReqBody>,
        request_id: HeaderValue,
        start: Instant,
        active: ActiveRequest,
        rt: Arc<Runtime>,
    ) -> AccessLog {
        rt.metrics.in_flight.inc();
        AccessLog {
            method: req.method().clone(),
            uri: req.uri().clone(),
            host: req.headers().get(http::header::HOST).cloned(),
            request_id,
            start,
            route: None,
            status: 0,
            user: None,
            error: None,
            active: Some(active),
            rt,
            bytes: 0,
            written: false,
        }
    }

    /// Writes the record (once): when the response body ends, or when the request is
    /// dropped unfinished (the client went away: status 499 if no response was ready).
    fn finish(&mut self) {
        if std::mem::replace(&mut self.written, true) {
            return;
        }
        if self.status == 0 {
            self.status = CLIENT_CLOSED_REQUEST;
        }
        let elapsed = self.start.elapsed();
        self.rt.metrics.in_flight.dec();
        self.active.take();
        let bytes = self.bytes;
        let rt = &self.rt;
        let route = self.route.and_then(|i| rt.routes.get(i));
        if let Some(r) = route {
            r.metrics.observe(self.status, elapsed.as_secs_f64());
        }
        let host = self
            .uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| self.host.as_ref().and_then(|h| h.to_str().ok()))
            .unwrap_or("-");
        let route = route.map_or("-", |r| &*r.name);
        let request_id = self.request_id.to_str().unwrap_or("-");
        let user = self
            .user
            .as_deref()
            .map_or("-", |p| p.username.as_deref().unwrap_or(&p.subject));
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        match &self.error {
            None => tracing::info!(
                target: "access",
                method = %self.method,
                host,
                path = self.uri.path(),
                route,
                status = self.status,
                duration_ms,
                bytes,
                request_id,
                user,
            ),
            Some(err) => tracing::warn!(
                target: "access",
                method = %self.method,
                host,
                path = self.uri.path(),
                route,
                status = self.status,
                duration_ms,
                bytes,
                request_id,
                user,
                error = %err,
            ),
        }
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.finish();
    }
}

/// nginx's status for a request whose client went away before the response.
const CLIENT_CLOSED_REQUEST: u16 = 499;

/// The response body handed to hyper: counts bytes and writes the access log when the
/// body ends or is dropped (client went away).
pub struct Tracked {
    inner: ResBody,
    log: AccessLog,
}

impl Tracked {
    /// Wraps `inner`; the log is emitted exactly once.
    pub fn new(inner: ResBody, log: AccessLog) -> Tracked {
        Tracked { inner, log }
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.log.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.log.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
