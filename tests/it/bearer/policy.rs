//! Access policy (`allow`): the users/groups/scopes/claims matrix with 401 vs 403 and the
//! `WWW-Authenticate` values, email-domain tricks, and `public_paths` matched on the
//! normalised path only (never the query, a fragment, `%23` or a client header).

use serde_json::{json, Value};

use super::{standard_bed, user};
use crate::support::bearer::{
    anonymous, assert_bare_challenge, assert_invalid_token, bearer, config, raw_get, route,
    start_ready, ProviderYaml,
};
use crate::support::client::{get, Resp};
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::TestGateway;

#[track_caller]
fn assert_forbidden(r: &Resp, what: &str) {
    assert_eq!(r.status, 403, "{what}: {}", r.text());
    assert_eq!(r.json()["error"], "forbidden", "{what}");
    assert!(
        r.header("www-authenticate").is_none(),
        "{what}: a policy refusal is not a challenge"
    );
}

async fn policy_bed() -> (FakeIdp, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let r = |name: &str, allow: &str| {
        route(name, &format!("/{name}"), up, &[&format!("allow: {allow}")])
    };
    let gw = start_ready(&config(
        &[ProviderYaml::default().with("userinfo: never").render(&idp)],
        &[
            r("users", "{ users: [alice] }"),
            r("groups", "{ groups: [admins, ops] }"),
            r("scopes", "{ scopes: [api1.read, api1.write] }"),
            r(
                "claims",
                "{ claims: { email_verified: true, org.tenant: acme } }",
            ),
            r("combo", "{ groups: [admins], scopes: [api1.admin] }"),
            r("email", "{ email_domains: [example.com, .corp.example] }"),
        ],
    ))
    .await;
    (idp, gw)
}

async fn call(idp: &FakeIdp, gw: &TestGateway, path: &str, name: &str, extra: Value) -> Resp {
    bearer(gw, path, &idp.sign(user(idp, name, extra))).await
}

