//! The `Authorization` header itself: missing, foreign schemes, scheme case, and the
//! malformed shapes RFC 6750 answers with 400 `invalid_request` (never a 5xx).

use serde_json::json;

use super::{standard_bed, user};
use crate::support::bearer::{anonymous, assert_bare_challenge, raw_get, with_auth, RawResp};
use crate::support::client::get;

#[tokio::test]
async fn no_credentials_get_a_bare_challenge_without_error_attribute() {
    let (_idp, _up, gw) = standard_bed(&[]).await;
    let r = anonymous(&gw, "/orders").await;
    assert_bare_challenge(&r, "api", "no Authorization header");
    assert!(!r
        .header("www-authenticate")
        .unwrap_or_default()
        .contains("error"));
    // Schemes the provider does not accept count as no credentials (RFC 6750 §3.1).
    for foreign in [
        "Basic dXNlcjpwYXNz",
        "Digest username=\"a\"",
        "Negotiate abc",
        "Token abc",
    ] {
        assert_bare_challenge(&with_auth(&gw, "/orders", foreign).await, "api", foreign);
    }
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = with_auth(&gw, "/", &format!("{scheme} {token}")).await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.text());
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
    }
}

#[tokio::test]
async fn malformed_authorization_is_400_invalid_request_never_5xx() {
    let (idp, _up, gw) = standard_bed(&[]).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    let expect_400 = |r: &crate::support::client::Resp, what: &str| {
        assert_eq!(r.status, 400, "{what}: {}", r.text());
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"api\", error=\"invalid_request\""),
            "{what}"
        );
        // The gateway's own error body, not the upstream's echo.
        assert_eq!(r.json()["error"], "invalid_request", "{what}");
    };
    // Two Authorization headers, even when both carry the same valid token.
    let auth = format!("Bearer {token}");
    let r = get(
        &format!("{}/", gw.url),
        &[("authorization", &auth), ("authorization", &auth)],
    )
    .await;
    expect_400(&r, "two Authorization headers");
    for bad in [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer a,b",
        "Bearer tok\"en",
        "Bearer ===",
        "Bearer abc=def",
        "Bearer {json}",
        "Bearer a;b",
    ] {
        expect_400(&with_auth(&gw, "/", bad).await, bad);
    }
    // Bytes a well-behaved client never sends: non-ASCII and obs-text in the token.
    let addr = gw.running.addr;
    for bad in ["Bearer t\u{f6}ken", "Bearer abc\u{7f}def"] {
        let r: RawResp = raw_get(addr, "/", &[("Authorization", bad)]).await;
        assert_eq!(r.status, 400, "{bad:?}\n{}", r.head);
    }
    // The gateway is still healthy and the token still good.
    assert_eq!(with_auth(&gw, "/", &auth).await.status, 200);
}

#[tokio::test]
async fn padded_token68_values_are_judged_as_tokens_401_never_400() {
    use crate::support::bearer::{assert_invalid_token, config, route, start_ready, ProviderYaml};
    use crate::support::echo_upstream;
    use crate::support::fake_idp::{Endpoint, FakeIdp};
    // RFC 6750 §2.1: b64token may end in `=` padding. A padded value is well-formed, so a
    // token that fails validation is 401 invalid_token (with or without introspection).
    let (idp, _up, gw) = standard_bed(&[]).await;
    let jwt = idp.sign(user(&idp, "alice", json!({})));
    let padded = [
        format!("{jwt}="),
        format!("{jwt}=="),
        "abc=".to_owned(),
        "abc==".to_owned(),
        "a.b.c=".to_owned(),
        "dGVzdA==".to_owned(),
    ];
    for t in &padded {
        let r = with_auth(&gw, "/", &format!("Bearer {t}")).await;
        assert_invalid_token(&r, "api", t);
    }
    assert!(
        idp.hits(Endpoint::Introspection) >= 1,
        "opaque ones were introspected"
    );
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let no_introspection = ProviderYaml {
        introspection: None,
        ..ProviderYaml::default()
    };
    let gw = start_ready(&config(
        &[no_introspection.render(&idp)],
        &[route("api", "/", up, &[])],
    ))
    .await;
    for t in &padded {
        let r = with_auth(&gw, "/", &format!("Bearer {t}")).await;
        assert_invalid_token(&r, "api", t);
    }
}
