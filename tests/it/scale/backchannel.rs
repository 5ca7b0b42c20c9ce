//! Back-channel logout (OIDC Back-Channel Logout 1.0) against two replicas: a logout
//! token posted to one replica ends the matching sessions on both (by `sid`, or every
//! session of a `sub`); every malformed, forged or replayed token is a 400
//! `invalid_request` that ends nothing; the cookie store answers 501.

use serde_json::{json, Value};

use super::cached::refused_within;
use super::{post_logout, setup, Pair};
use crate::sso::{new_secret, Bed};
use crate::support::browser::Browser;
use crate::support::client::Resp;
use crate::support::fake_idp::FakeIdp;
use crate::support::redis::RedisServer;

#[track_caller]
fn assert_400(r: &Resp, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.text());
    assert_eq!(r.json()["error"], "invalid_request", "{what}");
}

#[tokio::test]
async fn a_logout_token_ends_the_sessions_on_both_replicas() {
    let pair = Pair::start().await;
    let first = pair.signed_in().await;
    pair.set_sid("sid-2");
    let second = pair.signed_in().await;
    pair.bed.as_user("bob");
    pair.set_sid("sid-bob");
    let bob = pair.signed_in().await;
    for b in [&first, &second, &bob] {
        assert_eq!(b.api_get(&pair.b("/app/x")).await.status, 200);
    }

    // By sid: only that provider session ends, on both replicas.
    let r = post_logout(&pair.bed.public, &pair.logout_token(json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // At once where it was posted; within a second on the other replica.
    assert_eq!(first.api_get(&pair.a("/app/x")).await.status, 401);
    assert!(refused_within(&first, &pair.b("/app/x")).await);
    assert_eq!(second.api_get(&pair.a("/app/x")).await.status, 200);

    // By sub alone, posted to the other replica: every session of that user ends.
    let token = pair.logout_token(json!({"sid": null}));
    let r = post_logout(&pair.public_b, &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(second.api_get(&pair.b("/app/x")).await.status, 401);
    assert!(refused_within(&second, &pair.a("/app/x")).await);
    // Another user's session is untouched.
    assert_eq!(bob.api_get(&pair.a("/app/x")).await.status, 200);

    // A token for a session nobody has is still a valid logout: 200, nothing ends.
    let none = pair.logout_token(json!({"sid": "sid-unknown", "sub": "sub-nobody"}));
    assert_eq!(post_logout(&pair.bed.public, &none).await.status, 200);
    assert_eq!(bob.api_get(&pair.b("/app/x")).await.status, 200);
}

#[tokio::test]
async fn bad_logout_tokens_are_400_and_end_nothing() {
    let pair = Pair::start().await;
    let browser = pair.signed_in().await;
    let good = pair.logout_token(json!({}));
    let stranger = pair.bed.idp.token_signed_by_stranger(json!({
        "iss": pair.bed.idp.issuer(), "aud": super::CLIENT_ID, "iat": crate::support::fake_idp::now(),
        "jti": "stranger", "sid": "sid-1", "events": {super::EVENT: {}}
    }));
    // Correctly signed, refused for their JOSE header alone.
    let claims = json!({
        "iss": pair.bed.idp.issuer(), "aud": super::CLIENT_ID, "iat": crate::support::fake_idp::now(),
        "jti": "header", "sid": "sid-1", "events": {super::EVENT: {}}
    });
    let kid = pair.bed.idp.kid();
    let with_header = |header: Value| pair.bed.idp.token_with_raw_header(header, claims.clone());
    let cases: Vec<(&str, String)> = vec![
        (
            "crit present, even null",
            with_header(json!({"alg": "RS256", "kid": kid, "typ": "logout+jwt", "crit": null})),
        ),
        (
            "typ of an access token",
            with_header(json!({"alg": "RS256", "kid": kid, "typ": "at+jwt"})),
        ),
        (
            "alg none",
            with_header(json!({"alg": "none", "kid": kid, "typ": "logout+jwt"})),
        ),
        (
            "bad signature",
            FakeIdp::tamper(&good, json!({"sid": "sid-1", "jti": "tampered"})),
        ),
        ("foreign key", stranger),
        ("missing events", pair.logout_token(json!({"events": null}))),
        (
            "events without the logout event",
            pair.logout_token(json!({"events": {"http://example.com/other": {}}})),
        ),
        ("nonce present", pair.logout_token(json!({"nonce": "n-1"}))),
        (
            "wrong aud",
            pair.logout_token(json!({"aud": "someone-else"})),
        ),
        ("no jti", pair.logout_token(json!({"jti": null}))),
        (
            "no sid, no sub",
            pair.logout_token(json!({"sid": null, "sub": null})),
        ),
        ("no iat", pair.logout_token(json!({"iat": null}))),
        ("expired", pair.logout_token(json!({"exp": 1_000_000}))),
        (
            "unknown issuer",
            pair.logout_token(json!({"iss": "http://127.0.0.1:1/other"})),
        ),
        ("not a JWT", "not-a-token".to_owned()),
    ];
    for (what, token) in &cases {
        assert_400(&post_logout(&pair.bed.public, token).await, what);
    }
    // Missing parameter, wrong method.
    let r = crate::support::client::send(
        "POST",
        &pair.a("/oauth2/backchannel_logout"),
        &[("content-type", "application/x-www-form-urlencoded")],
        "other=1".into(),
    )
    .await;
    assert_400(&r, "no logout_token");
    let r = crate::support::client::get(&pair.a("/oauth2/backchannel_logout"), &[]).await;
    assert_eq!(r.status, 400, "GET: {}", r.text());
    assert_eq!(
        browser.api_get(&pair.b("/app/x")).await.status,
        200,
        "a refused token must end nothing"
    );

    // Replay: the same jti is refused the second time, even on the other replica.
    let token = pair.logout_token(json!({"sid": "sid-elsewhere", "sub": "sub-elsewhere"}));
    assert_eq!(post_logout(&pair.bed.public, &token).await.status, 200);
    assert_400(&post_logout(&pair.public_b, &token).await, "replayed jti");
    // `typ: JWT` (older providers) is accepted too.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(pair.bed.idp.kid());
    let claims: Value = json!({"iss": pair.bed.idp.issuer(), "aud": [super::CLIENT_ID, "x"],
        "iat": crate::support::fake_idp::now(), "jti": "typ-jwt", "sid": "sid-1",
        "events": {super::EVENT: {}}});
    let r = post_logout(&pair.bed.public, &pair.bed.idp.sign_with_header(h, claims)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(refused_within(&browser, &pair.b("/app/x")).await);
}

#[tokio::test]
async fn with_the_cookie_store_backchannel_logout_is_not_implemented() {
    let bed = Bed::standard().await;
    let r = post_logout(&bed.public, "x.y.z").await;
    assert_eq!(r.status, 501, "{}", r.text());
    assert!(r.text().contains("session.store: redis"), "{}", r.text());
}

#[tokio::test]
async fn a_logout_token_is_for_the_provider_its_aud_names_among_those_sharing_an_issuer() {
    // Two clients of one realm: same issuer, different client ids. The token for the
    // second must not be checked against the first (and refused for its aud).
    let redis = RedisServer::start().await;
    let mut s = setup(&redis.url(), &new_secret());
    s.more_providers = vec![
        "- name: second".into(),
        "  issuer: \"$ISSUER\"".into(),
        "  client_id: second-client".into(),
        "  client_auth: none".into(),
    ];
    let bed = Bed::start(s).await;
    bed.idp.set_id_token_patch(json!({ "sid": "sid-1" }));
    let browser = Browser::new();
    bed.login_with(&browser, "/app/x").await;
    let token = |aud: &str, jti: &str| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(bed.idp.kid());
        h.typ = Some("logout+jwt".into());
        let claims = json!({"iss": bed.idp.issuer(), "aud": aud, "jti": jti, "sid": "sid-0",
            "iat": crate::support::fake_idp::now(), "events": {super::EVENT: {}}});
        bed.idp.sign_with_header(h, claims)
    };
    let r = post_logout(&bed.public, &token("second-client", "j-second")).await;
    assert_eq!(r.status, 200, "the second client's token: {}", r.text());
    let r = post_logout(&bed.public, &token(super::CLIENT_ID, "j-first")).await;
    assert_eq!(r.status, 200, "the first client's token: {}", r.text());
    assert_400(
        &post_logout(&bed.public, &token("third-client", "j-third")).await,
        "an aud naming neither",
    );
    assert_eq!(browser.api_get(&bed.url("/app/x")).await.status, 200);
}
