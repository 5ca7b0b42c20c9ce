//! JWT validation: good RS256/ES256 tokens, the `Token` scheme with an ID token (seed 000),
//! and every hostile or broken token the issue names, each refused with
//! `401 Bearer realm="api", error="invalid_token"` and never forwarded.

use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Value};

use super::{standard_bed, user};
use crate::support::bearer::{
    assert_invalid_token, assert_invalid_token_challenge, bearer, config, route, start_ready,
    with_auth, ProviderYaml,
};
use crate::support::echo_upstream;
use crate::support::fake_idp::{now, Endpoint, FakeIdp, FakeIdpOptions};

#[tokio::test]
async fn valid_rs256_and_es256_tokens_reach_the_upstream_with_identity_headers() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let claims = user(&idp, "alice", json!({"groups": ["staff", "admins"]}));
    for (alg, token) in [
        ("RS256", idp.sign(claims.clone())),
        ("ES256", idp.sign_es256(claims.clone())),
    ] {
        let r = bearer(&gw, "/orders/1", &token).await;
        assert_eq!(r.status, 200, "{alg}: {}", r.text());
        assert_eq!(r.echoed_path(), "/orders/1");
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"), "{alg}");
        assert_eq!(
            r.echoed("x-auth-email").as_deref(),
            Some("alice@example.com"),
            "{alg}"
        );
        assert_eq!(
            r.echoed("x-auth-groups").as_deref(),
            Some("staff,admins"),
            "{alg}"
        );
        assert_eq!(
            r.echoed("x-auth-subject").as_deref(),
            Some("sub-alice"),
            "{alg}"
        );
        // forward_authorization defaults to true.
        assert_eq!(
            r.echoed("authorization"),
            Some(format!("Bearer {token}")),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn token_scheme_with_an_id_token_on_a_non_standard_discovery_path() {
    // Seed 000: discovery at /authentication/.well-known/oidc-configuration, RS256 only,
    // clients send `Authorization: Token <ID token>` whose aud is the client id.
    let idp = FakeIdp::start_with(FakeIdpOptions::teamwork()).await;
    assert!(idp
        .discovery_url()
        .ends_with("/authentication/.well-known/oidc-configuration"));
    let up = echo_upstream().await;
    let provider = ProviderYaml {
        name: "teamwork".into(),
        client_id: "twc-client".into(),
        schemes: "[Token]".into(),
        audiences: "[twc-client]".into(),
        introspection: None,
        ..ProviderYaml::default()
    }
    .with("signing_algs: [RS256]")
    .with("client_auth: client_secret_basic");
    let gw = start_ready(&config(
        &[provider.render(&idp)],
        &[route("twc", "/", up, &[])],
    ))
    .await;
    let id_token = idp.sign(idp.claims_for(
        "u-42",
        "twc-client",
        json!({"preferred_username": "jdoe", "email": "jdoe@example.com",
               "nonce": "n-1", "azp": "twc-client", "auth_time": now()}),
    ));
    for scheme in ["Token", "token", "TOKEN"] {
        let r = with_auth(&gw, "/osmc/workspaces", &format!("{scheme} {id_token}")).await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.text());
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("jdoe"));
        assert_eq!(r.echoed("x-auth-subject").as_deref(), Some("u-42"));
    }
    // Bearer is not a configured scheme here: no usable credentials → a bare challenge
    // that names the scheme the route does accept.
    let r = with_auth(&gw, "/osmc/workspaces", &format!("Bearer {id_token}")).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("www-authenticate"), Some(r#"Token realm="twc""#));
    // RS256 only: the provider's EC key is published, but ES256 is not allowed.
    let es = idp.sign_es256(idp.claims_for("u-42", "twc-client", json!({})));
    let r = with_auth(&gw, "/osmc/workspaces", &format!("Token {es}")).await;
    assert_invalid_token_challenge(&r, "Token", "twc", "ES256 on an RS256-only provider");
    // An ID token for another client is not an API token for this one.
    let other = idp.sign(idp.claims_for("u-42", "someone-else", json!({})));
    let r = with_auth(&gw, "/osmc/workspaces", &format!("Token {other}")).await;
    assert_invalid_token_challenge(&r, "Token", "twc", "aud of another client");
}

#[tokio::test]
async fn alg_none_in_every_casing_is_refused() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let claims = user(&idp, "alice", json!({}));
    for alg in ["none", "None", "NONE", "nOnE", "NoNe"] {
        let token = idp.token_alg_none(claims.clone(), alg);
        assert_invalid_token(&bearer(&gw, "/", &token).await, "api", alg);
        // Also with a made-up signature in the third part.
        let forged = format!("{}c2lnbmF0dXJl", token);
        assert_invalid_token(&bearer(&gw, "/", &forged).await, "api", alg);
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused_in_every_form() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let claims = user(&idp, "alice", json!({}));
    let tokens = idp.hs256_public_key_variants(claims);
    assert_eq!(tokens.len(), 6);
    for (i, token) in tokens.iter().enumerate() {
        assert_invalid_token(&bearer(&gw, "/", token).await, "api", &format!("form {i}"));
    }
}

#[tokio::test]
async fn keys_named_or_carried_by_the_token_are_never_used() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let claims = user(&idp, "mallory", json!({}));
    let cases = [
        ("kid not in JWKS", {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("no-such-kid".into());
            idp.sign_with_header(h, claims.clone())
        }),
        (
            "embedded jwk, attacker kid",
            idp.token_with_embedded_jwk(claims.clone(), false),
        ),
        (
            "embedded jwk, provider kid",
            idp.token_with_embedded_jwk(claims.clone(), true),
        ),
        ("jku/x5u header", idp.token_with_jku(claims.clone())),
        (
            "stranger key with provider kid",
            idp.token_signed_by_stranger(claims.clone()),
        ),
    ];
    for (what, token) in &cases {
        let r = bearer(&gw, "/", token).await;
        assert_invalid_token(&r, "api", what);
        assert!(!r.text().contains(token.as_str()), "{what}: token echoed");
    }
    assert_eq!(
        idp.hits(Endpoint::AttackerJwks),
        0,
        "the attacker's jku URL was fetched"
    );
    // The provider's own key still works on the same gateway.
    assert_eq!(bearer(&gw, "/", &idp.sign(claims)).await.status, 200);
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let good = idp.sign(user(&idp, "bob", json!({})));
    assert_eq!(bearer(&gw, "/", &good).await.status, 200);
    for patch in [
        json!({"preferred_username": "admin"}),
        json!({"groups": ["admins"]}),
        json!({"exp": now() + 86_400}),
        json!({"sub": "sub-alice"}),
    ] {
        let forged = FakeIdp::tamper(&good, patch.clone());
        assert_invalid_token(&bearer(&gw, "/", &forged).await, "api", &patch.to_string());
    }
}

