//! Signed identity assertions, verified by PyJWT against the JWKS the running gateway
//! serves: every claim, each check a verifier makes (wrong `aud`, expired, tampered
//! payload, unknown `kid`), the per-user cache, and client copies of the header (any
//! spelling, custom names too) never reaching an upstream.

use serde_json::json;

use super::{api, config, key_entry, key_file, PUBLIC};
use crate::bearer::user;
use crate::support::bearer::{bearer, raw_get, route, start_ready};
use crate::support::client::get;
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::pyjwt::{self, Keys};

/// Replaces one dot-separated part of a compact JWS.
fn with_part(jws: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<&str> = jws.split('.').collect();
    parts[index] = part;
    parts.join(".")
}

fn b64(v: &serde_json::Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn an_upstream_verifies_the_assertion_with_pyjwt_and_every_check_holds() {
    if !pyjwt::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let k1 = key_file(dir.path(), "k1.pem", "ec");
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let routes = [api(
        up,
        &["identity_assertion: { audience: orders, ttl: 60s }"],
    )];
    let gw = start_ready(&config(
        &idp,
        &routes,
        &format!("signing_keys:\n{}", key_entry("k1", &k1, "")),
    ))
    .await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    let r = get(
        &format!("{}/orders", gw.url),
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-portcullis-assertion", "forged"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let echoed = r.json();
    let sent = echoed["headers"]["x-portcullis-assertion"]
        .as_array()
        .unwrap();
    assert_eq!(sent.len(), 1, "only the gateway's: {sent:?}");
    let jws = sent[0].as_str().unwrap().to_owned();
    assert_ne!(jws, "forged");

    // Both JWKS locations serve the same cacheable document.
    let jwks_url = format!("{}/oauth2/jwks", gw.url);
    let a = get(&jwks_url, &[]).await;
    let b = get(&format!("{}/.well-known/portcullis/jwks.json", gw.url), &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, b.body);
    assert_eq!(a.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(a.json()["keys"][0]["kid"], "k1");

    let claims = pyjwt::verify(Keys::Url(&jwks_url), &jws, "orders", PUBLIC, 0)
        .await
        .unwrap_or_else(|e| panic!("PyJWT refused: {e}"));
    assert_eq!(claims["sub"], "sub-alice");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["groups"], json!(["staff"]));
    assert_eq!(claims["route"], "api");
    assert_eq!(claims["idp"], "idp");
    assert_eq!(claims["iss"], PUBLIC);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        60
    );

    let refused = |r: Result<serde_json::Value, String>, class: &str, what: &str| {
        let e = r.expect_err(what);
        assert!(e.starts_with(class), "{what}: {e}");
    };
    let url = Keys::Url(&jwks_url);
    refused(
        pyjwt::verify(url, &jws, "payments", PUBLIC, 0).await,
        "InvalidAudienceError",
        "wrong aud",
    );
    let url = Keys::Url(&jwks_url);
    refused(
        pyjwt::verify(url, &jws, "orders", PUBLIC, 61).await,
        "ExpiredSignatureError",
        "expired",
    );
    let url = Keys::Url(&jwks_url);
    refused(
        pyjwt::verify(url, &jws, "orders", "https://evil.test", 0).await,
        "InvalidIssuerError",
        "wrong iss",
    );
    let mut forged = claims.clone();
    forged["sub"] = json!("sub-admin");
    let tampered = with_part(&jws, 1, &b64(&forged));
    let url = Keys::Url(&jwks_url);
    refused(
        pyjwt::verify(url, &tampered, "orders", PUBLIC, 0).await,
        "InvalidSignatureError",
        "tampered",
    );
    let header = json!({"alg": "ES256", "kid": "not-published", "typ": "JWT"});
    let unknown = with_part(&jws, 0, &b64(&header));
    let url = Keys::Url(&jwks_url);
    refused(
        pyjwt::verify(url, &unknown, "orders", PUBLIC, 0).await,
        "PyJWKClientError",
        "unknown kid",
    );
}

#[tokio::test]
async fn one_signature_per_user_then_the_cached_assertion() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let routes = [api(up, &["identity_assertion: { audience: orders }"])];
    // No signing_keys: a key is generated at start.
    let gw = start_ready(&config(&idp, &routes, "")).await;
    let alice = idp.sign(user(&idp, "alice", json!({})));
    let bob = idp.sign(user(&idp, "bob", json!({})));
    let mut seen = Vec::new();
    for token in [&alice, &alice, &alice, &bob] {
        let r = bearer(&gw, "/x", token).await;
        assert_eq!(r.status, 200);
        seen.push(r.echoed("x-portcullis-assertion").unwrap());
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0], seen[2]);
    assert_ne!(seen[0], seen[3]);
    let m =
        |o: &str| format!("portcullis_identity_assertions_total{{outcome=\"{o}\",route=\"api\"}}");
    assert_eq!(gw.metric(&m("signed")).await, 2.0);
    assert_eq!(gw.metric(&m("cache_hit")).await, 2.0);
    assert_eq!(gw.metric(&m("failure")).await, 0.0);
}

