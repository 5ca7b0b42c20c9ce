//! Reference tokens (RFC 7662, seeds 001/002): client authentication at the endpoint,
//! what counts as active, the positive and negative cache, coalescing, IdP failures as
//! 503s that are never cached, and the provider binding of cached results.

use std::time::Duration;

use serde_json::json;

use super::{active, standard_bed, user};
use crate::support::bearer::{
    assert_invalid_token, assert_unavailable, bearer, concurrent, config, poll, route, start_ready,
    ProviderYaml,
};
use crate::support::echo_upstream;
use crate::support::fake_idp::{now, ClientAuthSeen, Endpoint, FakeIdp, Mode};

#[tokio::test]
async fn active_reference_token_passes_with_basic_auth_and_role_groups() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let provider = ProviderYaml::default()
        .with("claims: { username: [preferred_username, sub], email: [email], groups: [role] }");
    let gw = start_ready(&config(
        &[provider.render(&idp)],
        &[route(
            "api",
            "/",
            up,
            &["allow: { groups: [admin], scopes: [api1.read] }"],
        )],
    ))
    .await;
    let token = idp.new_reference_token(active(
        &idp,
        "alice",
        json!({"role": ["user", "admin"], "email": "alice@example.com"}),
    ));
    let r = bearer(&gw, "/v1/things", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(r.echoed("x-auth-groups").as_deref(), Some("user,admin"));
    assert_eq!(r.echoed("x-auth-subject").as_deref(), Some("sub-alice"));
    assert_eq!(
        idp.last_introspection_auth(),
        Some(ClientAuthSeen::Basic("api1".into(), "api1-secret".into())),
        "client_secret_basic is the default"
    );
    // Cached: a second request makes no second call.
    assert_eq!(bearer(&gw, "/v1/things", &token).await.status, 200);
    assert_eq!(idp.hits(Endpoint::Introspection), 1);
}

#[tokio::test]
async fn client_secret_post_is_used_when_configured() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let provider = ProviderYaml {
        introspection: Some(
            "{ client_id: api1, client_secret: api1-secret, auth_method: client_secret_post }"
                .into(),
        ),
        ..ProviderYaml::default()
    };
    let gw = start_ready(&config(
        &[provider.render(&idp)],
        &[route("api", "/", up, &[])],
    ))
    .await;
    let token = idp.new_reference_token(active(&idp, "bob", json!({})));
    assert_eq!(bearer(&gw, "/", &token).await.status, 200);
    assert_eq!(
        idp.last_introspection_auth(),
        Some(ClientAuthSeen::Post("api1".into(), "api1-secret".into()))
    );
}

#[tokio::test]
async fn only_a_boolean_true_active_within_its_lifetime_counts() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let t = now();
    let cases = [
        ("inactive", json!({"active": false})),
        (
            "active as a string",
            active(&idp, "m", json!({"active": "true"})),
        ),
        (
            "active as a number",
            active(&idp, "m", json!({"active": 1})),
        ),
        ("active missing", active(&idp, "m", json!({"active": null}))),
        ("expired exp", active(&idp, "m", json!({"exp": t - 3600}))),
        (
            "exp as a string",
            active(&idp, "m", json!({"exp": (t + 300).to_string()})),
        ),
        (
            "nbf in the future",
            active(&idp, "m", json!({"nbf": t + 3600})),
        ),
        ("wrong aud", active(&idp, "m", json!({"aud": "other-api"}))),
        (
            "aud array without ours",
            active(&idp, "m", json!({"aud": ["x", "y"]})),
        ),
        (
            "wrong iss",
            active(&idp, "m", json!({"iss": "https://evil.example.com"})),
        ),
    ];
    for (what, body) in cases {
        let token = idp.new_reference_token(body);
        assert_invalid_token(&bearer(&gw, "/", &token).await, "api", what);
    }
    // An unknown token is inactive, and the negative result is cached.
    let before = idp.hits(Endpoint::Introspection);
    for _ in 0..3 {
        assert_invalid_token(&bearer(&gw, "/", "never-issued").await, "api", "unknown");
    }
    assert_eq!(idp.hits(Endpoint::Introspection), before + 1);
    // Accepted variants: aud array containing ours, aud absent.
    for (what, body) in [
        (
            "aud array with ours",
            active(&idp, "ok", json!({"aud": ["x", "api1"]})),
        ),
        ("no aud", active(&idp, "ok", json!({"aud": null}))),
        (
            "exp beyond any Duration",
            active(&idp, "ok", json!({"exp": 1e20})),
        ),
    ] {
        let token = idp.new_reference_token(body);
        let r = bearer(&gw, "/", &token).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text());
    }
}

