//! A session from one of several providers: refresh and sign-out go to its own
//! provider, it does not count on a route that does not list that provider, and a
//! back-channel logout ends only the sessions of the provider that sent it.

use super::*;

#[tokio::test]
async fn the_session_keeps_its_provider_for_refresh_and_sign_out() {
    let two = Two::start().await;
    // Short-lived tokens at the partner: the next request must refresh there.
    two.partner.set_token_lifetime(5);
    let browser = Browser::new();
    two.login_via(&browser, "/app/x", "partner").await;
    let hop = browser.get(&two.url("/app/y")).await;
    assert_eq!(hop.status, 200, "{}", hop.describe());
    assert_eq!(hop.echoed("x-auth-user").as_deref(), Some("bob"));
    // Every request refreshes (5 s tokens are always within the 30 s margin).
    assert!(two.partner.token_count(Grant::RefreshToken) >= 1);
    assert!(two.corp.token_calls().is_empty());

    let chain = browser.follow(&two.url("/oauth2/sign_out")).await;
    assert_eq!(chain.hops[0].status, 302, "{}", chain.describe());
    let revoked: Vec<_> = two
        .partner
        .revocations()
        .into_iter()
        .map(|r| r.token_type_hint)
        .collect();
    assert_eq!(
        revoked,
        [
            Some("refresh_token".to_owned()),
            Some("access_token".to_owned())
        ]
    );
    assert_eq!(two.partner.end_sessions().len(), 1, "{}", chain.describe());
    assert!(two.corp.revocations().is_empty() && two.corp.end_sessions().is_empty());
}

#[tokio::test]
async fn a_session_from_a_provider_the_route_does_not_list_does_not_count_there() {
    let two = Two::start().await;
    let browser = Browser::new();
    // Alice signs in at corp on corp's own route; the app route lists corp too.
    let chain = browser.follow(&two.url("/corp/x")).await;
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("alice"));
    assert_eq!(browser.get(&two.url("/app/x")).await.status, 200);
    // On the partner route it is no session: sign in again (navigation), 401 (API).
    let api = browser.api_get(&two.url("/partner/x")).await;
    assert_eq!(api.status, 401, "{}", api.describe());
    let nav = browser.get(&two.url("/partner/x")).await;
    assert_eq!(nav.status, 302, "{}", nav.describe());
    assert!(nav
        .next_url()
        .unwrap_or_default()
        .starts_with(&two.url("/oauth2/start?")));
    // Signing in there replaces it: now the corp route asks for a login instead.
    let chain = browser.follow(&two.url("/partner/x")).await;
    assert_eq!(chain.last().status, 200, "{}", chain.describe());
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("bob"));
    assert_eq!(browser.api_get(&two.url("/corp/x")).await.status, 401);
    assert_eq!(browser.api_get(&two.url("/app/x")).await.status, 200);
}

#[tokio::test]
async fn back_channel_logout_ends_only_the_sessions_of_the_provider_that_sent_it() {
    let redis = RedisServer::start().await;
    let two = Two::start_with(&format!(
        "  store: redis\n  redis: {{ url: \"{}\" }}\n",
        redis.url()
    ))
    .await;
    // The same `sub` and `sid` at both providers: only the issuer tells them apart.
    for idp in [&two.corp, &two.partner] {
        idp.set_login_user("sub-same", user_claims("alice"));
        idp.set_id_token_patch(json!({ "sid": "sid-1" }));
    }
    let (at_corp, at_partner) = (Browser::new(), Browser::new());
    two.login_via(&at_corp, "/app/x", "corp").await;
    two.login_via(&at_partner, "/app/x", "partner").await;
    let logout = |idp: &FakeIdp| {
        let claims = json!({
            "iss": idp.issuer(), "aud": CLIENT_ID, "iat": now(), "exp": now() + 120,
            "jti": random_hex(16), "sub": "sub-same", "sid": "sid-1",
            "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
        });
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(idp.kid());
        h.typ = Some("logout+jwt".into());
        idp.sign_with_header(h, claims)
    };
    let r = post_logout(&two.public, &logout(&two.partner)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_partner.api_get(&two.url("/app/x")).await.status, 401);
    assert_eq!(at_corp.api_get(&two.url("/app/x")).await.status, 200);
    let r = post_logout(&two.public, &logout(&two.corp)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(at_corp.api_get(&two.url("/app/x")).await.status, 401);
}