#[tokio::test]
async fn generated_eddsa_and_configured_rs256_keys_verify_too() {
    if !pyjwt::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (alg, tail) in [
        ("EdDSA", String::new()),
        (
            "RS256",
            format!(
                "signing_keys:\n{}",
                key_entry("rsa-1", &key_file(dir.path(), "r.pem", "rsa"), "")
            ),
        ),
    ] {
        let idp = FakeIdp::start().await;
        let up = echo_upstream().await;
        let extra = format!("identity_assertion: {{ audience: orders, alg: {alg} }}");
        let gw = start_ready(&config(&idp, &[api(up, &[&extra])], &tail)).await;
        let r = bearer(&gw, "/", &idp.sign(user(&idp, "alice", json!({})))).await;
        let jws = r.echoed("x-portcullis-assertion").unwrap();
        let url = format!("{}/oauth2/jwks", gw.url);
        let claims = pyjwt::verify(Keys::Url(&url), &jws, "orders", PUBLIC, 0).await;
        assert_eq!(
            claims.unwrap_or_else(|e| panic!("{alg}: {e}"))["sub"],
            "sub-alice"
        );
    }
}

#[tokio::test]
async fn client_copies_of_assertion_headers_never_reach_an_upstream() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let routes = [
        route(
            "custom",
            "/custom",
            up,
            &[
                "identity_assertion: { header: X-Upstream-Identity, audience: orders }",
                "public_paths: [/custom/public]",
            ],
        ),
        route("open", "/open", up, &["auth: none"]),
        route("plain", "/plain", up, &[]),
    ];
    let gw = start_ready(&config(&idp, &routes, "")).await;
    let auth = format!("Bearer {}", idp.sign(user(&idp, "alice", json!({}))));
    let forged = [
        "X-Upstream-Identity",
        "x_upstream_identity",
        "X.Upstream.Identity",
        "XUpstreamIdentity",
        "X-Portcullis-Assertion",
        "X_PORTCULLIS_ASSERTION",
    ];
    for (path, authorized) in [
        ("/custom/a", true),
        ("/custom/public/a", false),
        ("/open/a", false),
        ("/plain/a", true),
    ] {
        let mut headers: Vec<(&str, &str)> = forged.iter().map(|n| (*n, "forged")).collect();
        if authorized {
            headers.push(("Authorization", &auth));
        }
        let r = raw_get(gw.running.addr, path, &headers).await;
        assert_eq!(r.status, 200, "{path}: {}", r.head);
        let echo = r.json();
        let names: Vec<&String> = echo["headers"].as_object().unwrap().keys().collect();
        for (name, values) in echo["headers"].as_object().unwrap() {
            let squashed: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
            if squashed.eq_ignore_ascii_case("xupstreamidentity") && path == "/custom/a" {
                assert_eq!(name, "x-upstream-identity");
                assert_ne!(values[0], "forged", "{path}");
                continue;
            }
            assert!(
                !values.as_array().unwrap().iter().any(|v| v == "forged"),
                "{path}: forged {name} reached the upstream ({names:?})"
            );
        }
        assert_eq!(
            echo["headers"].get("x-upstream-identity").is_some(),
            path == "/custom/a",
            "{path}: the assertion only where the route signs for a user"
        );
    }
}
