//! A finished span as the exporter needs it, and the clock spans are timed with. Spans
//! are built only for sampled traces: an unsampled request allocates none of this.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use super::ids::{SpanId, TraceId};

/// OTLP `Span.SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// Work inside the gateway.
    Internal = 1,
    /// The request the gateway serves.
    Server = 2,
    /// A call the gateway makes (upstream, identity provider, Redis).
    Client = 3,
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    Str(Cow<'static, str>),
    /// A signed integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl From<&'static str> for Value {
    fn from(s: &'static str) -> Value {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Cow::Owned(s))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<u16> for Value {
    fn from(n: u16) -> Value {
        Value::Int(i64::from(n))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// One finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanData {
    /// Its id.
    pub span_id: SpanId,
    /// Its parent's id (`None`: the root of the trace).
    pub parent: Option<SpanId>,
    /// Whether the parent is in another process (a trusted peer's `traceparent`).
    pub remote_parent: bool,
    /// A low-cardinality name (`GET api`, `idp introspection`, `redis GET`).
    pub name: Cow<'static, str>,
    /// Server or client.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start: u64,
    /// End, in nanoseconds since the Unix epoch.
    pub end: u64,
    /// Its attributes (semantic-convention keys where one exists).
    pub attrs: Vec<(&'static str, Value)>,
    /// `Some(message)`: the span failed (OTLP status code ERROR).
    pub error: Option<Cow<'static, str>>,
}

/// Every span of one trace that one request recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceBatch {
    /// The trace.
    pub trace_id: TraceId,
    /// The `tracestate` the trace carries (the trusted peer's), if any.
    pub trace_state: Option<String>,
    /// The spans, children first, the server span last.
    pub spans: Vec<SpanData>,
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}