#[tokio::test]
async fn hundred_concurrent_requests_with_a_new_token_make_one_introspection_call() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let token = idp.new_reference_token(active(&idp, "alice", json!({})));
    idp.hold(Endpoint::Introspection);
    let url = format!("{}/", gw.url);
    let auths = vec![format!("Bearer {token}"); 100];
    let all = tokio::spawn(async move { concurrent(&url, auths).await });
    assert!(idp.wait_for_hits(Endpoint::Introspection, 1).await);
    // Every request has entered the gateway (they all wait on the held call)…
    let gw_ref = &gw;
    let inside = poll(Duration::from_secs(10), || async move {
        gw_ref.metric("portcullis_requests_in_flight").await >= 100.0
    })
    .await;
    assert!(inside, "the 100 requests never were in flight together");
    // …and still only one call reached the provider.
    assert_eq!(idp.hits(Endpoint::Introspection), 1);
    idp.release(Endpoint::Introspection);
    for r in all.await.expect("join") {
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
    }
    assert_eq!(idp.hits(Endpoint::Introspection), 1);
}

#[tokio::test]
async fn idp_failures_are_503_and_never_cached() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    for mode in [
        Mode::Error500,
        Mode::NotJson,
        Mode::Unauthorized,
        Mode::Unavailable,
        Mode::Down,
    ] {
        let token = idp.new_reference_token(active(&idp, "alice", json!({})));
        idp.set_mode(Endpoint::Introspection, mode);
        let before = idp.hits(Endpoint::Introspection);
        assert_unavailable(&bearer(&gw, "/", &token).await, &format!("{mode:?}"));
        // Asked again (not cached), still failing.
        assert_unavailable(&bearer(&gw, "/", &token).await, &format!("{mode:?} again"));
        assert!(
            idp.hits(Endpoint::Introspection) >= before + 2,
            "{mode:?} was cached"
        );
        idp.set_mode(Endpoint::Introspection, Mode::Normal);
        let r = bearer(&gw, "/", &token).await;
        assert_eq!(r.status, 200, "{mode:?} then recovery: {}", r.text());
    }
}

