//! Distributed tracing: W3C Trace Context in and out, spans recorded per request,
//! exported over OTLP/HTTP (protobuf) to an OpenTelemetry collector (`tracing:`).
//!
//! One [`Tracer`] per `tracing:` configuration decides, per request, the trace it belongs
//! to ([`Tracer::begin`]): a trusted proxy's `traceparent` is continued (its sampled flag
//! decides: parent-based sampling), anything else starts a new trace sampled by
//! `sample_ratio` on the trace id (the OpenTelemetry `TraceIdRatioBased` rule, so every
//! service sampling by ratio agrees on the same trace). An unsampled request allocates
//! no span: it only carries its ids, so the upstream still gets a `traceparent` (sampled
//! flag off) and the access log the trace id.
//!
//! Child spans: [`RequestTrace::child`] for calls the pipeline makes itself (the
//! upstream), [`child`] through the task-local scope for calls deep in the call tree
//! (identity providers, Redis). The exporter ([`export`]) runs on a thread of its own.
//!
//! Owns no policy and decides no status; never records a token, cookie, query string or
//! header value.

pub mod encode;
pub mod export;
pub mod ids;
pub mod scope;
pub mod span;
pub mod w3c;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use thiserror::Error;

use crate::config::TracingConfig;
use export::{ExportSettings, Queue};
pub use ids::{SpanId, TraceId};
pub use scope::{child, recording, scope, Child, Recorder};
use span::{now_nanos, SpanData, TraceBatch};
pub use span::{SpanKind, Value};

/// The counters the exporter reports to (registered by the caller).
#[derive(Clone)]
pub struct TraceMetrics {
    /// Spans the collector accepted.
    pub exported: prometheus::IntCounter,
    /// Spans dropped because `queue_size` spans were waiting already.
    pub dropped_queue_full: prometheus::IntCounter,
    /// Spans dropped because their export failed or timed out.
    pub dropped_export_failed: prometheus::IntCounter,
}

