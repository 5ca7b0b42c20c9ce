//! The JWKS cache through the gateway: key rotation without restart, the refetch rate
//! limit under a flood of unknown kids, no refetch for another issuer's tokens, and stale
//! keys serving while the IdP is down.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Header};
use serde_json::json;

use super::{active, standard_bed, user};
use crate::support::bearer::{
    assert_invalid_token, assert_unavailable, bearer, concurrent, config, poll, route, start_ready,
    ProviderYaml,
};
use crate::support::echo_upstream;
use crate::support::fake_idp::{Endpoint, FakeIdp, Mode};

#[tokio::test]
async fn rotated_keys_are_picked_up_without_restart() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    // A tiny refetch interval: this test is about rotation, not the rate limit.
    let provider = ProviderYaml {
        refetch: "1ms".into(),
        ..ProviderYaml::default()
    };
    let gw = start_ready(&config(
        &[provider.render(&idp)],
        &[route("api", "/", up, &[])],
    ))
    .await;
    let old_kid = idp.kid();
    let r = bearer(&gw, "/", &idp.sign(user(&idp, "alice", json!({})))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let fetches = idp.hits(Endpoint::Jwks);

    let new_kid = idp.rotate();
    assert_ne!(new_kid, old_kid);
    let fresh = idp.sign(user(&idp, "carol", json!({})));
    let (gw_ref, token) = (&gw, fresh.as_str());
    let accepted = poll(Duration::from_secs(10), || async move {
        bearer(gw_ref, "/", token).await.status == 200
    })
    .await;
    assert!(accepted, "token with the rotated-in kid never accepted");
    assert!(idp.hits(Endpoint::Jwks) > fetches, "JWKS was not refetched");
    let r = bearer(&gw, "/", &fresh).await;
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("carol"));

    // The old key left the JWKS: a token it signs (never seen before) is refused now.
    let stale = idp.sign_with_kid(&old_kid, user(&idp, "dave", json!({})));
    assert_invalid_token(&bearer(&gw, "/", &stale).await, "api", "retired kid");
}

