//! DPoP-bound tokens (RFC 9449) through the gateway: a fresh proof per request passes;
//! every check refuses its mismatch (htm, htu, iat, ath, jti replay, typ, alg, private
//! JWK, key binding), a bound token never passes as Bearer, `dpop: required` refuses
//! plain tokens, introspection answers carry `cnf` too (nonces and the origin without a
//! public URL: `dpop_nonce.rs`).

use serde_json::json;

use super::{call, challenge, server_head, PUBLIC};
use crate::support::bearer::{config, route, start_ready, ProviderYaml, AUD};
use crate::support::client::Resp;
use crate::support::dpop::{ath, DpopKey};
use crate::support::echo_upstream;
use crate::support::fake_idp::{now, FakeIdp};
use crate::support::TestGateway;

pub(super) async fn bed() -> (FakeIdp, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let provider = ProviderYaml::default()
        .with("dpop: allowed")
        .with("userinfo: never")
        .render(&idp);
    let yaml = server_head(Some(PUBLIC))
        + &config(
            &[provider],
            &[
                route("api", "/v1/", up, &[]),
                route("strict", "/strict/", up, &["dpop: required"]),
                route("nonce", "/nonce/", up, &["dpop_nonce: true"]),
                route("plain", "/plain/", up, &["dpop: off"]),
            ],
        );
    (idp, start_ready(&yaml).await)
}

/// A token of user `alice` bound to `key`.
pub(super) fn bound(idp: &FakeIdp, key: &DpopKey) -> String {
    let mut claims = idp.claims_for("sub-alice", AUD, json!({"preferred_username": "alice"}));
    claims["cnf"] = json!({"jkt": key.jkt});
    idp.sign(claims)
}

pub(super) async fn dpop_get(gw: &TestGateway, path: &str, token: &str, proof: &str) -> Resp {
    let auth = format!("DPoP {token}");
    call(
        gw,
        "GET",
        path,
        &[("authorization", &auth), ("dpop", proof)],
    )
    .await
}

#[track_caller]
pub(super) fn assert_proof_refused(r: &Resp, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text());
    let c = challenge(r);
    assert!(
        c.starts_with("DPoP realm=") && c.contains("error=\"invalid_dpop_proof\""),
        "{what}: {c}"
    );
    assert!(c.contains("algs=\"ES256 "), "{what}: {c}");
    assert_eq!(r.json()["error"], "invalid_dpop_proof", "{what}");
}

#[track_caller]
pub(super) fn assert_token_refused(r: &Resp, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text());
    assert!(
        challenge(r).contains("error=\"invalid_token\""),
        "{what}: {}",
        challenge(r)
    );
}