#[tokio::test]
async fn a_token_of_provider_a_is_refused_on_a_route_of_provider_b() {
    let a = FakeIdp::start().await;
    let b = FakeIdp::start().await;
    let up = echo_upstream().await;
    let gw = start_ready(&config(
        &[
            ProviderYaml::named("a").render(&a),
            ProviderYaml::named("b").render(&b),
        ],
        &[
            route("route-a", "/a", up, &["provider: a"]),
            route("route-b", "/b", up, &["provider: b"]),
        ],
    ))
    .await;
    // A reference token known to A only; B answers inactive for it.
    let token = a.new_reference_token(active(&a, "alice", json!({})));
    let r = bearer(&gw, "/a/x", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(a.hits(Endpoint::Introspection), 1);
    // A's result is cached now; it must not answer for B.
    assert_invalid_token(
        &bearer(&gw, "/b/x", &token).await,
        "route-b",
        "A's token on B",
    );
    assert_eq!(b.hits(Endpoint::Introspection), 1, "B was not asked");
    assert_invalid_token(&bearer(&gw, "/b/x", &token).await, "route-b", "again");
    assert_eq!(bearer(&gw, "/a/x", &token).await.status, 200);
    assert_eq!(a.hits(Endpoint::Introspection), 1, "A's result was cached");
    // Same for JWTs: A's signature and issuer mean nothing to B.
    let jwt = a.sign(user(&a, "alice", json!({})));
    assert_eq!(bearer(&gw, "/a/x", &jwt).await.status, 200);
    assert_invalid_token(&bearer(&gw, "/b/x", &jwt).await, "route-b", "A's JWT on B");
}

#[tokio::test]
async fn jwts_are_introspected_only_with_jwt_fallback() {
    // Without fallback a JWT with an unknown kid is refused locally, no introspection.
    let (idp, _up, gw) = standard_bed(&[]).await;
    let foreign = idp.token_signed_by_stranger(user(&idp, "alice", json!({})));
    assert_invalid_token(&bearer(&gw, "/", &foreign).await, "api", "no fallback");
    assert_eq!(idp.hits(Endpoint::Introspection), 0);

    // With jwt_fallback, a JWT no local key fits is introspected.
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let provider = ProviderYaml {
        introspection: Some(
            "{ client_id: api1, client_secret: api1-secret, jwt_fallback: true }".into(),
        ),
        ..ProviderYaml::default()
    };
    let gw = start_ready(&config(
        &[provider.render(&idp)],
        &[route("api", "/", up, &[])],
    ))
    .await;
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("kid-from-another-issuer".into());
    let jwt = idp.sign_with_header(h, user(&idp, "alice", json!({})));
    idp.add_reference_token(&jwt, active(&idp, "alice", json!({})));
    let r = bearer(&gw, "/", &jwt).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.hits(Endpoint::Introspection), 1);
    // A bad signature under a KNOWN kid is not "unknown key": refused, not introspected.
    let forged = idp.token_signed_by_stranger(user(&idp, "mallory", json!({})));
    assert_invalid_token(
        &bearer(&gw, "/", &forged).await,
        "api",
        "stranger, known kid",
    );
    assert_eq!(idp.hits(Endpoint::Introspection), 1);
}

#[tokio::test]
async fn an_unsigned_jwt_is_refused_without_asking_the_introspection_endpoint() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let (idp, _up, gw) = standard_bed(&[]).await;
    // `alg: none`, empty signature: not JWT-shaped for the local check (no signature),
    // so it used to go to introspection as if it were a reference token. Even an IdP
    // that (wrongly) calls it active must not get the chance.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(user(&idp, "mallory", json!({})).to_string());
    let unsigned = format!("{header}.{payload}.");
    idp.add_reference_token(&unsigned, active(&idp, "mallory", json!({})));
    assert_invalid_token(&bearer(&gw, "/", &unsigned).await, "api", "alg none");
    assert_eq!(idp.hits(Endpoint::Introspection), 0);
}

#[tokio::test]
async fn an_active_refresh_or_id_token_is_no_api_credential() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    // Refresh tokens live for days: an IdP that introspects them as active must not turn
    // them into API credentials.
    for (what, extra) in [
        ("refresh token", json!({"token_type": "refresh_token"})),
        (
            "RFC 8693 refresh token",
            json!({"token_type": "urn:ietf:params:oauth:token-type:refresh_token"}),
        ),
        ("ID token", json!({"token_type": "id_token"})),
        ("Keycloak refresh token", json!({"typ": "Refresh"})),
        ("Ory refresh token", json!({"token_use": "refresh_token"})),
    ] {
        let token = idp.new_reference_token(active(&idp, "alice", extra));
        assert_invalid_token(&bearer(&gw, "/", &token).await, "api", what);
    }
    let token = idp.new_reference_token(active(&idp, "alice", json!({"token_type": "Bearer"})));
    assert_eq!(bearer(&gw, "/", &token).await.status, 200);
}