/// Why a tracer could not be set up.
#[derive(Debug, Error)]
pub enum TracerError {
    /// The collector's TLS settings are unusable.
    #[error("tracing.ca_file: {0}")]
    Tls(String),
    /// The exporter thread could not be started.
    #[error("tracing: exporter thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// The tracer of one `tracing:` configuration (reused across reloads while it is
/// unchanged, so its queue and exporter survive them).
pub struct Tracer {
    config: TracingConfig,
    /// `sample_ratio` as a bound on the trace id's low 63 bits.
    threshold: u64,
    queue: Arc<Queue>,
}

impl Tracer {
    /// Builds the tracer and starts its exporter thread.
    pub fn new(config: &TracingConfig, metrics: TraceMetrics) -> Result<Tracer, TracerError> {
        let tls = crate::transport::tls::client_config(config.ca_file.as_deref(), None)
            .map_err(|e| TracerError::Tls(e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            if let Ok(mut v) = HeaderValue::from_str(value.expose()) {
                v.set_sensitive(true);
                headers.append(name.clone(), v);
            }
        }
        let mut resource = vec![
            ("service.name".to_owned(), config.service_name.clone()),
            (
                "service.version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
            ("telemetry.sdk.name".to_owned(), "portcullis".to_owned()),
            ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
        ];
        resource.extend(config.resource.iter().map(|(k, v)| (k.clone(), v.clone())));
        let settings = ExportSettings {
            endpoint: config.endpoint.clone(),
            headers,
            timeout: config.timeout,
            batch_size: config.batch_size,
            delay: config.batch_delay,
            resource: encode::resource(&resource),
            tls,
        };
        let queue = export::start(settings, config.queue_size, metrics)?;
        Ok(Tracer {
            threshold: ratio_threshold(config.sample_ratio),
            config: config.clone(),
            queue,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &TracingConfig {
        &self.config
    }

    /// The trace of a request with `headers` (W3C fields are read only when
    /// `trusted`: a peer in `server.trusted_proxies`).
    pub fn begin(&self, headers: &HeaderMap, trusted: bool) -> RequestTrace {
        let parent = if trusted { w3c::parent(headers) } else { None };
        let span_id = ids::span_id();
        let (trace_id, sampled) = match &parent {
            Some(p) => (p.trace_id, p.sampled),
            None => {
                let id = ids::trace_id();
                (id, ratio_sampled(&id, self.threshold))
            }
        };
        let trace_state = parent.as_ref().and_then(|_| w3c::tracestate(headers));
        let server = sampled.then(|| {
            Box::new(ServerSpan {
                rec: Arc::new(Recorder::new(trace_id, span_id)),
                parent: parent.map(|p| p.span_id),
                start: now_nanos(),
                attrs: Vec::with_capacity(16),
                queue: self.queue.clone(),
            })
        });
        RequestTrace {
            trace_id,
            span_id,
            sampled,
            trace_state,
            server,
        }
    }

    /// Exports what waits now (at shutdown), waiting at most `wait`.
    pub async fn flush(&self, wait: Duration) {
        self.queue.flush(wait).await;
    }
}

/// `TraceIdRatioBased`: sampled when the trace id's last 8 bytes, as a big-endian
/// number shifted right by one, are below `ratio × 2^63`.
fn ratio_threshold(ratio: f64) -> u64 {
    (ratio.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64
}

fn ratio_sampled(id: &TraceId, threshold: u64) -> bool {
    let mut low = [0u8; 8];
    low.copy_from_slice(&id[8..]);
    (u64::from_be_bytes(low) >> 1) < threshold
}

/// One request's place in a trace. Unsampled, it is just its ids.
pub struct RequestTrace {
    trace_id: TraceId,
    /// The gateway's server span (also the parent id sent upstream when unsampled).
    span_id: SpanId,
    sampled: bool,
    trace_state: Option<String>,
    /// Present when sampled.
    server: Option<Box<ServerSpan>>,
}

struct ServerSpan {
    rec: Arc<Recorder>,
    parent: Option<SpanId>,
    start: u64,
    attrs: Vec<(&'static str, Value)>,
    queue: Arc<Queue>,
}

impl RequestTrace {
    /// The trace id.
    pub fn trace_id(&self) -> &TraceId {
        &self.trace_id
    }

    /// The server span's id.
    pub fn span_id(&self) -> &SpanId {
        &self.span_id
    }

    /// Whether spans are recorded and exported.
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// The recorder children are collected in (sampled requests only), for [`scope`].
    pub fn recorder(&self) -> Option<Arc<Recorder>> {
        self.server.as_ref().map(|s| s.rec.clone())
    }

    /// Starts a child span of the server span (sampled requests only).
    pub fn child(&self, name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Option<Child> {
        self.server.as_ref().map(|s| s.rec.child(name, kind))
    }

    /// Sets an attribute of the server span; a no-op when unsampled.
    pub fn attr(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(s) = &mut self.server {
            s.attrs.push((key, value.into()));
        }
    }

    /// The `traceparent` to send to a callee whose caller span is `via` (the server span
    /// when `None`).
    pub fn traceparent(&self, via: Option<&Child>) -> [u8; w3c::TRACEPARENT_LEN] {
        let parent = via.map_or(&self.span_id, |c| c.span_id());
        w3c::format_traceparent(&self.trace_id, parent, self.sampled)
    }

    /// The trusted peer's `tracestate`, passed on unchanged.
    pub fn trace_state(&self) -> Option<&str> {
        self.trace_state.as_deref()
    }

    /// Ends the server span (named `name`; `error`: it failed) and hands the request's
    /// spans to the exporter. Only the first call does anything.
    pub fn finish(&mut self, name: Cow<'static, str>, error: Option<Cow<'static, str>>) {
        let Some(server) = self.server.take() else {
            return;
        };
        let ServerSpan {
            rec,
            parent,
            start,
            attrs,
            queue,
        } = *server;
        let mut spans = rec.take();
        spans.push(SpanData {
            span_id: self.span_id,
            parent,
            remote_parent: parent.is_some(),
            name,
            kind: SpanKind::Server,
            start,
            end: now_nanos().max(start),
            attrs,
            error,
        });
        queue.submit(TraceBatch {
            trace_id: self.trace_id,
            trace_state: self.trace_state.take(),
            spans,
        });
    }
}

#[cfg(test)]
mod tests;