#[tokio::test]
async fn time_claims_are_enforced_with_leeway() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let t = now();
    let refused: [(&str, Value); 7] = [
        ("expired", json!({"iat": t - 7200, "exp": t - 3600})),
        ("expired beyond the 60 s leeway", json!({"exp": t - 120})),
        ("nbf in the future", json!({"nbf": t + 3600})),
        ("iat in the future", json!({"iat": t + 3600})),
        ("exp missing", json!({"exp": null})),
        ("exp as a string", json!({"exp": (t + 300).to_string()})),
        ("nbf as a string", json!({"nbf": "0"})),
    ];
    for (what, patch) in refused {
        let token = idp.sign(user(&idp, "alice", patch));
        assert_invalid_token(&bearer(&gw, "/", &token).await, "api", what);
    }
    // Within the leeway (60 s by default) is accepted: 30 s of margin either way.
    let skewed = user(
        &idp,
        "alice",
        json!({"exp": t - 30, "nbf": t + 30, "iat": t + 30}),
    );
    let r = bearer(&gw, "/", &idp.sign(skewed)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // An `exp` beyond any `Duration` is a valid number: accepted, and cached without a
    // panic (twice: verified, then from the cache).
    let far = idp.sign(user(&idp, "alice", json!({"exp": 1e20})));
    for _ in 0..2 {
        let r = bearer(&gw, "/", &far).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[tokio::test]
async fn issuer_and_audience_are_enforced() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let refused: [(&str, Value); 6] = [
        ("wrong iss", json!({"iss": "https://evil.example.com"})),
        (
            "iss with trailing slash",
            json!({"iss": format!("{}/", idp.issuer())}),
        ),
        ("iss missing", json!({"iss": null})),
        ("wrong aud", json!({"aud": "other-api"})),
        ("aud missing", json!({"aud": null})),
        (
            "aud array without ours",
            json!({"aud": ["other-api", "api"]}),
        ),
    ];
    for (what, patch) in refused {
        let token = idp.sign(user(&idp, "alice", patch));
        assert_invalid_token(&bearer(&gw, "/", &token).await, "api", what);
    }
    let token = idp.sign(user(&idp, "alice", json!({"aud": ["other-api", "api1"]})));
    let r = bearer(&gw, "/", &token).await;
    assert_eq!(r.status, 200, "aud array containing ours: {}", r.text());
}

#[tokio::test]
async fn jose_header_rules_crit_typ_and_missing_kid() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let claims = user(&idp, "alice", json!({}));
    let kid = idp.kid();
    for (what, header) in [
        (
            "unknown crit",
            json!({"alg": "RS256", "kid": kid, "crit": ["exp"], "exp": 1}),
        ),
        (
            "crit naming an extension",
            json!({"alg": "RS256", "kid": kid, "crit": ["http://example.com/ext"],
                   "http://example.com/ext": true}),
        ),
        (
            "alg HS256 label on an RSA signature",
            json!({"alg": "HS256", "kid": kid}),
        ),
        (
            "unknown typ",
            json!({"alg": "RS256", "kid": kid, "typ": "secevent+jwt"}),
        ),
    ] {
        let token = idp.token_with_raw_header(header, claims.clone());
        assert_invalid_token(&bearer(&gw, "/", &token).await, "api", what);
    }
    // The same raw builder with a clean header is accepted: only the header made the difference.
    let clean = idp.token_with_raw_header(json!({"alg": "RS256", "kid": kid}), claims.clone());
    assert_eq!(bearer(&gw, "/", &clean).await.status, 200);
    // RFC 9068 access tokens (`typ: at+jwt`) are accepted, not required.
    let at = idp.token_with_raw_header(
        json!({"alg": "RS256", "kid": kid, "typ": "at+jwt"}),
        claims.clone(),
    );
    assert_eq!(bearer(&gw, "/", &at).await.status, 200);
    // No kid: the JWKS holds exactly one RSA key, so RS256 without kid finds it.
    let no_kid = idp.sign_with_header(Header::new(Algorithm::RS256), claims);
    assert_eq!(bearer(&gw, "/", &no_kid).await.status, 200);
}

#[tokio::test]
async fn garbage_tokens_are_invalid_not_errors() {
    let (_idp, _up, gw) = standard_bed(&["provider: idp"]).await;
    for token in [
        "abc",
        "a.b.c",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        "eyJhbGciOiJSUzI1NiJ9..c2ln",
        "e30.e30.e30",
        "bm90IGpzb24.bm90IGpzb24.c2ln",
    ] {
        let r = bearer(&gw, "/", token).await;
        // Not JWT-shaped tokens go to introspection (unknown → inactive); both are 401.
        assert_invalid_token(&r, "api", token);
    }
}
