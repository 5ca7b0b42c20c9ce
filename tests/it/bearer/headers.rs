//! Identity headers: client-forged copies never reach the upstream (any spelling, any
//! route kind), verified ones are rendered from templates, unsafe values are dropped, and
//! `forward_authorization` decides whether the client's Authorization travels on.

use serde_json::json;

use super::{standard_bed, user};
use crate::support::bearer::{
    bearer, config, echoed_headers, raw_get, route, start_ready, with_auth, ProviderYaml,
};
use crate::support::client::get;
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;

/// Every spelling a client might use to pose as the gateway.
const FORGED: [&str; 30] = [
    "X-Auth-User",
    "x-auth-user",
    "X_Auth_User",
    "x_auth_user",
    "X-AUTH-USER",
    "X-Auth_User",
    "X-Auth-Email",
    "X_AUTH_GROUPS",
    "x-auth-subject",
    "X-Forwarded-User",
    "X_Forwarded_User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Preferred-Username",
    "X-Forwarded-Access-Token",
    "X-Auth-Request-User",
    "Remote-User",
    "REMOTE_USER",
    "X-Remote-User",
    "X-Amzn-Oidc-Identity",
    "X-Goog-Authenticated-User-Email",
    "X-MS-CLIENT-PRINCIPAL-NAME",
    "X-Pomerium-Jwt-Assertion",
    "X-Original-URL",
    "X_Rewrite_Url",
    // Custom names configured on the `custom` route (stripped on every route).
    "X-Portcullis-Login",
    "x_portcullis_login",
    "X-TENANT",
    "X_Tenant",
    "x-tenant",
];

#[tokio::test]
async fn forged_identity_headers_never_reach_the_upstream() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let gw = start_ready(&config(
        &[ProviderYaml::default().render(&idp)],
        &[
            route("api", "/api", up, &["public_paths: [/api/public]"]),
            route(
                "custom",
                "/custom",
                up,
                &["identity_headers: { X-Portcullis-Login: \"{username}\", X-Tenant: \"{claims.org.tenant}\" }"],
            ),
            route("open", "/open", up, &["auth: none"]),
        ],
    ))
    .await;
    let token = idp.sign(user(&idp, "alice", json!({"org": {"tenant": "acme"}})));
    let auth = format!("Bearer {token}");
    let mut headers: Vec<(&str, String)> = FORGED
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, format!("forged-{i}")))
        .collect();
    headers.push(("X-Kept", "kept".into()));
    let forged: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let with_token: Vec<(&str, &str)> = forged
        .iter()
        .copied()
        .chain([("Authorization", auth.as_str())])
        .collect();

    for (what, path, hdrs) in [
        ("bearer route", "/api/x", &with_token),
        ("public path", "/api/public/x", &forged),
        ("public path with token", "/api/public/x", &with_token),
        ("auth: none route", "/open/x", &forged),
        ("auth: none route with token", "/open/x", &with_token),
        ("custom headers route", "/custom/x", &with_token),
    ] {
        let r = raw_get(gw.running.addr, path, hdrs).await;
        assert_eq!(r.status, 200, "{what}: {}", r.head);
        let echo = r.json();
        let seen = echoed_headers(&echo);
        for (name, value) in &seen {
            assert!(
                !value.contains("forged"),
                "{what}: forged `{name}: {value}` reached the upstream"
            );
        }
        let get = |n: &str| seen.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("x-kept"), Some("kept"), "{what}: ordinary headers pass");
        match path {
            "/api/x" => {
                assert_eq!(get("x-auth-user"), Some("alice"), "{what}");
                assert_eq!(get("x-auth-subject"), Some("sub-alice"), "{what}");
            }
            "/custom/x" => {
                assert_eq!(get("x-portcullis-login"), Some("alice"), "{what}");
                assert_eq!(get("x-tenant"), Some("acme"), "{what}");
                assert_eq!(get("x-auth-user"), None, "{what}: defaults replaced");
            }
            // Public paths and auth: none get hygiene but no identity.
            _ => assert_eq!(get("x-auth-user"), None, "{what}"),
        }
    }
    // Without a token the bearer route refuses, forged identity or not.
    let r = raw_get(gw.running.addr, "/api/x", &forged).await;
    assert_eq!(r.status, 401, "{}", r.head);
}

