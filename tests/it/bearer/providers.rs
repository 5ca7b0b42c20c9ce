//! Providers at run time: `/readyz` until discovery succeeded, isolation between providers
//! (one failing never takes down another's routes), issuer checks, userinfo completion,
//! and the auth/IdP metrics.

use std::time::Duration;

use serde_json::json;

use super::{active, standard_bed, user};
use crate::support::bearer::{
    anonymous, assert_bare_challenge, assert_invalid_token, assert_unavailable, bearer, config,
    poll, route, standard, start_ready, wait_ready, with_auth, ProviderYaml,
};
use crate::support::client::get;
use crate::support::fake_idp::{Endpoint, FakeIdp, Mode};
use crate::support::{echo_upstream, TestGateway};

async fn readyz(gw: &TestGateway) -> (u16, String) {
    let r = get(&format!("{}/readyz", gw.admin_url), &[]).await;
    (r.status.as_u16(), r.text())
}

#[tokio::test]
async fn readyz_is_503_until_the_provider_is_discovered() {
    let idp = FakeIdp::start().await;
    idp.set_all_modes(Mode::Down);
    let up = echo_upstream().await;
    let gw = TestGateway::start(&standard(&idp, up, &[])).await;
    assert!(idp.wait_for_hits(Endpoint::Discovery, 1).await);
    let (status, body) = readyz(&gw).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("idp"), "{body}");
    // Before discovery a token cannot be judged: 503 + Retry-After, never 401.
    let token = idp.sign(user(&idp, "alice", json!({})));
    assert_unavailable(&bearer(&gw, "/", &token).await, "undiscovered provider");
    // No credentials at all is still the client's problem.
    assert_bare_challenge(&anonymous(&gw, "/").await, "api", "no token");
    let ready = r#"portcullis_provider_ready{provider="idp"}"#;
    assert!(gw.metrics().await.contains(&format!("{ready} 0\n")));

    idp.set_all_modes(Mode::Normal);
    wait_ready(&gw).await;
    let r = bearer(&gw, "/", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(idp.hits(Endpoint::Discovery) >= 2, "discovery was retried");
    assert!(gw.metrics().await.contains(&format!("{ready} 1\n")));
}

#[tokio::test]
async fn one_failing_provider_never_takes_down_another() {
    let good = FakeIdp::start().await;
    let down = FakeIdp::start().await;
    down.set_all_modes(Mode::Down);
    let nokeys = FakeIdp::start().await;
    nokeys.set_mode(Endpoint::Jwks, Mode::Error500);
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(
        &[
            ProviderYaml::named("good").render(&good),
            ProviderYaml::named("down").render(&down),
            ProviderYaml::named("nokeys").render(&nokeys),
        ],
        &[
            route("good", "/good", up, &["provider: good"]),
            route("down", "/down", up, &["provider: down"]),
            route("nokeys", "/nokeys", up, &["provider: nokeys"]),
        ],
    ))
    .await;
    let token = good.sign(user(&good, "alice", json!({})));
    let (gw_ref, tok) = (&gw, token.as_str());
    let served = poll(Duration::from_secs(20), || async move {
        bearer(gw_ref, "/good/x", tok).await.status == 200
    })
    .await;
    assert!(served, "the healthy provider's route never served");
    let reference = good.new_reference_token(active(&good, "bob", json!({})));
    assert_eq!(bearer(&gw, "/good/x", &reference).await.status, 200);

    // The undiscovered provider's route answers 503, and readiness names it.
    let t = down.sign(user(&down, "carol", json!({})));
    assert_unavailable(&bearer(&gw, "/down/x", &t).await, "undiscovered provider");
    let (status, body) = readyz(&gw).await;
    assert_eq!(status, 503);
    assert!(body.contains("down"), "{body}");
    // Discovered but no JWKS: its JWTs get 503 too (an IdP problem, not a bad token).
    assert!(nokeys.wait_for_hits(Endpoint::Jwks, 1).await);
    let t = nokeys.sign(user(&nokeys, "dan", json!({})));
    assert_unavailable(&bearer(&gw, "/nokeys/x", &t).await, "no JWKS yet");
    // The healthy provider is unaffected throughout.
    assert_eq!(bearer(&gw, "/good/x", &token).await.status, 200);
    let m = gw.metrics().await;
    for series in [
        r#"portcullis_jwks_fetches_total{provider="good",result="ok"} 1"#,
        r#"portcullis_jwks_fetches_total{provider="nokeys",result="error"} 1"#,
    ] {
        assert!(m.contains(series), "no `{series}` in:\n{m}");
    }
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_never_accepted() {
    let idp = FakeIdp::start().await;
    idp.set_discovery_patch(json!({"issuer": "https://evil.example.com"}));
    let up = echo_upstream().await;
    let gw = TestGateway::start(&standard(&idp, up, &[])).await;
    // Two attempts: the first answer was seen and refused, and it was retried.
    assert!(idp.wait_for_hits(Endpoint::Discovery, 2).await);
    assert_eq!(readyz(&gw).await.0, 503);
    let token = idp.sign(user(&idp, "alice", json!({})));
    assert_unavailable(&bearer(&gw, "/", &token).await, "issuer mismatch");
    assert_eq!(
        idp.hits(Endpoint::Jwks),
        0,
        "keys fetched for a refused document"
    );
}

