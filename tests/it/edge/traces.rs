//! Distributed tracing through the running gateway (issue 18 part 3), checked by an OTLP
//! receiver that decodes what arrives: the server span with its route and outcome, child
//! spans for introspection, JWKS and the upstream call; the upstream's `traceparent`; a
//! client's context continued only from a trusted proxy (more in `traces_more.rs`).

use serde_json::json;

use crate::bearer::{active, user};
use crate::support::bearer::{bearer, config, route, start_ready, ProviderYaml};
use crate::support::client::get;
use crate::support::fake_idp::{Endpoint, FakeIdp};
use crate::support::otlp::{OtlpReceiver, Received, KIND_CLIENT, KIND_SERVER, STATUS_ERROR};
use crate::support::{echo_upstream, TestGateway};

pub(super) const CLIENT_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
pub(super) const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// `tracing:` exporting to `endpoint` quickly (tests wait for spans, never for time).
pub(super) fn tracing(endpoint: &str, extra: &str) -> String {
    format!(
        "tracing:\n  otlp_endpoint: \"{endpoint}\"\n  service_name: gw-test\n  \
         batch_delay: 20ms\n{extra}"
    )
}

/// A plain route on the echo upstream without authentication.
pub(super) async fn plain(tracing_yaml: &str, server_extra: &str) -> TestGateway {
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
pub(super) fn split(tp: &str) -> (String, String, String) {
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!(parts[0], "00");
    (parts[1].into(), parts[2].into(), parts[3].into())
}

pub(super) fn named<'a>(spans: &'a [Received], name: &str) -> Vec<&'a Received> {
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