#[tokio::test]
async fn only_verified_tokens_travel_on_and_forward_authorization_false_strips_them() {
    let (idp, _up, gw) =
        standard_bed(&["forward_authorization: false", "public_paths: [/pub]"]).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    let r = bearer(&gw, "/x", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("authorization"), None);
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
    let r = bearer(&gw, "/pub/x", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("authorization"), None, "public path");

    // The default (true) passes on a token it verified…
    let (idp, _up, gw) = standard_bed(&["public_paths: [/pub]"]).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    let r = bearer(&gw, "/x", &token).await;
    assert_eq!(r.echoed("authorization"), Some(format!("Bearer {token}")));
    // …never one it did not: on a public path a forged token would reach an upstream
    // that trusts the route to have checked every bearer token it sees.
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
    let r = bearer(&gw, "/pub/x", forged).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.echoed("authorization"),
        None,
        "unverified token on a public path"
    );
    let r = with_auth(&gw, "/pub/x", &format!("Bearer\t{forged}")).await;
    assert_eq!(r.echoed("authorization"), None, "a tab after the scheme");
    // Credentials of another scheme are the upstream's own business.
    let r = with_auth(&gw, "/pub/x", "Basic YWxpY2U6cHc=").await;
    assert_eq!(
        r.echoed("authorization").as_deref(),
        Some("Basic YWxpY2U6cHc=")
    );
}

#[tokio::test]
async fn templates_render_and_unsafe_values_are_dropped() {
    let (idp, _up, gw) = standard_bed(&[
        "identity_headers: { X-User: \"{username}\", X-Mail: \"{email}\", X-Groups: \"{groups}\", \
         X-Scopes: \"{scopes}\", X-Who: \"user={sub};tier={claims.tier}\", X-Roles: \"{claims.org.roles}\" }",
    ])
    .await;
    let token = idp.sign(user(
        &idp,
        "alice",
        json!({"groups": ["a,b", "ops", "dev"], "scope": "api1.read api1.write",
               "tier": 2, "org": {"roles": ["r1", "r2"]}}),
    ));
    let r = bearer(&gw, "/", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-user").as_deref(), Some("alice"));
    assert_eq!(r.echoed("x-mail").as_deref(), Some("alice@example.com"));
    // An element holding the separator is left out, so one value never poses as two.
    assert_eq!(r.echoed("x-groups").as_deref(), Some("ops,dev"));
    assert_eq!(
        r.echoed("x-scopes").as_deref(),
        Some("api1.read api1.write")
    );
    assert_eq!(r.echoed("x-who").as_deref(), Some("user=sub-alice;tier=2"));
    assert_eq!(r.echoed("x-roles").as_deref(), Some("r1,r2"));

    // CR/LF and non-visible or non-ASCII values are dropped, never injected.
    for (what, name) in [
        ("CRLF", "alice\r\nX-Injected: 1"),
        ("LF", "alice\nX-Injected: 1"),
        ("NUL", "alice\u{0}"),
        ("tab", "al\tice"),
        ("non-ASCII", "\u{e5}lice"),
        ("leading space", " alice"),
    ] {
        let token = idp.sign(user(&idp, "mallory", json!({"preferred_username": name})));
        let r = bearer(&gw, "/", &token).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        assert_eq!(r.echoed("x-user"), None, "{what}");
        assert_eq!(r.echoed("x-injected"), None, "{what}");
        assert_eq!(r.echoed("x-mail").as_deref(), Some("mallory@example.com"));
    }
    // A client's copy is replaced by the verified value, and stays stripped when the
    // verified value is dropped.
    let good = idp.sign(user(&idp, "alice", json!({})));
    let bad = idp.sign(user(
        &idp,
        "eve",
        json!({"preferred_username": "eve\r\nX: 1"}),
    ));
    for (token, expected) in [(good, Some("alice")), (bad, None)] {
        let auth = format!("Bearer {token}");
        let r = get(
            &format!("{}/", gw.url),
            &[("authorization", auth.as_str()), ("x-user", "forged")],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.echoed("x-user").as_deref(), expected);
    }
}
