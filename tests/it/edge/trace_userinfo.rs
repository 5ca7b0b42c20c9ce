//! The userinfo call as a trace span: a bearer route whose token lacks a claim the route
//! reads completes it from the provider's userinfo endpoint during the request, and that
//! call is an `idp userinfo` client span under the request's server span, with the
//! endpoint's URL and status and never the token.

use serde_json::json;

use crate::bearer::user;
use crate::support::bearer::{bearer, config, route, start_ready, ProviderYaml};
use crate::support::echo_upstream;
use crate::support::fake_idp::{Endpoint, FakeIdp};
use crate::support::otlp::{OtlpReceiver, KIND_CLIENT, KIND_SERVER};

#[tokio::test]
async fn completing_claims_from_userinfo_is_an_idp_userinfo_child_span() {
    let otlp = OtlpReceiver::start().await;
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let yaml = format!(
        "{}tracing:\n  otlp_endpoint: \"{}\"\n  batch_delay: 20ms\n",
        config(
            &[ProviderYaml::default().render(&idp)],
            &[route("api", "/", up, &[])]
        ),
        otlp.url()
    );
    let gw = start_ready(&yaml).await;
    // No preferred_username: the identity headers read it, so userinfo is asked.
    let token = idp.sign(user(&idp, "ann", json!({"preferred_username": null})));
    idp.add_userinfo(
        &token,
        json!({"sub": "sub-ann", "preferred_username": "ann"}),
    );
    let r = bearer(&gw, "/x", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("ann"));
    let tp = r.echoed("traceparent").expect("traceparent");
    let trace = tp.split('-').nth(1).expect("trace id").to_owned();

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
    let userinfo = spans
        .iter()
        .find(|s| s.trace_id() == trace && s.span.name == "idp userinfo")
        .unwrap_or_else(|| panic!("no idp userinfo span in {spans:#?}"));
    assert_eq!(userinfo.span.kind, KIND_CLIENT);
    assert_eq!(userinfo.parent_id(), server.span_id());
    assert_eq!(
        userinfo.attr("portcullis.idp.call").as_deref(),
        Some("userinfo")
    );
    assert_eq!(userinfo.attr("portcullis.provider").as_deref(), Some("idp"));
    assert_eq!(userinfo.attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        userinfo.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(userinfo.attr("url.full"), Some(idp.url(Endpoint::Userinfo)));
    assert!(
        userinfo.span.start_time_unix_nano >= server.span.start_time_unix_nano
            && userinfo.span.end_time_unix_nano <= server.span.end_time_unix_nano,
        "within the request"
    );
    for s in spans.iter().filter(|s| s.trace_id() == trace) {
        for kv in &s.span.attributes {
            let v = format!("{:?}", kv.value);
            assert!(!v.contains(&token), "the token in {}: {v}", kv.key);
        }
    }
}