#[tokio::test]
async fn a_fresh_proof_per_request_passes_and_the_upstream_sees_the_user() {
    let (idp, gw) = bed().await;
    let key = DpopKey::new();
    let token = bound(&idp, &key);
    let htu = format!("{PUBLIC}/v1/orders");
    for _ in 0..3 {
        let r = dpop_get(&gw, "/v1/orders", &token, &key.proof("GET", &htu, &token)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
    }
    // The URI is compared without query and fragment, on either side (RFC 9449 §4.2).
    let proof = key.proof("GET", &format!("{htu}?page=2#x"), &token);
    assert_eq!(
        dpop_get(&gw, "/v1/orders", &token, &proof).await.status,
        200
    );
    let proof = key.proof("GET", &htu, &token);
    assert_eq!(
        dpop_get(&gw, "/v1/orders?page=3", &token, &proof)
            .await
            .status,
        200
    );
    // Normalised spellings of the same URI.
    let proof = key.proof("GET", "HTTPS://API.EXAMPLE.TEST:443/v1/./orders", &token);
    assert_eq!(
        dpop_get(&gw, "/v1/orders", &token, &proof).await.status,
        200
    );
    let ok = r#"portcullis_dpop_proofs_total{outcome="ok",route="api"}"#;
    assert_eq!(gw.metric(ok).await, 6.0);
}

#[tokio::test]
async fn every_check_refuses_its_mismatch() {
    let (idp, gw) = bed().await;
    let key = DpopKey::new();
    let token = bound(&idp, &key);
    let htu = format!("{PUBLIC}/v1/orders");
    let claims = |patch| key.claims("GET", &htu, &token, patch);
    let internal = format!("{}/v1/orders", gw.url);
    let cases: Vec<(&str, String)> = vec![
        ("wrong htm", key.proof("POST", &htu, &token)),
        (
            "wrong htu path",
            key.proof("GET", &format!("{PUBLIC}/v1/other"), &token),
        ),
        (
            "wrong htu host",
            key.proof("GET", "https://evil.example/v1/orders", &token),
        ),
        (
            "internal address as htu",
            key.proof("GET", &internal, &token),
        ),
        (
            "http instead of https",
            key.proof("GET", "http://api.example.test/v1/orders", &token),
        ),
        (
            "stale iat",
            key.proof_with(&key.header(), &claims(json!({"iat": now() - 600}))),
        ),
        (
            "future iat",
            key.proof_with(&key.header(), &claims(json!({"iat": now() + 600}))),
        ),
        (
            "wrong ath",
            key.proof_with(&key.header(), &claims(json!({"ath": ath("other")}))),
        ),
        (
            "no ath",
            key.proof_with(&key.header(), &claims(json!({"ath": null}))),
        ),
        (
            "no jti",
            key.proof_with(&key.header(), &claims(json!({"jti": null}))),
        ),
        ("HS256", key.hs256_proof(&claims(json!({})), b"guessable")),
        (
            "typ jwt",
            key.proof_with(
                &json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk}),
                &claims(json!({})),
            ),
        ),
        (
            "no jwk",
            key.proof_with(
                &json!({"typ": "dpop+jwt", "alg": "ES256"}),
                &claims(json!({})),
            ),
        ),
        ("not a JWS", "not-a-proof".to_owned()),
    ];
    for (what, proof) in &cases {
        assert_proof_refused(&dpop_get(&gw, "/v1/orders", &token, proof).await, what);
    }
    // A private member in the JWK.
    let mut private = key.header();
    private["jwk"]["d"] = json!("c2VjcmV0LWtleS1tYXRlcmlhbA");
    let proof = key.proof_with(&private, &claims(json!({})));
    assert_proof_refused(
        &dpop_get(&gw, "/v1/orders", &token, &proof).await,
        "private jwk",
    );
    // Signed by another key than the one in the header.
    let thief = DpopKey::new();
    let proof = thief.proof_with(&key.header(), &claims(json!({})));
    assert_proof_refused(
        &dpop_get(&gw, "/v1/orders", &token, &proof).await,
        "foreign signature",
    );
    // No proof, two proofs.
    let auth = format!("DPoP {token}");
    let r = call(&gw, "GET", "/v1/orders", &[("authorization", &auth)]).await;
    assert_proof_refused(&r, "no proof");
    let p = key.proof("GET", &htu, &token);
    let r = call(
        &gw,
        "GET",
        "/v1/orders",
        &[("authorization", &auth), ("dpop", &p), ("dpop", &p)],
    )
    .await;
    assert_proof_refused(&r, "two proofs");
    let label = |outcome: &str| {
        format!("portcullis_dpop_proofs_total{{outcome=\"{outcome}\",route=\"api\"}}")
    };
    for (outcome, n) in [
        ("htm", 1.0),
        ("htu", 4.0),
        ("iat", 2.0),
        ("ath", 2.0),
        ("alg", 1.0),
        ("private_key", 1.0),
        ("signature", 1.0),
        ("missing", 1.0),
        ("multiple", 1.0),
    ] {
        assert_eq!(gw.metric(&label(outcome)).await, n, "{outcome}");
    }
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let (idp, gw) = bed().await;
    let key = DpopKey::new();
    let token = bound(&idp, &key);
    let proof = key.proof("GET", &format!("{PUBLIC}/v1/a"), &token);
    assert_eq!(dpop_get(&gw, "/v1/a", &token, &proof).await.status, 200);
    assert_proof_refused(&dpop_get(&gw, "/v1/a", &token, &proof).await, "replay");
    // A proof refused for another reason was not consumed: its jti stays usable.
    let htu = format!("{PUBLIC}/v1/a");
    let bad = key.claims("PUT", &htu, &token, json!({"jti": "once"}));
    let bad = key.proof_with(&key.header(), &bad);
    assert_proof_refused(&dpop_get(&gw, "/v1/a", &token, &bad).await, "wrong htm");
    let claims = key.claims("GET", &htu, &token, json!({"jti": "once"}));
    let good = key.proof_with(&key.header(), &claims);
    assert_eq!(dpop_get(&gw, "/v1/a", &token, &good).await.status, 200);
    assert_proof_refused(
        &dpop_get(&gw, "/v1/a", &token, &good).await,
        "replay of jti once",
    );
}

