//! The exporter: finished traces go into a bounded queue from the request path (never
//! waiting), and a thread of its own batches them and POSTs OTLP/protobuf to the
//! collector (`otlp_endpoint` + `/v1/traces`) over hyper with rustls (aws-lc-rs), the
//! gateway's one HTTP/TLS stack.
//!
//! A down or slow collector never slows a request: a request only counts and enqueues;
//! past `queue_size` waiting spans, or when an export fails or times out, spans are
//! dropped and counted (`portcullis_tracing_spans_dropped_total{reason}`). A failed
//! export is not retried. Never logs the collector headers (they may carry an API key).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::encode;
use super::span::TraceBatch;
use super::TraceMetrics;

const PROTOBUF: &str = "application/x-protobuf";
const UA: &str = concat!("portcullis/", env!("CARGO_PKG_VERSION"));
/// The instrumentation scope the spans are reported under.
const SCOPE: (&str, &str) = ("portcullis", env!("CARGO_PKG_VERSION"));
/// Largest collector answer read (an `ExportTraceServiceResponse` is tiny).
const MAX_ANSWER: usize = 64 * 1024;

/// How the exporter sends.
pub struct ExportSettings {
    /// The full `/v1/traces` URL.
    pub endpoint: Uri,
    /// Extra fields sent with every export (collector API keys).
    pub headers: HeaderMap,
    /// Bound of one export (connect, send, answer).
    pub timeout: Duration,
    /// Spans that trigger an export before `delay` is over.
    pub batch_size: usize,
    /// Longest a finished span waits for its export.
    pub delay: Duration,
    /// The encoded `Resource` (service.name…).
    pub resource: Vec<u8>,
    /// TLS for https collectors.
    pub tls: rustls::ClientConfig,
}

enum Msg {
    Trace(TraceBatch),
    Flush(oneshot::Sender<()>),
}

/// The request side of the exporter: enqueue, never wait.
pub struct Queue {
    tx: mpsc::UnboundedSender<Msg>,
    /// Spans sent into the channel and not yet taken out by the exporter.
    queued: Arc<AtomicUsize>,
    max: usize,
    dropped_full: prometheus::IntCounter,
}

impl Queue {
    /// Hands `batch` to the exporter, or drops and counts it when `queue_size` spans
    /// already wait (a slow or down collector) or the exporter is gone.
    pub fn submit(&self, batch: TraceBatch) {
        let n = batch.spans.len();
        let before = self.queued.fetch_add(n, Ordering::Relaxed);
        if before + n > self.max {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            self.dropped_full.inc_by(n as u64);
            return;
        }
        if self.tx.send(Msg::Trace(batch)).is_err() {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            self.dropped_full.inc_by(n as u64);
        }
    }

    /// Exports what waits now; returns when that export is over or `wait` has passed.
    pub async fn flush(&self, wait: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = tokio::time::timeout(wait, rx).await;
        }
    }
}

