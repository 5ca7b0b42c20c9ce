//! Distributed tracing through the running gateway (issue 18 part 3), checked by an OTLP
//! receiver that decodes what arrives: the server span with its route and outcome, child
//! spans for introspection, JWKS and the upstream call; the upstream's `traceparent`; a
//! client's context continued only from a trusted proxy; `sample_ratio: 0` exporting
//! nothing; a down or silent collector neither failing nor holding up requests.

use serde_json::json;

use crate::bearer::{active, user};
use crate::sso::{new_secret, Bed, Setup};
use crate::support::bearer::{bearer, config, poll, route, start_ready, ProviderYaml};
use crate::support::client::get;
use crate::support::fake_idp::{Endpoint, FakeIdp};
use crate::support::otlp::{OtlpReceiver, Received, KIND_CLIENT, KIND_SERVER, STATUS_ERROR};
use crate::support::redis::RedisServer;
use crate::support::{closed_port, echo_upstream, silent_upstream, TestGateway};

const CLIENT_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// `tracing:` exporting to `endpoint` quickly (tests wait for spans, never for time).
fn tracing(endpoint: &str, extra: &str) -> String {
    format!(
        "tracing:\n  otlp_endpoint: \"{endpoint}\"\n  service_name: gw-test\n  \
         batch_delay: 20ms\n{extra}"
    )
}

/// A plain route on the echo upstream without authentication.
async fn plain(tracing_yaml: &str, server_extra: &str) -> TestGateway {
    let up = echo_upstream().await;
    let server = format!(
        "server:\n  listen: \"127.0.0.1:0\"\n{server_extra}admin:\n  listen: \"127.0.0.1:0\"\n"
    );
    TestGateway::start(&format!(
        "{server}routes:\n  - name: open\n    match: {{ path_prefix: / }}\n    \
         upstream: \"http://{up}\"\n    auth: none\n{tracing_yaml}"
    ))
    .await
}

/// (trace id, parent span id, flags) of a `traceparent`.
fn split(tp: &str) -> (String, String, String) {
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!(parts[0], "00");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

fn named<'a>(spans: &'a [Received], name: &str) -> Vec<&'a Received> {
    spans.iter().filter(|s| s.span.name == name).collect()
}

