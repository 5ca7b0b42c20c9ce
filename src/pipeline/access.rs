//! The access log line, request metrics and per-connection activity, all emitted when
//! the response body is finished or dropped (so duration and bytes are the real ones).
//! Logs method, host, path (never the query), route, status, duration, bytes, request
//! id and user — never tokens, cookies or secrets.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::transport::upstream::ReqBody;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri};
use http_body::{Body, Frame, SizeHint};

use super::ResBody;
use crate::access_log;
use crate::auth::principal::Principal;
use crate::error::GatewayError;
use crate::runtime::Snapshot;

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
    /// The snapshot the request runs on: the request's one reference to it (its
    /// phases borrow it from here), its routes' and the process's metrics.
    pub rt: Snapshot,
    /// The request's trace (`tracing:` configured); its server span ends here.
    pub trace: Option<crate::otel::RequestTrace>,
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
        rt: Snapshot,
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
            rt,
            trace: None,
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
        let method = self.method.as_str();
        let path = self.uri.path();
        let trace_hex = self.trace.as_mut().map(|t| {
            let r = self.route.and_then(|i| rt.routes.get(i));
            super::trace::finish(t, &self.method, r, self.status, self.error.as_ref());
            crate::otel::ids::trace_hex(t.trace_id())
        });
        let trace_id = trace_hex.as_ref().and_then(|h| std::str::from_utf8(h).ok());
        if rt.config.log.access && access_log::installed() {
            let record = access_log::Record {
                method,
                host,
                path,
                route,
                status: self.status,
                duration: elapsed,
                bytes,
                request_id,
                trace_id,
                user,
                error: self.error.as_ref().map(|e| e as &dyn std::fmt::Display),
            };
            if !access_log::log(&record) {
                rt.metrics.access_log_dropped.inc();
            }
        } else if let Some(err) = &self.error {
            // No access line to carry it: the failure goes to the diagnostic log.
            tracing::warn!(
                target: "access",
                method,
                host,
                path,
                route,
                status = self.status,
                request_id,
                trace_id,
                user,
                error = %err,
            );
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