#[tokio::test]
async fn tokens_bind_to_their_key_and_never_downgrade_to_bearer() {
    let (idp, gw) = bed().await;
    let key = DpopKey::new();
    let other = DpopKey::new();
    let token = bound(&idp, &key);
    let htu = format!("{PUBLIC}/v1/x");
    // A valid proof by another key than the token's cnf.jkt.
    let r = dpop_get(&gw, "/v1/x", &token, &other.proof("GET", &htu, &token)).await;
    assert_token_refused(&r, "wrong cnf.jkt");
    // The bound token as a Bearer token, with or without a proof: refused on every
    // route, `dpop: off` included.
    let bearer = format!("Bearer {token}");
    for path in ["/v1/x", "/plain/x", "/strict/x"] {
        let r = call(&gw, "GET", path, &[("authorization", &bearer)]).await;
        assert_token_refused(&r, &format!("downgrade on {path}"));
        let proof = key.proof("GET", &format!("{PUBLIC}{path}"), &token);
        let r = call(
            &gw,
            "GET",
            path,
            &[("authorization", &bearer), ("dpop", &proof)],
        )
        .await;
        assert_token_refused(&r, &format!("downgrade with proof on {path}"));
    }
    // The DPoP scheme with an unbound token.
    let plain = idp.sign(idp.claims_for("sub-bob", AUD, json!({})));
    let r = dpop_get(&gw, "/v1/x", &plain, &key.proof("GET", &htu, &plain)).await;
    assert_token_refused(&r, "unbound token as DPoP");
    // `dpop: off`: the DPoP scheme is not accepted at all (bare Bearer challenge).
    let r = dpop_get(
        &gw,
        "/plain/x",
        &token,
        &key.proof("GET", &format!("{PUBLIC}/plain/x"), &token),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(challenge(&r), "Bearer realm=\"plain\"");
    let downgrade = r#"portcullis_dpop_proofs_total{outcome="downgrade",route="api"}"#;
    assert_eq!(gw.metric(downgrade).await, 2.0);
}

#[tokio::test]
async fn dpop_required_refuses_plain_tokens_and_challenges_with_dpop_only() {
    let (idp, gw) = bed().await;
    let plain = idp.sign(idp.claims_for("sub-bob", AUD, json!({})));
    let r = call(
        &gw,
        "GET",
        "/strict/x",
        &[("authorization", &format!("Bearer {plain}"))],
    )
    .await;
    assert_token_refused(&r, "plain token on dpop: required");
    assert!(
        challenge(&r).starts_with("DPoP realm=\"strict\""),
        "{}",
        challenge(&r)
    );
    assert!(!challenge(&r).contains("Bearer"), "{}", challenge(&r));
    let r = call(&gw, "GET", "/strict/x", &[]).await;
    assert_eq!(
        challenge(&r),
        format!(
            "DPoP realm=\"strict\", algs=\"{}\"",
            "ES256 ES384 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA"
        )
    );
    // `allowed`: both schemes are offered.
    let r = call(&gw, "GET", "/v1/x", &[]).await;
    assert!(
        challenge(&r).starts_with("Bearer realm=\"api\", DPoP realm=\"api\", algs="),
        "{}",
        challenge(&r)
    );
    let key = DpopKey::new();
    let token = bound(&idp, &key);
    let r = dpop_get(
        &gw,
        "/strict/x",
        &token,
        &key.proof("GET", &format!("{PUBLIC}/strict/x"), &token),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn introspected_tokens_carry_cnf_too() {
    let (idp, gw) = bed().await;
    let key = DpopKey::new();
    let t = now();
    let token = idp.new_reference_token(json!({
        "active": true, "iss": idp.issuer(), "aud": AUD, "sub": "sub-carol",
        "preferred_username": "carol", "iat": t, "exp": t + 300, "cnf": {"jkt": key.jkt},
    }));
    let htu = format!("{PUBLIC}/v1/r");
    let r = dpop_get(&gw, "/v1/r", &token, &key.proof("GET", &htu, &token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("carol"));
    let r = call(
        &gw,
        "GET",
        "/v1/r",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_token_refused(&r, "introspected bound token as Bearer");
    let r = dpop_get(
        &gw,
        "/v1/r",
        &token,
        &DpopKey::new().proof("GET", &htu, &token),
    )
    .await;
    assert_token_refused(&r, "introspected token, other key");
}
