//! The access log line, request metrics and per-connection activity, all emitted when
//! the response body is finished or dropped (so duration and bytes are the real ones).
//! Logs method, host, path (never the query), route, status, duration, bytes, request
//! id and user — never tokens, cookies or secrets.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::{ConnInfo, ResBody};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::runtime::{Gateway, Runtime};

/// Activity of one client connection, read by the listener's idle watchdog.
#[derive(Default)]
pub struct ConnState {
    /// Requests whose response has not finished yet.
    pub active: AtomicUsize,
    /// Milliseconds since `epoch` of the last request end.
    pub last_activity_ms: AtomicU64,
    /// Reference instant for `last_activity_ms`.
    pub epoch: Option<Instant>,
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
        if let Some(epoch) = self.epoch {
            let ms = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.last_activity_ms.store(ms, Ordering::Relaxed);
        }
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
    /// Authenticated user, when any.
    pub user: Option<String>,
    /// The failure, logged once here.
    pub error: Option<GatewayError>,
    conn: Arc<ConnState>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
}

impl AccessLog {
    /// Starts the record of a request (and counts it in flight).
    pub fn begin(
        req: &Request<Incoming>,
        request_id: HeaderValue,
        start: Instant,
        conn: &ConnInfo,
        gw: &Gateway,
    ) -> AccessLog {
        gw.metrics.in_flight.inc();
        conn.state.active.fetch_add(1, Ordering::Relaxed);
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
            conn: conn.state.clone(),
            metrics: gw.metrics.clone(),
        }
    }

    fn finish(&self, rt: &Runtime, bytes: u64) {
        let elapsed = self.start.elapsed();
        self.metrics.in_flight.dec();
        self.conn.touch();
        self.conn.active.fetch_sub(1, Ordering::Relaxed);
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
        let user = self.user.as_deref().unwrap_or("-");
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

/// The response body handed to hyper: counts bytes and writes the access log when the
/// body ends or is dropped (client went away).
pub struct Tracked {
    inner: ResBody,
    bytes: u64,
    log: Option<(AccessLog, Arc<Runtime>)>,
}

impl Tracked {
    /// Wraps `inner`; the log is emitted exactly once.
    pub fn new(inner: ResBody, log: AccessLog, rt: Arc<Runtime>) -> Tracked {
        Tracked {
            inner,
            bytes: 0,
            log: Some((log, rt)),
        }
    }

    fn emit(&mut self) {
        if let Some((log, rt)) = self.log.take() {
            log.finish(&rt, self.bytes);
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.emit();
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
                    this.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => this.emit(),
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
