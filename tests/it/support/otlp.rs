//! An OTLP/HTTP trace receiver on 127.0.0.1:0: accepts `POST /v1/traces` with an
//! `application/x-protobuf` `ExportTraceServiceRequest` and decodes it with prost, from
//! message definitions transcribed field by field from opentelemetry-proto
//! (`collector/trace/v1/trace_service.proto`, `trace/v1/trace.proto`,
//! `common/v1/common.proto`, `resource/v1/resource.proto`): a decoder written apart
//! from the gateway's encoder, so a wrong field number or wire type fails the tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// `ExportTraceServiceRequest`
#[derive(Clone, PartialEq, Message)]
pub struct ExportTraceServiceRequest {
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// `ResourceSpans`
#[derive(Clone, PartialEq, Message)]
pub struct ResourceSpans {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `Resource`
#[derive(Clone, PartialEq, Message)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
    #[prost(uint32, tag = "2")]
    pub dropped_attributes_count: u32,
}

/// `ScopeSpans`
#[derive(Clone, PartialEq, Message)]
pub struct ScopeSpans {
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<Span>,
    #[prost(string, tag = "3")]
    pub schema_url: String,
}

/// `InstrumentationScope`
#[derive(Clone, PartialEq, Message)]
pub struct InstrumentationScope {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

/// `Span`
#[derive(Clone, PartialEq, Message)]
pub struct Span {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub trace_state: String,
    #[prost(bytes = "vec", tag = "4")]
    pub parent_span_id: Vec<u8>,
    #[prost(fixed32, tag = "16")]
    pub flags: u32,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(int32, tag = "6")]
    pub kind: i32,
    #[prost(fixed64, tag = "7")]
    pub start_time_unix_nano: u64,
    #[prost(fixed64, tag = "8")]
    pub end_time_unix_nano: u64,
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(uint32, tag = "10")]
    pub dropped_attributes_count: u32,
    #[prost(message, optional, tag = "15")]
    pub status: Option<Status>,
}

/// `Status`
#[derive(Clone, PartialEq, Message)]
pub struct Status {
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(int32, tag = "3")]
    pub code: i32,
}

/// `KeyValue`
#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `AnyValue`
#[derive(Clone, PartialEq, Message)]
pub struct AnyValue {
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4")]
    pub value: Option<any_value::Value>,
}

/// `AnyValue.value`
pub mod any_value {
    /// The oneof.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(string, tag = "1")]
        Str(String),
        #[prost(bool, tag = "2")]
        Bool(bool),
        #[prost(int64, tag = "3")]
        Int(i64),
        #[prost(double, tag = "4")]
        Double(f64),
    }
}

/// `Span.SpanKind` values.
pub const KIND_SERVER: i32 = 2;
pub const KIND_CLIENT: i32 = 3;
/// `Status.StatusCode.STATUS_CODE_ERROR`.
pub const STATUS_ERROR: i32 = 2;

/// One decoded span with its resource's `service.name`.
#[derive(Clone, Debug)]
pub struct Received {
    pub span: Span,
    pub service: String,
    pub scope: String,
}

impl Received {
    /// A string attribute.
    pub fn attr(&self, key: &str) -> Option<String> {
        self.span
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::Str(s) => Some(s.clone()),
                any_value::Value::Int(n) => Some(n.to_string()),
                any_value::Value::Bool(b) => Some(b.to_string()),
                any_value::Value::Double(d) => Some(d.to_string()),
            })
    }

    /// The trace id as hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id as hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span id as hex (empty for a root).
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    spans: Vec<Received>,
    posts: usize,
    bad: Vec<String>,
    headers: Vec<(String, String)>,
}

/// A running receiver.
pub struct OtlpReceiver {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    arrived: Arc<Notify>,
}

impl OtlpReceiver {
    /// Starts one.
    pub async fn start() -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind otlp");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let arrived = Arc::new(Notify::new());
        let (s, a) = (seen.clone(), arrived.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (s, a) = (s.clone(), a.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (s, a) = (s.clone(), a.clone());
                        async move {
                            let status = receive(req, &s).await;
                            a.notify_waiters();
                            let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status)
                                .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        OtlpReceiver {
            addr,
            seen,
            arrived,
        }
    }

    /// The base URL for `tracing.otlp_endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        let seen = self.seen.lock().unwrap();
        assert!(seen.bad.is_empty(), "malformed exports: {:?}", seen.bad);
        seen.spans.clone()
    }

    /// How many export requests arrived.
    pub fn posts(&self) -> usize {
        self.seen.lock().unwrap().posts
    }

    /// The header fields of the last export.
    pub fn last_headers(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().headers.clone()
    }

    /// Waits (at most 20 s) until `check` holds for the spans received; returns them.
    pub async fn wait_for(&self, check: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let arrived = self.arrived.notified();
            let spans = self.spans();
            if check(&spans) {
                return spans;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                let spans = self.spans();
                assert!(check(&spans), "spans never arrived; got: {spans:#?}");
                return spans;
            }
        }
    }
}

async fn receive(req: hyper::Request<hyper::body::Incoming>, seen: &Mutex<Seen>) -> u16 {
    let ok_target = req.method() == hyper::Method::POST && req.uri().path() == "/v1/traces";
    let ct = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return 400,
    };
    let mut seen = seen.lock().unwrap();
    seen.posts += 1;
    seen.headers = headers;
    if !ok_target || ct != "application/x-protobuf" {
        seen.bad.push(format!("target or content type: {ct}"));
        return 404;
    }
    match ExportTraceServiceRequest::decode(body) {
        Ok(export) => {
            for rs in export.resource_spans {
                let service = rs
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                    .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                        any_value::Value::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    let scope = ss.scope.map(|s| s.name).unwrap_or_default();
                    for span in ss.spans {
                        seen.spans.push(Received {
                            span,
                            service: service.clone(),
                            scope: scope.clone(),
                        });
                    }
                }
            }
            200
        }
        Err(e) => {
            seen.bad.push(format!("decode: {e}"));
            400
        }
    }
}