#[tokio::test]
async fn userinfo_completes_a_missing_preferred_username() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let token = idp.sign(user(&idp, "x", json!({"preferred_username": null})));
    idp.add_userinfo(
        &token,
        json!({"sub": "sub-x", "preferred_username": "xavier", "email": "other@evil.com"}),
    );
    let r = bearer(&gw, "/", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("xavier"));
    assert_eq!(
        r.echoed("x-auth-email").as_deref(),
        Some("x@example.com"),
        "signed token claims win over userinfo"
    );
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
    assert_eq!(bearer(&gw, "/", &token).await.status, 200);
    assert_eq!(
        idp.hits(Endpoint::Userinfo),
        1,
        "userinfo is cached per token"
    );

    // A token that names its user needs no userinfo call.
    let named = idp.sign(user(&idp, "yann", json!({})));
    assert_eq!(bearer(&gw, "/", &named).await.status, 200);
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);

    // Userinfo about someone else is refused.
    let t = idp.sign(user(&idp, "z", json!({"preferred_username": null})));
    idp.add_userinfo(
        &t,
        json!({"sub": "sub-admin", "preferred_username": "admin"}),
    );
    assert_invalid_token(&bearer(&gw, "/", &t).await, "api", "userinfo sub mismatch");

    // `auto` is best effort: with userinfo failing, the token's fallback claim is used.
    idp.set_mode(Endpoint::Userinfo, Mode::Error500);
    let t = idp.sign(user(&idp, "w", json!({"preferred_username": null})));
    let r = bearer(&gw, "/", &t).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("w@example.com"));
}

#[tokio::test]
async fn userinfo_always_is_required() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let gw = start_ready(&config(
        &[ProviderYaml::default()
            .with("userinfo: always")
            .render(&idp)],
        &[route("api", "/", up, &[])],
    ))
    .await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    idp.add_userinfo(&token, json!({"sub": "sub-alice", "department": "R&D"}));
    let r = bearer(&gw, "/", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
    idp.set_mode(Endpoint::Userinfo, Mode::Error500);
    let other = idp.sign(user(&idp, "bob", json!({})));
    assert_unavailable(&bearer(&gw, "/", &other).await, "userinfo down, always");
}

