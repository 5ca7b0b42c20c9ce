//! Browser vs API answers without a session (302 only for GET/HEAD navigations, else a
//! 401 JSON), the route policy applied to session principals, `auth: any` (session or
//! bearer; bearer wins), forged identity headers, and `/oauth2/userinfo`.

use bytes::Bytes;
use serde_json::json;

use super::{user_claims, Bed, Setup};
use crate::support::browser::{Browser, Hop, Kind};

#[track_caller]
fn assert_json_401(hop: &Hop, what: &str) {
    assert_eq!(
        hop.status,
        401,
        "{what}: {}\n{}",
        hop.describe(),
        hop.text()
    );
    assert!(hop.location().is_none(), "{what}: a 401 with a Location");
    let ct = hop.header("content-type").unwrap_or_default();
    assert!(ct.contains("json"), "{what}: content-type {ct}");
    let _ = hop.json();
}

#[tokio::test]
async fn without_a_session_only_get_and_head_navigations_are_redirected() {
    let bed = Bed::standard().await;
    let b = Browser::new();
    let url = bed.url("/app/page");
    let req =
        |method: &'static str, kind: Kind, headers: &'static [(&'static str, &'static str)]| {
            let (b, url) = (b.clone(), url.clone());
            async move { b.request(method, &url, kind, headers, Bytes::new()).await }
        };
    for (what, hop) in [
        ("GET navigation", req("GET", Kind::Navigate, &[]).await),
        ("HEAD navigation", req("HEAD", Kind::Navigate, &[]).await),
        (
            "GET Accept text/html, no Sec-Fetch-Mode",
            req("GET", Kind::Bare, &[("accept", "text/html")]).await,
        ),
    ] {
        assert_eq!(hop.status, 302, "{what}: {}", hop.describe());
        assert!(hop.location().is_some(), "{what}: no Location");
    }
    let xhr: &[(&str, &str)] = &[
        ("accept", "*/*"),
        ("sec-fetch-mode", "cors"),
        ("x-requested-with", "XMLHttpRequest"),
    ];
    for (what, hop) in [
        ("API GET", req("GET", Kind::Api, &[]).await),
        (
            "fetch",
            req(
                "GET",
                Kind::Bare,
                &[("accept", "*/*"), ("sec-fetch-mode", "cors")],
            )
            .await,
        ),
        (
            "XHR",
            b.request("GET", &url, Kind::Bare, xhr, Bytes::new()).await,
        ),
        (
            "fetch asking for html",
            req(
                "GET",
                Kind::Bare,
                &[("accept", "text/html"), ("sec-fetch-mode", "cors")],
            )
            .await,
        ),
        (
            "POST form navigation",
            req(
                "POST",
                Kind::Navigate,
                &[("content-type", "application/x-www-form-urlencoded")],
            )
            .await,
        ),
        (
            "POST API",
            req("POST", Kind::Api, &[("content-type", "application/json")]).await,
        ),
        ("no headers at all", req("GET", Kind::Bare, &[]).await),
    ] {
        assert_json_401(&hop, what);
    }
    // Same on an `auth: any` route.
    let any = b.api_get(&bed.url("/api/x")).await;
    assert_json_401(&any, "auth any, API");
    let nav = b.get(&bed.url("/api/x")).await;
    assert_eq!(nav.status, 302, "auth any, navigation: {}", nav.describe());
    // And an open route needs nothing.
    assert_eq!(b.api_get(&bed.url("/open/x")).await.status, 200);
}

#[tokio::test]
async fn the_route_policy_applies_to_session_users() {
    let bed = Bed::standard().await;
    bed.as_user("bob");
    let chain = bed.browser.follow(&bed.url("/admin/x")).await;
    let last = chain.last();
    assert_eq!(
        (last.status, last.url.as_str()),
        (403, bed.url("/admin/x").as_str()),
        "bob is not in admins:\n{}",
        chain.describe()
    );
    let hop = bed.browser.get(&bed.url("/app/x")).await;
    assert_eq!(
        hop.echoed("x-auth-user").as_deref(),
        Some("bob"),
        "bob is signed in"
    );
    let api = bed.browser.api_get(&bed.url("/admin/x")).await;
    assert_eq!(api.status, 403, "{}", api.describe());
    bed.as_user("alice");
    let alice = Browser::new();
    let chain = bed.login_with(&alice, "/admin/x").await;
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("alice"));
}

