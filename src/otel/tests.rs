// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The tracer: which requests are sampled, which parent is continued, and the exporter's
//! bounded queue (drops counted, never a wait).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::*;
use crate::config::TracingConfig;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNSAMPLED: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

fn metrics() -> TraceMetrics {
    TraceMetrics {
        exported: prometheus::IntCounter::new("e", "e").unwrap(),
        dropped_queue_full: prometheus::IntCounter::new("q", "q").unwrap(),
        dropped_export_failed: prometheus::IntCounter::new("f", "f").unwrap(),
    }
}

/// A collector nobody listens on (the port was free a moment ago).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn config(ratio: f64, queue_size: usize) -> TracingConfig {
    TracingConfig {
        endpoint: format!("http://127.0.0.1:{}/v1/traces", closed_port())
            .parse()
            .unwrap(),
        sample_ratio: ratio,
        service_name: "test".into(),
        headers: Vec::new(),
        timeout: Duration::from_secs(2),
        ca_file: None,
        queue_size,
        batch_size: queue_size,
        batch_delay: Duration::from_secs(3600),
        resource: Default::default(),
    }
}

fn with(name: &http::HeaderName, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(name.clone(), HeaderValue::from_str(value).unwrap());
    h
}

#[test]
fn ratio_sampling_follows_the_trace_id() {
    let t = ratio_threshold(0.25);
    let mut id = [0u8; 16];
    assert!(ratio_sampled(&id, t), "the lowest id is sampled");
    id[8..].copy_from_slice(&u64::MAX.to_be_bytes());
    assert!(!ratio_sampled(&id, t));
    assert!(ratio_sampled(&id, ratio_threshold(1.0)), "1.0 samples all");
    assert!(
        !ratio_sampled(&[0; 16], ratio_threshold(0.0)),
        "0.0 samples none"
    );
    // Close to the ratio over many random ids.
    let hits = (0..20_000)
        .filter(|_| ratio_sampled(&ids::trace_id(), t))
        .count();
    assert!((4_000..6_000).contains(&hits), "{hits}");
}

#[tokio::test]
async fn a_trusted_parent_is_continued_and_decides_sampling() {
    let tracer = Tracer::new(&config(0.0, 16), metrics()).unwrap();
    let mut h = with(&w3c::TRACEPARENT, PARENT);
    h.insert(
        w3c::TRACESTATE,
        HeaderValue::from_static("congo=t61rcWkgMzE"),
    );
    let t = tracer.begin(&h, true);
    assert!(t.sampled(), "the parent's sampled flag wins over the ratio");
    assert_eq!(
        ids::trace_hex(t.trace_id()),
        *b"4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(t.trace_state(), Some("congo=t61rcWkgMzE"));
    let sent = t.traceparent(None);
    assert!(sent.starts_with(b"00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(
        !sent[36..52].eq(b"00f067aa0ba902b7"),
        "the gateway's own span id"
    );
    assert!(sent.ends_with(b"-01"));

    let t = tracer.begin(&with(&w3c::TRACEPARENT, UNSAMPLED), true);
    assert!(!t.sampled() && t.recorder().is_none());
    assert!(t.traceparent(None).ends_with(b"-00"));
}

#[tokio::test]
async fn an_untrusted_parent_is_ignored() {
    let tracer = Tracer::new(&config(1.0, 16), metrics()).unwrap();
    let mut h = with(&w3c::TRACEPARENT, PARENT);
    h.insert(
        w3c::TRACESTATE,
        HeaderValue::from_static("congo=t61rcWkgMzE"),
    );
    let t = tracer.begin(&h, false);
    assert_ne!(
        ids::trace_hex(t.trace_id()),
        *b"4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(t.trace_state(), None);
    assert!(t.sampled(), "a new trace, sampled by the ratio (1.0)");
    // Trusted but malformed: a new trace too.
    let t = tracer.begin(&with(&w3c::TRACEPARENT, "00-zz"), true);
    assert_ne!(
        ids::trace_hex(t.trace_id()),
        *b"4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[tokio::test]
async fn unsampled_requests_record_nothing() {
    let m = metrics();
    let tracer = Tracer::new(&config(0.0, 16), m.clone()).unwrap();
    let mut t = tracer.begin(&HeaderMap::new(), false);
    assert!(!t.sampled());
    assert!(t.child("x", SpanKind::Client).is_none());
    t.attr("k", "v");
    t.finish("GET".into(), None);
    tracer.flush(Duration::from_secs(5)).await;
    assert_eq!(m.dropped_export_failed.get() + m.exported.get(), 0);
}

#[tokio::test]
async fn a_down_collector_fails_the_export_and_counts_every_span() {
    let m = metrics();
    // The collector is down; nothing is exported before a flush.
    let tracer = Tracer::new(&config(1.0, 16), m.clone()).unwrap();
    for _ in 0..3 {
        let mut t = tracer.begin(&HeaderMap::new(), false);
        t.child("idp jwks", SpanKind::Client).unwrap().end();
        t.finish("GET api".into(), None);
    }
    tracer.flush(Duration::from_secs(10)).await;
    assert_eq!(m.exported.get(), 0);
    assert_eq!(m.dropped_export_failed.get(), 6, "two spans per request");
    assert_eq!(m.dropped_queue_full.get(), 0);
}