#[tokio::test]
async fn auth_outcomes_and_idp_calls_are_counted() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    for _ in 0..2 {
        assert_eq!(bearer(&gw, "/", &token).await.status, 200);
    }
    let reference = idp.new_reference_token(active(&idp, "bob", json!({})));
    for _ in 0..2 {
        assert_eq!(bearer(&gw, "/", &reference).await.status, 200);
    }
    assert_eq!(anonymous(&gw, "/").await.status, 401);
    assert_eq!(with_auth(&gw, "/", "Bearer a b").await.status, 400);
    let expired = idp.sign(user(&idp, "alice", json!({"exp": 1})));
    assert_eq!(bearer(&gw, "/", &expired).await.status, 401);
    idp.set_mode(Endpoint::Introspection, Mode::Error500);
    let unlucky = idp.new_reference_token(active(&idp, "carol", json!({})));
    assert_eq!(bearer(&gw, "/", &unlucky).await.status, 503);

    let m = gw.metrics().await;
    for (series, value) in [
        (
            r#"portcullis_auth_total{method="bearer",outcome="ok",route="api"}"#,
            4,
        ),
        (
            r#"portcullis_auth_total{method="bearer",outcome="missing",route="api"}"#,
            1,
        ),
        (
            r#"portcullis_auth_total{method="bearer",outcome="malformed",route="api"}"#,
            1,
        ),
        (
            r#"portcullis_auth_total{method="bearer",outcome="invalid",route="api"}"#,
            1,
        ),
        (
            r#"portcullis_auth_total{method="bearer",outcome="idp_unavailable",route="api"}"#,
            1,
        ),
        (
            r#"portcullis_jwks_fetches_total{provider="idp",result="ok"}"#,
            1,
        ),
        (
            r#"portcullis_introspections_total{provider="idp",result="active"}"#,
            1,
        ),
        (
            r#"portcullis_introspections_total{provider="idp",result="error"}"#,
            1,
        ),
        (
            r#"portcullis_token_cache_total{cache="introspection",provider="idp",result="hit"}"#,
            1,
        ),
        (
            r#"portcullis_token_cache_total{cache="jwt",provider="idp",result="hit"}"#,
            1,
        ),
        (
            r#"portcullis_idp_request_duration_seconds_count{endpoint="introspection",provider="idp"}"#,
            2,
        ),
    ] {
        assert!(
            m.contains(&format!("{series} {value}\n")),
            "{series} != {value} in:\n{m}"
        );
    }
    assert!(!m.contains(&token), "a token leaked into the metrics");
}

#[tokio::test]
async fn a_provider_used_only_by_bearer_routes_needs_no_client_secret() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    // `api-idp` has no client_secret (client_auth stays the default client_secret_basic);
    // `sso`, which a session route signs browsers in with, has one.
    let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let yaml = format!(
        "providers:\n  - name: api-idp\n    issuer: \"{iss}\"\n    client_id: gateway-api\n    \
         tokens: {{ audiences: [api1] }}\n  - name: sso\n    issuer: \"{iss}\"\n    \
         client_id: portcullis\n    client_secret: client-secret\n\
         session: {{ secrets: [\"{key}\"] }}\nroutes:\n{}{}",
        route("api", "/", up, &["provider: api-idp"]),
        route("app", "/app/", up, &["auth: session", "provider: sso"]),
        iss = idp.issuer(),
    );
    let gw = start_ready(&yaml).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    let r = bearer(&gw, "/v1/x", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
    // A sign-in can never start with the provider that has no credentials for it…
    let start = format!("{}/oauth2/start", gw.url);
    assert_eq!(
        get(&format!("{start}?provider=api-idp"), &[]).await.status,
        400
    );
    // … not even through a return path whose route uses it: the one that can sign in does.
    let r = get(&format!("{start}?rd=%2Fv1%2Fx"), &[]).await;
    assert_eq!(r.status, 302, "{}", r.text());
    let location = r.header("location").unwrap_or_default().to_owned();
    assert!(location.contains("client_id=portcullis"), "{location}");
}