#[tokio::test]
async fn policy_matrix_answers_401_403_and_insufficient_scope() {
    let (idp, gw) = policy_bed().await;
    for name in ["users", "groups", "scopes", "claims", "combo", "email"] {
        let path = format!("/{name}/x");
        assert_bare_challenge(&anonymous(&gw, &path).await, name, "no token");
        let expired = idp.sign(user(&idp, "alice", json!({"exp": 1})));
        assert_invalid_token(&bearer(&gw, &path, &expired).await, name, "expired");
    }
    // users: exact usernames.
    let r = call(&idp, &gw, "/users/x", "alice", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (who, extra) in [
        ("bob", json!({})),
        ("Alice", json!({})),
        ("bob", json!({"preferred_username": "alice "})),
    ] {
        assert_forbidden(&call(&idp, &gw, "/users/x", who, extra).await, who);
    }
    // groups: any of.
    for groups in [json!(["ops"]), json!(["x", "admins"])] {
        let r = call(&idp, &gw, "/groups/x", "g", json!({ "groups": groups })).await;
        assert_eq!(r.status, 200, "{groups}: {}", r.text());
    }
    for groups in [json!(["dev"]), json!(["Admins"]), json!([]), Value::Null] {
        let r = call(&idp, &gw, "/groups/x", "g", json!({ "groups": groups })).await;
        assert_forbidden(&r, &format!("groups {groups}"));
    }
    // scopes: all of, from `scope` or `scp`; a miss is 403 insufficient_scope.
    for scopes in [
        json!({"scope": "api1.read api1.write"}),
        json!({"scope": "openid api1.write api1.read"}),
        json!({"scp": ["api1.read", "api1.write"]}),
    ] {
        let r = call(&idp, &gw, "/scopes/x", "s", scopes.clone()).await;
        assert_eq!(r.status, 200, "{scopes}: {}", r.text());
    }
    for scopes in [
        json!({"scope": "api1.read"}),
        json!({}),
        json!({"scp": ["api1.write"]}),
    ] {
        let r = call(&idp, &gw, "/scopes/x", "s", scopes.clone()).await;
        assert_eq!(r.status, 403, "{scopes}: {}", r.text());
        assert_eq!(r.json()["error"], "insufficient_scope");
        assert_eq!(
            r.header("www-authenticate"),
            Some(
                r#"Bearer realm="scopes", error="insufficient_scope", scope="api1.read api1.write""#
            ),
            "{scopes}"
        );
    }
    // claims: JSON-equal, or contained in an array; dotted paths.
    for claims in [
        json!({"email_verified": true, "org": {"tenant": "acme"}}),
        json!({"email_verified": true, "org": {"tenant": ["other", "acme"]}}),
    ] {
        let r = call(&idp, &gw, "/claims/x", "c", claims.clone()).await;
        assert_eq!(r.status, 200, "{claims}: {}", r.text());
    }
    for claims in [
        json!({"email_verified": "true", "org": {"tenant": "acme"}}),
        json!({"email_verified": true, "org": {"tenant": "acme-evil"}}),
        json!({"email_verified": true}),
        json!({"org": {"tenant": "acme"}}),
        json!({"email_verified": true, "org.tenant": "other", "org": {"tenant": "x"}}),
    ] {
        let r = call(&idp, &gw, "/claims/x", "c", claims.clone()).await;
        assert_forbidden(&r, &claims.to_string());
    }
    // Identity rules come before scopes: insufficient_scope only when more scope would help.
    let r = call(&idp, &gw, "/combo/x", "a", json!({"groups": ["admins"]})).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "insufficient_scope");
    let r = call(&idp, &gw, "/combo/x", "a", json!({"scope": "api1.admin"})).await;
    assert_forbidden(&r, "scope but not the group");
    let r = call(
        &idp,
        &gw,
        "/combo/x",
        "a",
        json!({"groups": ["admins"], "scope": "api1.admin"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn email_domain_tricks_are_refused() {
    let (idp, gw) = policy_bed().await;
    for email in [
        "a@example.com",
        "A.B+tag@EXAMPLE.COM",
        "a@x.corp.example",
        "a@y.x.corp.example",
    ] {
        let r = call(&idp, &gw, "/email/x", "e", json!({ "email": email })).await;
        assert_eq!(r.status, 200, "{email}: {}", r.text());
    }
    for email in [
        "attacker@evil.com@example.com",
        "a@evil-example.com",
        "a@evilexample.com",
        "a@example.com.evil.com",
        "a@sub.example.com",
        "a@corp.example",
        "a@evil-corp.example",
        "\"a@example.com\"@evil.com",
        "a@example.com ",
        "example.com",
    ] {
        let r = call(&idp, &gw, "/email/x", "e", json!({ "email": email })).await;
        assert_forbidden(&r, email);
    }
    let r = call(&idp, &gw, "/email/x", "e", json!({"email": null})).await;
    assert_forbidden(&r, "no email");
    let r = call(
        &idp,
        &gw,
        "/email/x",
        "e",
        json!({"email": "a@example.com", "email_verified": false}),
    )
    .await;
    assert_forbidden(&r, "email_verified false");
}

#[tokio::test]
async fn public_paths_match_the_normalised_path_only() {
    let (idp, _up, gw) = standard_bed(&["public_paths: [/public, /health]"]).await;
    for (path, forwarded) in [
        ("/public", "/public"),
        ("/public/x", "/public/x"),
        ("/health", "/health"),
        ("/./public/x", "/public/x"),
        ("/admin/../public/x", "/public/x"),
        ("/%70ublic/x", "/public/x"),
    ] {
        let r = anonymous(&gw, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.echoed_path(), forwarded, "{path}");
    }
    for path in [
        "/admin?path=/public",
        "/admin?/public",
        "/admin?public",
        "/public%23/../admin",
        "/public%23",
        "/public%3F/../admin",
        "/publicity",
        "/PUBLIC/x",
        "/public/../admin",
        "/public/%2e%2e/admin",
        "/public/./../admin",
        "/admin;/public",
        "/healthz",
    ] {
        assert_bare_challenge(&anonymous(&gw, path).await, "api", path);
    }
    // Encoded separators around dot segments are refused outright.
    for path in [
        "/public%2F..%2Fadmin",
        "/public/..%2Fadmin",
        "/public/..;/admin",
    ] {
        let r = anonymous(&gw, path).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
    }
    // A fragment in the request target (clients never send one) never makes a path public.
    for target in ["/admin#/public", "/admin%23/public", "/admin#/../public"] {
        let r = raw_get(gw.running.addr, target, &[]).await;
        assert!(r.status == 400 || r.status == 401, "{target}: {}", r.head);
    }
    // Headers a client controls never decide the path.
    for header in [
        "x-original-url",
        "x-rewrite-url",
        "x-forwarded-uri",
        "x-forwarded-prefix",
        "x-forwarded-path",
        "x-envoy-original-path",
    ] {
        let r = get(&format!("{}/admin", gw.url), &[(header, "/public/x")]).await;
        assert_bare_challenge(&r, "api", header);
    }
    // With a token the same trick reaches only the path it really names.
    let token = idp.sign(user(&idp, "alice", json!({})));
    let r = bearer(&gw, "/public%23/../admin", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_path(), "/admin");
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
}