#[tokio::test]
async fn concurrent_refetches_for_a_rotated_key_coalesce_into_one_request() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let provider = ProviderYaml {
        refetch: "1ms".into(),
        ..ProviderYaml::default()
    };
    let gw = start_ready(&config(
        &[provider.render(&idp)],
        &[route("api", "/", up, &[])],
    ))
    .await;
    let base = idp.hits(Endpoint::Jwks);
    idp.rotate();
    idp.hold(Endpoint::Jwks);
    let auths = (0..50)
        .map(|i| {
            format!(
                "Bearer {}",
                idp.sign(user(&idp, &format!("u{i}"), json!({})))
            )
        })
        .collect();
    let url = format!("{}/", gw.url);
    let all = tokio::spawn(async move { concurrent(&url, auths).await });
    assert!(idp.wait_for_hits(Endpoint::Jwks, base + 1).await);
    let gw_ref = &gw;
    let inside = poll(Duration::from_secs(10), || async move {
        gw_ref.metric("portcullis_requests_in_flight").await >= 50.0
    })
    .await;
    assert!(inside, "the 50 requests never were in flight together");
    // Fifty requests need the new key; while the one fetch is held, no other starts.
    assert_eq!(idp.hits(Endpoint::Jwks), base + 1);
    idp.release(Endpoint::Jwks);
    for r in all.await.expect("join") {
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[tokio::test]
async fn unknown_kid_flood_fetches_the_jwks_at_most_once_per_interval() {
    // Standard provider: jwks_refetch_interval 1h, so the whole test is one interval.
    let (idp, _up, gw) = standard_bed(&[]).await;
    let r = bearer(&gw, "/", &idp.sign(user(&idp, "alice", json!({})))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let warm = idp.hits(Endpoint::Jwks);
    assert!(warm >= 1, "keys were loaded");

    let unknown = |i: usize| {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(format!("flood-{i}"));
        idp.sign_with_header(h, user(&idp, "mallory", json!({})))
    };
    // One after the other (no coalescing can hide a missing rate limit)…
    for i in 0..50 {
        assert_invalid_token(&bearer(&gw, "/", &unknown(i)).await, "api", "unknown kid");
    }
    // …and all at once.
    let auths = (50..100)
        .map(|i| format!("Bearer {}", unknown(i)))
        .collect();
    for r in concurrent(&format!("{}/", gw.url), auths).await {
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let extra = idp.hits(Endpoint::Jwks) - warm;
    assert!(
        extra <= 1,
        "{extra} JWKS fetches for 100 unknown kids in one interval"
    );
    // Known keys are unaffected by the flood.
    let r = bearer(&gw, "/", &idp.sign_es256(user(&idp, "bob", json!({})))).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn idp_down_after_warm_up_keeps_jwts_valid_but_introspection_is_503() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let known_ref = idp.new_reference_token(active(&idp, "erin", json!({})));
    assert_eq!(bearer(&gw, "/", &known_ref).await.status, 200);
    let r = bearer(&gw, "/", &idp.sign(user(&idp, "alice", json!({})))).await;
    assert_eq!(r.status, 200, "{}", r.text());

    idp.set_all_modes(Mode::Down);
    // Tokens never seen before (not in the verified-token cache) verify with cached keys.
    for token in [
        idp.sign(user(&idp, "frank", json!({}))),
        idp.sign_es256(user(&idp, "frank", json!({}))),
    ] {
        let r = bearer(&gw, "/", &token).await;
        assert_eq!(r.status, 200, "JWT while the IdP is down: {}", r.text());
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("frank"));
    }
    // A new reference token cannot be introspected: 503 + Retry-After, never 401.
    let new_ref = idp.new_reference_token(active(&idp, "gina", json!({})));
    assert_unavailable(
        &bearer(&gw, "/", &new_ref).await,
        "introspection while down",
    );
    // An already-introspected token is answered from the cache.
    let r = bearer(&gw, "/", &known_ref).await;
    assert_eq!(
        r.status,
        200,
        "cached introspection while down: {}",
        r.text()
    );

    // The failure was not cached: once the IdP is back the same token passes.
    idp.set_all_modes(Mode::Normal);
    let r = bearer(&gw, "/", &new_ref).await;
    assert_eq!(r.status, 200, "after recovery: {}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("gina"));
}

#[tokio::test]
async fn a_jwt_of_another_provider_never_makes_this_provider_refetch_its_jwks() {
    let a = FakeIdp::start().await;
    let b = FakeIdp::start().await;
    let up = echo_upstream().await;
    // B may refetch as often as it likes: only the issuer check keeps it quiet.
    let b_yaml = ProviderYaml {
        refetch: "1ms".into(),
        ..ProviderYaml::named("b")
    };
    let gw = start_ready(&config(
        &[ProviderYaml::named("a").render(&a), b_yaml.render(&b)],
        &[
            route("route-a", "/a", up, &["provider: a"]),
            route("route-b", "/b", up, &["provider: b"]),
        ],
    ))
    .await;
    let b_fetches = b.hits(Endpoint::Jwks);
    for i in 0..5 {
        // A's kid is unknown to B: before the issuer check, each one cost B a refetch.
        let jwt = a.sign(user(&a, &format!("u{i}"), json!({})));
        assert_eq!(bearer(&gw, "/a/x", &jwt).await.status, 200);
        assert_invalid_token(&bearer(&gw, "/b/x", &jwt).await, "route-b", "A's JWT on B");
    }
    assert_eq!(
        b.hits(Endpoint::Jwks),
        b_fetches,
        "B refetched for A's tokens"
    );
    assert_eq!(b.hits(Endpoint::Introspection), 0);
    // B's own tokens, even with a kid it must refetch for, still work.
    b.rotate();
    let own = b.sign(user(&b, "bob", json!({})));
    assert_eq!(bearer(&gw, "/b/x", &own).await.status, 200);
    assert_eq!(b.hits(Endpoint::Jwks), b_fetches + 1);
}