#[tokio::test]
async fn an_unverified_email_fails_the_email_domain_rule_for_session_users() {
    // A provider that lets users register an address without proving it: the session
    // must keep `email_verified` for the rule to see it, as the bearer path does.
    let bed = Bed::start(Setup::default().app("allow: { email_domains: [example.com] }")).await;
    let mut claims = user_claims("mallory");
    claims["email_verified"] = json!(false);
    bed.idp.set_login_user("sub-mallory", claims);
    let chain = bed.browser.follow(&bed.url("/app/x")).await;
    assert_eq!(
        chain.last().status,
        403,
        "an unverified example.com address passed:\n{}",
        chain.describe()
    );
    bed.as_user("alice");
    let alice = Browser::new();
    let chain = bed.login_with(&alice, "/app/x").await;
    assert_eq!(chain.last().echoed("x-auth-user").as_deref(), Some("alice"));
}

#[tokio::test]
async fn auth_any_takes_a_session_or_a_bearer_token_and_bearer_wins() {
    let bed = Bed::standard().await;
    bed.login("/app/x").await;
    let claims = bed.idp.claims_for(
        "sub-carol",
        "api1",
        json!({"preferred_username": "carol", "groups": ["api-users"]}),
    );
    let token = format!("Bearer {}", bed.idp.sign(claims));
    let url = bed.url("/api/x");
    let session = bed.browser.api_get(&url).await;
    assert_eq!(
        session.echoed("x-auth-user").as_deref(),
        Some("alice"),
        "{}",
        session.text()
    );
    let both = bed
        .browser
        .request(
            "GET",
            &url,
            Kind::Api,
            &[("authorization", &token)],
            Bytes::new(),
        )
        .await;
    assert_eq!(both.status, 200, "{}", both.text());
    assert_eq!(
        both.echoed("x-auth-user").as_deref(),
        Some("carol"),
        "bearer wins"
    );
    let bearer_only = Browser::new()
        .request(
            "GET",
            &url,
            Kind::Api,
            &[("authorization", &token)],
            Bytes::new(),
        )
        .await;
    assert_eq!(bearer_only.echoed("x-auth-user").as_deref(), Some("carol"));
    // A bad bearer token next to a good session is not silently ignored.
    let bad = bed
        .browser
        .request(
            "GET",
            &url,
            Kind::Api,
            &[("authorization", "Bearer not.a.jwt")],
            Bytes::new(),
        )
        .await;
    assert_eq!(bad.status, 401, "{}", bad.describe());
}

#[tokio::test]
async fn identity_headers_from_the_client_never_reach_the_upstream() {
    let bed = Bed::standard().await;
    bed.login("/app/x").await;
    let forged: &[(&str, &str)] = &[("x-auth-user", "mallory"), ("x-auth-groups", "admins")];
    let hop = bed
        .browser
        .request(
            "GET",
            &bed.url("/app/y"),
            Kind::Navigate,
            forged,
            Bytes::new(),
        )
        .await;
    let echo = hop.json();
    assert_eq!(echo["headers"]["x-auth-user"], json!(["alice"]));
    assert_eq!(echo["headers"]["x-auth-groups"], json!(["admins,staff"]));
}

#[tokio::test]
async fn oauth2_userinfo_reports_the_session_identity() {
    let bed = Bed::standard().await;
    let none = bed.browser.api_get(&bed.url("/oauth2/userinfo")).await;
    assert_json_401(&none, "userinfo without session");
    bed.login("/app/x").await;
    let hop = bed.browser.api_get(&bed.url("/oauth2/userinfo")).await;
    assert_eq!(hop.status, 200, "{}\n{}", hop.describe(), hop.text());
    let body = hop.json().to_string();
    for expected in ["alice", "alice@example.com", "admins", "sub-alice"] {
        assert!(body.contains(expected), "userinfo lacks {expected}: {body}");
    }
    let issued = bed.idp.last_issued().expect("issued");
    let secrets = [
        Some(issued.access_token),
        issued.refresh_token,
        issued.id_token,
    ];
    for secret in secrets.into_iter().flatten() {
        assert!(!body.contains(&secret), "userinfo leaks a token: {body}");
    }
}
