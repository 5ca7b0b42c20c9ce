//! Distributed tracing, continued (issue 18 part 3): `sample_ratio: 0`, a down or silent
//! collector, collector headers, Redis and token-refresh child spans, and the access
//! line's trace id (helpers in `traces.rs`).

use super::traces::{plain, split, tracing};
use crate::sso::{new_secret, Bed, Setup};
use crate::support::bearer::poll;
use crate::support::client::get;
use crate::support::otlp::{OtlpReceiver, KIND_CLIENT, KIND_SERVER};
use crate::support::redis::RedisServer;
use crate::support::{closed_port, echo_upstream, silent_upstream};

#[tokio::test]
async fn sample_ratio_zero_exports_nothing_but_still_propagates() {
    let otlp = OtlpReceiver::start().await;
    let gw = plain(&tracing(&otlp.url(), "  sample_ratio: 0\n"), "").await;
    for _ in 0..20 {
        let r = get(&format!("{}/z", gw.url), &[]).await;
        assert_eq!(r.status, 200);
        let (trace, _, flags) = split(&r.echoed("traceparent").expect("traceparent"));
        assert_eq!(flags, "00");
        assert_ne!(trace, "0".repeat(32));
    }
    // Shutdown flushes what waits: after it, nothing can still be on its way.
    gw.running.shutdown();
    gw.running.wait().await;
    assert_eq!(otlp.posts(), 0, "nothing exported");
}

#[tokio::test]
async fn a_down_collector_never_fails_requests_and_its_drops_are_counted() {
    let down = closed_port().await;
    let gw = plain(
        &tracing(
            &format!("http://{down}"),
            "  batch_size: 1\n  timeout: 2s\n",
        ),
        "",
    )
    .await;
    for _ in 0..10 {
        assert_eq!(get(&format!("{}/d", gw.url), &[]).await.status, 200);
    }
    let series = "portcullis_tracing_spans_dropped_total{reason=\"export_failed\"}";
    let gw_ref = &gw;
    let counted = poll(std::time::Duration::from_secs(20), || async move {
        gw_ref.metric(series).await > 0.0
    })
    .await;
    assert!(
        counted,
        "export failures are counted:\n{}",
        gw.metrics().await
    );
    assert_eq!(
        gw.metric("portcullis_tracing_spans_exported_total").await,
        0.0
    );
}

#[tokio::test]
async fn a_collector_that_never_answers_fills_the_queue_not_the_requests() {
    // Accepts connections, never answers: every export waits out its timeout while
    // requests keep finishing; past queue_size their spans are dropped and counted.
    let silent = silent_upstream().await;
    let gw = plain(
        &tracing(
            &format!("http://{silent}"),
            "  batch_size: 1\n  queue_size: 2\n  timeout: 1h\n",
        ),
        "",
    )
    .await;
    for _ in 0..20 {
        assert_eq!(get(&format!("{}/q", gw.url), &[]).await.status, 200);
    }
    let series = "portcullis_tracing_spans_dropped_total{reason=\"queue_full\"}";
    let gw_ref = &gw;
    let counted = poll(std::time::Duration::from_secs(20), || async move {
        gw_ref.metric(series).await > 0.0
    })
    .await;
    assert!(
        counted,
        "queue overflow is counted:\n{}",
        gw.metrics().await
    );
}

#[tokio::test]
async fn collector_headers_are_sent_with_every_export() {
    let otlp = OtlpReceiver::start().await;
    let gw = plain(
        &tracing(
            &otlp.url(),
            "  headers: { Authorization: \"Api-Token abc\", X-Scope-OrgID: t1 }\n",
        ),
        "",
    )
    .await;
    assert_eq!(get(&format!("{}/h", gw.url), &[]).await.status, 200);
    otlp.wait_for(|s| !s.is_empty()).await;
    let headers = otlp.last_headers();
    let has = |k: &str, v: &str| headers.iter().any(|(a, b)| a == k && b == v);
    assert!(has("authorization", "Api-Token abc"), "{headers:?}");
    assert!(has("x-scope-orgid", "t1"), "{headers:?}");
    assert!(has("content-type", "application/x-protobuf"), "{headers:?}");
}

