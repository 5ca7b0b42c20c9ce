//! The IdP is not an amplifier (issue 19 §3): uncached introspection and userinfo calls
//! are capped per provider (token bucket + calls in flight); past the cap the gateway
//! answers 503 with Retry-After and counts it, while cached tokens keep working; tokens
//! that cannot be tokens are refused without any call. Deterministic: rates of one per
//! hour, and held endpoints instead of timing.

use std::time::Duration;

use serde_json::json;

use super::{active, user};
use crate::support::bearer::{
    assert_invalid_token, assert_unavailable, bearer, concurrent, config, poll, route, start_ready,
    ProviderYaml,
};
use crate::support::echo_upstream;
use crate::support::fake_idp::{Endpoint, FakeIdp};
use crate::support::TestGateway;

const THROTTLED: &str = "portcullis_idp_calls_throttled_total{endpoint=";

async fn bed(
    introspection: &str,
    provider_extra: &[&str],
    tokens_extra: &[&str],
) -> (FakeIdp, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let mut provider = ProviderYaml {
        introspection: Some(format!(
            "{{ client_id: api1, client_secret: api1-secret, negative_cache_ttl: 1h, {introspection} }}"
        )),
        ..ProviderYaml::default()
    };
    provider.extra = provider_extra.iter().map(|s| s.to_string()).collect();
    provider.tokens_extra = tokens_extra.iter().map(|s| s.to_string()).collect();
    let gw = start_ready(&config(
        &[provider.render(&idp)],
        &[route("api", "/", up, &[])],
    ))
    .await;
    (idp, gw)
}

async fn throttled(gw: &TestGateway, endpoint: &str) -> f64 {
    gw.metric(&format!("{THROTTLED}\"{endpoint}\",provider=\"idp\"}}"))
        .await
}

#[tokio::test]
async fn past_the_rate_uncached_introspection_is_503_and_cached_tokens_still_pass() {
    let (idp, gw) = bed("rate_limit: { rate: 1/h, burst: 2 }", &[], &[]).await;
    let alice = idp.new_reference_token(active(&idp, "alice", json!({})));
    let junk = "junk-token-never-issued";
    assert_eq!(bearer(&gw, "/", &alice).await.status, 200);
    assert_invalid_token(&bearer(&gw, "/", junk).await, "api", "inactive");
    assert_eq!(idp.hits(Endpoint::Introspection), 2);
    // The bucket is empty: new tokens, good or bad, are refused without a call.
    let bob = idp.new_reference_token(active(&idp, "bob", json!({})));
    for t in [bob.as_str(), "more-junk-1", "more-junk-2"] {
        let r = bearer(&gw, "/", t).await;
        assert_unavailable(&r, "capped");
        let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((3000..=3600).contains(&secs), "Retry-After {secs}");
        assert_eq!(r.json()["error"], "idp_throttled");
    }
    assert_eq!(idp.hits(Endpoint::Introspection), 2, "no call past the cap");
    assert_eq!(throttled(&gw, "introspection").await, 3.0);
    // Cached answers, positive and negative, are not capped.
    for _ in 0..5 {
        let r = bearer(&gw, "/", &alice).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
        assert_invalid_token(&bearer(&gw, "/", junk).await, "api", "cached inactive");
    }
    // JWTs are validated locally and never touch the cap.
    let jwt = idp.sign(user(&idp, "carol", json!({})));
    assert_eq!(bearer(&gw, "/", &jwt).await.status, 200);
    assert_eq!(idp.hits(Endpoint::Introspection), 2);
}

#[tokio::test]
async fn past_the_calls_in_flight_new_tokens_are_503_at_once() {
    let (idp, gw) = bed(
        "rate_limit: { rate: 1000/s, burst: 1000, max_in_flight: 2 }",
        &[],
        &[],
    )
    .await;
    let held: Vec<String> = (0..2)
        .map(|i| idp.new_reference_token(active(&idp, &format!("u{i}"), json!({}))))
        .collect();
    idp.hold(Endpoint::Introspection);
    let url = format!("{}/", gw.url);
    // Each held token twice: concurrent misses of one token share one call (one slot).
    let auths = held
        .iter()
        .chain(&held)
        .map(|t| format!("Bearer {t}"))
        .collect();
    let waiting = tokio::spawn(async move { concurrent(&url, auths).await });
    assert!(idp.wait_for_hits(Endpoint::Introspection, 2).await);
    let gw_ref = &gw;
    let inside = poll(Duration::from_secs(10), || async move {
        gw_ref.metric("portcullis_requests_in_flight").await >= 4.0
    })
    .await;
    assert!(inside, "the four requests never were in flight together");
    let third = idp.new_reference_token(active(&idp, "third", json!({})));
    let r = bearer(&gw, "/", &third).await;
    assert_unavailable(&r, "third call in flight");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(idp.hits(Endpoint::Introspection), 2);
    idp.release(Endpoint::Introspection);
    for r in waiting.await.expect("join") {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(idp.hits(Endpoint::Introspection), 2);
    // The slots are free again.
    assert_eq!(bearer(&gw, "/", &third).await.status, 200);
    assert_eq!(throttled(&gw, "introspection").await, 1.0);
}

#[tokio::test]
async fn a_token_that_cannot_be_one_is_refused_without_a_call() {
    let (idp, gw) = bed("max_token_length: 64", &[], &[]).await;
    let long = "a".repeat(65);
    idp.add_reference_token(&long, active(&idp, "mallory", json!({})));
    assert_invalid_token(&bearer(&gw, "/", &long).await, "api", "65 bytes");
    let exactly = "b".repeat(64);
    idp.add_reference_token(&exactly, active(&idp, "alice", json!({})));
    assert_eq!(bearer(&gw, "/", &exactly).await.status, 200);
    assert_eq!(idp.hits(Endpoint::Introspection), 1);
    // The default bound is 4096 bytes.
    let (idp, gw) = bed("cache_ttl: 5m", &[], &[]).await;
    let long = "c".repeat(4097);
    idp.add_reference_token(&long, active(&idp, "mallory", json!({})));
    assert_invalid_token(&bearer(&gw, "/", &long).await, "api", "4097 bytes");
    assert_eq!(idp.hits(Endpoint::Introspection), 0);
}

#[tokio::test]
async fn uncached_userinfo_completion_is_capped_too() {
    let (idp, gw) = bed(
        "cache_ttl: 5m",
        &["userinfo: always"],
        &["userinfo_rate_limit: { rate: 1/h, burst: 1 }"],
    )
    .await;
    let alice = idp.sign(user(&idp, "alice", json!({})));
    assert_eq!(bearer(&gw, "/", &alice).await.status, 200);
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
    let bob = idp.sign(user(&idp, "bob", json!({})));
    let r = bearer(&gw, "/", &bob).await;
    assert_unavailable(&r, "userinfo capped");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 3000);
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
    assert_eq!(throttled(&gw, "userinfo").await, 1.0);
    // Alice's userinfo answer is cached: her requests are not capped.
    let r = bearer(&gw, "/", &alice).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
}