/// Starts the exporter thread. It ends, after a last export, once every [`Queue`]
/// handle is dropped (the tracer and the requests that still hold it).
pub fn start(
    settings: ExportSettings,
    queue_size: usize,
    metrics: TraceMetrics,
) -> std::io::Result<Arc<Queue>> {
    let (queue, rx) = channel(queue_size, metrics.dropped_queue_full.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let exporter = Exporter {
        client: client(settings.tls.clone()),
        queued: queue.queued.clone(),
        metrics,
        failing: AtomicBool::new(false),
        settings,
    };
    std::thread::Builder::new()
        .name("portcullis-otlp".into())
        .spawn(move || runtime.block_on(exporter.run(rx)))?;
    Ok(Arc::new(queue))
}

fn channel(
    max: usize,
    dropped_full: prometheus::IntCounter,
) -> (Queue, mpsc::UnboundedReceiver<Msg>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = Queue {
        tx,
        queued: Arc::new(AtomicUsize::new(0)),
        max,
        dropped_full,
    };
    (queue, rx)
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

fn client(tls: rustls::ClientConfig) -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

struct Exporter {
    settings: ExportSettings,
    client: HttpClient,
    queued: Arc<AtomicUsize>,
    metrics: TraceMetrics,
    /// The last export failed (logged once per failing stretch, not per export).
    failing: AtomicBool,
}

impl Exporter {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut pending: Vec<TraceBatch> = Vec::new();
        let mut spans = 0usize;
        let mut deadline: Option<Instant> = None;
        loop {
            let msg = match deadline {
                Some(at) => tokio::select! {
                    msg = rx.recv() => msg,
                    () = tokio::time::sleep_until(at) => {
                        self.export(std::mem::take(&mut pending), spans).await;
                        (spans, deadline) = (0, None);
                        continue;
                    }
                },
                None => rx.recv().await,
            };
            match msg {
                Some(Msg::Trace(batch)) => {
                    let n = batch.spans.len();
                    self.queued.fetch_sub(n, Ordering::Relaxed);
                    spans += n;
                    pending.push(batch);
                    deadline.get_or_insert_with(|| Instant::now() + self.settings.delay);
                    if spans >= self.settings.batch_size {
                        self.export(std::mem::take(&mut pending), spans).await;
                        (spans, deadline) = (0, None);
                    }
                }
                Some(Msg::Flush(done)) => {
                    self.export(std::mem::take(&mut pending), spans).await;
                    (spans, deadline) = (0, None);
                    let _ = done.send(());
                }
                None => {
                    self.export(pending, spans).await;
                    return;
                }
            }
        }
    }

    async fn export(&self, batches: Vec<TraceBatch>, spans: usize) {
        if batches.is_empty() {
            return;
        }
        let body = encode::export_request(&self.settings.resource, SCOPE, &batches);
        drop(batches);
        match tokio::time::timeout(self.settings.timeout, self.post(body)).await {
            Ok(Ok(())) => {
                self.metrics.exported.inc_by(spans as u64);
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("trace export works again");
                }
            }
            Ok(Err(why)) => self.failed(spans, &why),
            Err(_) => self.failed(spans, "timed out"),
        }
    }

    fn failed(&self, spans: usize, why: &str) {
        self.metrics.dropped_export_failed.inc_by(spans as u64);
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = why,
                spans,
                "trace export failed; spans dropped (further failures are counted in portcullis_tracing_spans_dropped_total, not logged)"
            );
        }
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.settings.endpoint.clone())
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| "request could not be built".to_owned())?;
        let headers = req.headers_mut();
        for (name, value) in &self.settings.headers {
            headers.append(name, value.clone());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
        headers.insert(USER_AGENT, HeaderValue::from_static(UA));
        let resp = self.client.request(req).await.map_err(|e| chain(&e))?;
        let status = resp.status();
        // Read the (small) answer so the connection can be reused.
        let _ = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("collector answered HTTP {}", status.as_u16()))
        }
    }
}

/// hyper's top-level errors say little ("client error (Connect)"); the cause chain says why.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(spans: usize) -> TraceBatch {
        let span = crate::otel::span::SpanData {
            span_id: [1; 8],
            parent: None,
            remote_parent: false,
            name: "GET".into(),
            kind: crate::otel::SpanKind::Server,
            start: 1,
            end: 2,
            attrs: Vec::new(),
            error: None,
        };
        TraceBatch {
            trace_id: [1; 16],
            trace_state: None,
            spans: vec![span; spans],
        }
    }

    #[test]
    fn past_queue_size_spans_are_dropped_and_counted_never_waited_for() {
        let dropped = prometheus::IntCounter::new("d", "d").expect("counter");
        let (queue, mut rx) = channel(5, dropped.clone());
        queue.submit(batch(2));
        queue.submit(batch(3));
        queue.submit(batch(1));
        assert_eq!(dropped.get(), 1, "the sixth span had no room");
        // The exporter takes two: room again for that many.
        for _ in 0..2 {
            if let Ok(Msg::Trace(b)) = rx.try_recv() {
                queue.queued.fetch_sub(b.spans.len(), Ordering::Relaxed);
            }
        }
        queue.submit(batch(5));
        assert_eq!(dropped.get(), 1);
        // The exporter is gone: dropped too, counted.
        drop(rx);
        queue.submit(batch(0));
        queue.submit(batch(4));
        assert_eq!(dropped.get(), 1 + 4, "an empty batch drops nothing");
    }
}