#[tokio::test]
async fn redis_session_calls_are_child_spans_without_their_keys() {
    let otlp = OtlpReceiver::start().await;
    let redis = RedisServer::start().await;
    let setup = Setup {
        top: tracing(&otlp.url(), ""),
        ..crate::scale::setup(&redis.url(), &new_secret())
    };
    let bed = Bed::start(setup).await;
    // The login saves the session in Redis (the callback's own trace); later requests
    // may be served from the replica's local copy without a Redis call.
    bed.login("/app/x").await;
    assert_eq!(bed.browser.get(&bed.url("/app/y")).await.status, 200);
    let is_redis = |s: &crate::support::otlp::Received| s.span.name.starts_with("redis ");
    // Spans of one request may arrive in different exports: wait until every Redis call
    // seen has its server span too.
    let spans = otlp
        .wait_for(|s| {
            s.iter().any(is_redis)
                && s.iter().filter(|c| is_redis(c)).all(|c| {
                    s.iter()
                        .any(|p| p.trace_id() == c.trace_id() && p.span.kind == KIND_SERVER)
                })
        })
        .await;
    let calls: Vec<_> = spans.iter().filter(|s| is_redis(s)).collect();
    for call in &calls {
        assert_eq!(call.span.kind, KIND_CLIENT, "{}", call.span.name);
        assert_eq!(call.attr("db.system.name").as_deref(), Some("redis"));
        let op = call.attr("db.operation.name").expect("operation name");
        assert!(
            !op.is_empty()
                && op
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{op}"
        );
        // Each is a child of the server span of the request that made it.
        let server = spans
            .iter()
            .find(|s| s.trace_id() == call.trace_id() && s.span.kind == KIND_SERVER)
            .expect("the request's server span");
        assert_eq!(call.parent_id(), server.span_id(), "{}", call.span.name);
    }
    for s in &spans {
        for kv in &s.span.attributes {
            let v = format!("{:?}", kv.value);
            assert!(
                !v.contains("portcullis:s:"),
                "a session key in {}: {v}",
                kv.key
            );
        }
    }
}

#[tokio::test]
async fn a_session_refresh_is_a_token_refresh_span() {
    let otlp = OtlpReceiver::start().await;
    let bed = Bed::start(Setup {
        top: tracing(&otlp.url(), ""),
        ..Setup::default()
    })
    .await;
    // 31 s: the gateway refreshes once less than 30 s are left, a second from now.
    bed.idp.set_token_lifetime(31);
    bed.login("/app/x").await;
    bed.idp.set_token_lifetime(300);
    let due = bed.idp.last_issued().expect("issued").expires_at - 30;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while crate::support::fake_idp::now() <= due {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clock did not advance"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let hop = bed.browser.get(&bed.url("/app/y")).await;
    assert_eq!(hop.status, 200);
    let echoed: serde_json::Value = serde_json::from_slice(&hop.body).expect("echo JSON");
    let (trace, _, _) = split(echoed["headers"]["traceparent"][0].as_str().expect("tp"));
    let spans = otlp
        .wait_for(|s| {
            s.iter()
                .any(|s| s.trace_id() == trace && s.span.kind == KIND_SERVER)
        })
        .await;
    let server = spans
        .iter()
        .find(|s| s.trace_id() == trace && s.span.kind == KIND_SERVER)
        .expect("server span");
    let refresh = spans
        .iter()
        .find(|s| s.trace_id() == trace && s.span.name == "idp token refresh")
        .unwrap_or_else(|| panic!("no refresh span in {spans:#?}"));
    assert_eq!(refresh.parent_id(), server.span_id());
    assert_eq!(
        refresh.attr("http.response.status_code").as_deref(),
        Some("200")
    );
}

#[test]
fn the_access_line_carries_the_trace_id_of_the_exported_trace() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let otlp = OtlpReceiver::start().await;
        let up = echo_upstream().await;
        let dir = tempfile::tempdir().expect("tempdir");
        // A long batch delay: only the flush at shutdown sends the span.
        let yaml = format!(
            "server:\n  listen: \"127.0.0.1:0\"\n  timeouts: {{ shutdown_grace: 1s }}\n\
             log:\n  format: json\n  level: info\n  access: on\n\
             routes:\n  - name: echo\n    upstream: \"http://{up}\"\n    auth: none\n\
             tracing:\n  otlp_endpoint: \"{}\"\n  batch_delay: 1h\n",
            otlp.url()
        );
        let (mut child, lines, addr) = crate::core::access_log::start(&yaml, &dir);
        let r = get(&format!("http://{addr}/t"), &[]).await;
        assert_eq!(r.status, 200);
        let (trace, _, _) = split(&r.echoed("traceparent").expect("traceparent"));
        let lines = crate::core::access_log::stop(&mut child, &lines);
        let access: Vec<serde_json::Value> = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"] == "access")
            .collect();
        assert_eq!(access.len(), 1, "{lines:#?}");
        assert_eq!(access[0]["trace_id"], trace.as_str());
        let spans = otlp.spans();
        assert!(
            spans
                .iter()
                .any(|s| s.trace_id() == trace && s.span.name == "GET echo"),
            "the shutdown flushed the span: {spans:#?}"
        );
    });
}