#[tokio::test]
async fn a_request_is_a_server_span_with_idp_and_upstream_children_and_the_upstream_continues_it() {
    let otlp = OtlpReceiver::start().await;
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    // A tiny refetch interval so that a rotated key makes a request fetch the JWKS.
    let provider = ProviderYaml {
        refetch: "1ms".into(),
        ..ProviderYaml::default()
    };
    let yaml = format!(
        "{}{}",
        config(&[provider.render(&idp)], &[route("api", "/v1/", up, &[])]),
        tracing(&otlp.url(), "  sample_ratio: 1\n")
    );
    let gw = start_ready(&yaml).await;

    // 1. A reference token: introspected during the request.
    let token = idp.new_reference_token(active(&idp, "alice", json!({})));
    let r = bearer(&gw, "/v1/things?access=secret-query", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = r
        .echoed("traceparent")
        .expect("the upstream got a traceparent");
    let (trace, parent, flags) = split(&sent);
    assert_eq!(flags, "01");
    assert!(r.echoed("tracestate").is_none());
    let spans = otlp
        .wait_for(|s| {
            s.iter()
                .any(|s| s.trace_id() == trace && s.span.kind == KIND_SERVER)
        })
        .await;
    let trace_spans: Vec<&Received> = spans.iter().filter(|s| s.trace_id() == trace).collect();
    let server = trace_spans
        .iter()
        .find(|s| s.span.kind == KIND_SERVER)
        .expect("server span");
    assert_eq!(server.span.name, "GET api");
    assert_eq!(server.service, "gw-test");
    assert_eq!(server.scope, "portcullis");
    assert!(
        server.parent_id().is_empty(),
        "a new trace: the server span is its root"
    );
    assert_eq!(server.attr("portcullis.route").as_deref(), Some("api"));
    assert_eq!(server.attr("http.route").as_deref(), Some("/v1/"));
    assert_eq!(
        server.attr("portcullis.outcome").as_deref(),
        Some("forwarded")
    );
    assert_eq!(
        server.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(server.attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(server.attr("url.path").as_deref(), Some("/v1/things"));
    assert_eq!(server.attr("url.scheme").as_deref(), Some("http"));
    assert_eq!(
        server.span.flags & 0x1ff,
        0x101,
        "sampled; parent known local"
    );
    assert!(server.span.end_time_unix_nano >= server.span.start_time_unix_nano);
    let upstream = trace_spans
        .iter()
        .find(|s| s.span.name == "upstream api")
        .expect("upstream span");
    assert_eq!(upstream.span.kind, KIND_CLIENT);
    assert_eq!(upstream.parent_id(), server.span_id());
    assert_eq!(
        parent,
        upstream.span_id(),
        "the upstream's parent is the gateway's upstream-call span"
    );
    assert_eq!(
        upstream.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        upstream.attr("url.full"),
        Some(format!("http://{up}/v1/things")),
        "no query"
    );
    let introspection = trace_spans
        .iter()
        .find(|s| s.span.name == "idp introspection")
        .expect("introspection span");
    assert_eq!(introspection.span.kind, KIND_CLIENT);
    assert_eq!(introspection.parent_id(), server.span_id());
    assert_eq!(
        introspection.attr("portcullis.provider").as_deref(),
        Some("idp")
    );
    assert_eq!(
        introspection.attr("http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        introspection.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    // Never a token, the query or a credential in any attribute.
    for s in &spans {
        for kv in &s.span.attributes {
            let v = format!("{:?}", kv.value);
            assert!(
                !v.contains(&token) && !v.contains("secret"),
                "{}: {v}",
                kv.key
            );
        }
    }

    // 2. A JWT signed by a rotated-in key: the JWKS is fetched during the request.
    idp.rotate();
    let jwks_before = idp.hits(Endpoint::Jwks);
    let jwt = idp.sign(user(&idp, "bob", json!({})));
    let r = bearer(&gw, "/v1/jwt", &jwt).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(idp.hits(Endpoint::Jwks) > jwks_before);
    let (trace, _, _) = split(&r.echoed("traceparent").expect("traceparent"));
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
    let jwks = named(&spans, "idp jwks");
    let jwks = jwks
        .iter()
        .find(|s| s.trace_id() == trace)
        .expect("a jwks span in the request's trace");
    assert_eq!(jwks.parent_id(), server.span_id());
    assert_eq!(jwks.attr("portcullis.idp.call").as_deref(), Some("jwks"));

    // 3. A denial: the outcome says why, a 4xx does not mark the span failed.
    let r = bearer(&gw, "/v1/x", "not-a-known-token").await;
    assert_eq!(r.status, 401);
    let denial = |s: &Received| {
        s.span.kind == KIND_SERVER && s.attr("http.response.status_code").as_deref() == Some("401")
    };
    let spans = otlp.wait_for(|s| s.iter().any(denial)).await;
    let denied = spans.iter().find(|s| denial(s)).expect("denied");
    assert_eq!(
        denied.attr("portcullis.outcome").as_deref(),
        Some("invalid_token")
    );
    assert!(denied
        .span
        .status
        .as_ref()
        .is_none_or(|s| s.code != STATUS_ERROR));
    assert!(
        !spans
            .iter()
            .any(|s| s.trace_id() == denied.trace_id() && s.span.name.starts_with("upstream")),
        "a denied request never reaches the upstream"
    );
}

#[tokio::test]
async fn an_untrusted_clients_trace_context_is_replaced_not_continued() {
    let otlp = OtlpReceiver::start().await;
    let gw = plain(&tracing(&otlp.url(), ""), "").await;
    let r = get(
        &format!("{}/p", gw.url),
        &[
            ("traceparent", CLIENT_PARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let (trace, _, flags) = split(&r.echoed("traceparent").expect("traceparent"));
    assert_ne!(trace, CLIENT_TRACE, "a new trace, not the client's");
    assert_eq!(flags, "01");
    assert!(
        r.echoed("tracestate").is_none(),
        "the client's tracestate is dropped"
    );
    let spans = otlp
        .wait_for(|s| {
            s.iter()
                .any(|s| s.trace_id() == trace && s.span.kind == KIND_SERVER)
        })
        .await;
    let server = spans
        .iter()
        .find(|s| s.span.kind == KIND_SERVER)
        .expect("server");
    assert!(server.parent_id().is_empty());
    assert!(server.span.trace_state.is_empty());
    assert!(spans.iter().all(|s| s.trace_id() != CLIENT_TRACE));
}

#[tokio::test]
async fn a_trusted_proxys_trace_context_is_continued_and_its_sampled_flag_decides() {
    let otlp = OtlpReceiver::start().await;
    // Ratio 0: only the proxy's sampled flag can make a request recorded.
    let gw = plain(
        &tracing(&otlp.url(), "  sample_ratio: 0\n"),
        "  trusted_proxies: [\"127.0.0.1/32\"]\n",
    )
    .await;
    // First an unsampled parent: continued, not recorded.
    let unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let r = get(&format!("{}/u", gw.url), &[("traceparent", unsampled)]).await;
    assert_eq!(r.status, 200);
    let (trace, parent, flags) = split(&r.echoed("traceparent").expect("traceparent"));
    assert_eq!(trace, "0af7651916cd43dd8448eb211c80319c");
    assert_ne!(parent, "b7ad6b7169203331", "the gateway's own span id");
    assert_eq!(flags, "00");

    let r = get(
        &format!("{}/s", gw.url),
        &[
            ("traceparent", CLIENT_PARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    let (trace, parent, flags) = split(&r.echoed("traceparent").expect("traceparent"));
    assert_eq!(trace, CLIENT_TRACE);
    assert_eq!(flags, "01");
    assert_eq!(r.echoed("tracestate").as_deref(), Some("congo=t61rcWkgMzE"));
    // Spans leave in the order requests finish: once the second request's arrived, the
    // first one's would have too.
    let spans = otlp
        .wait_for(|s| {
            s.iter()
                .any(|s| s.trace_id() == CLIENT_TRACE && s.span.kind == KIND_SERVER)
        })
        .await;
    let server = spans
        .iter()
        .find(|s| s.span.kind == KIND_SERVER)
        .expect("server span");
    assert_eq!(server.trace_id(), CLIENT_TRACE);
    assert_eq!(
        server.parent_id(),
        "00f067aa0ba902b7",
        "the proxy's span is the parent"
    );
    assert_eq!(server.span.flags & 0x3ff, 0x301, "sampled, parent remote");
    assert_eq!(server.span.trace_state, "congo=t61rcWkgMzE");
    let upstream = named(&spans, "upstream open")[0];
    assert_eq!(upstream.span_id(), parent);
    assert!(
        spans
            .iter()
            .all(|s| s.trace_id() != "0af7651916cd43dd8448eb211c80319c"),
        "the unsampled parent's request was not recorded"
    );
}

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
    bed.login("/app/x").await;
    let hop = bed.browser.get(&bed.url("/app/y")).await;
    assert_eq!(hop.status, 200);
    let echoed: serde_json::Value = serde_json::from_slice(&hop.body).expect("echo JSON");
    let tp = echoed["headers"]["traceparent"][0]
        .as_str()
        .expect("traceparent");
    let (trace, _, _) = split(tp);
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
    assert_eq!(server.span.name, "GET app");
    let read = spans
        .iter()
        .find(|s| s.trace_id() == trace && s.span.name == "redis GET")
        .expect("the session read is a span");
    assert_eq!(read.span.kind, KIND_CLIENT);
    assert_eq!(read.parent_id(), server.span_id());
    assert_eq!(read.attr("db.system.name").as_deref(), Some("redis"));
    assert_eq!(read.attr("db.operation.name").as_deref(), Some("GET"));
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
