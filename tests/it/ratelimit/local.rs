//! Local buckets: what each key counts, and that a limit checked before authentication
//! refuses before anything looks at the credentials.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::{assert_limited, counting_upstream, decisions};
use crate::bearer::user;
use crate::support::bearer::{anonymous, bearer, poll, standard, start_ready};
use crate::support::client::get;
use crate::support::fake_idp::{Endpoint, FakeIdp};
use crate::support::{with_listen, TestGateway};

#[tokio::test]
async fn an_ip_limit_refuses_a_flood_before_authentication() {
    let idp = FakeIdp::start().await;
    let (up, upstream_hits) = counting_upstream().await;
    let gw = start_ready(&standard(
        &idp,
        up,
        &["rate_limit: { key: ip, rate: 1/h, burst: 3 }"],
    ))
    .await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    // Within the burst: the usual answers (an unknown opaque token is introspected).
    assert_eq!(bearer(&gw, "/a", &token).await.status, 200);
    assert_eq!(anonymous(&gw, "/a").await.status, 401);
    assert_eq!(bearer(&gw, "/a", "opaque-1").await.status, 401);
    let introspections = idp.hits(Endpoint::Introspection);
    let jwks = idp.hits(Endpoint::Jwks);
    let discovery = idp.hits(Endpoint::Discovery);
    assert_eq!(introspections, 1, "the opaque token was introspected");
    assert_eq!(upstream_hits.load(Ordering::SeqCst), 1);

    // Over the limit: 429 whatever the credentials — none, valid, never seen — and
    // nothing is asked of the IdP or the upstream.
    let fresh = idp.sign(user(&idp, "bob", json!({})));
    for (what, r) in [
        ("no token", anonymous(&gw, "/a").await),
        ("valid token", bearer(&gw, "/a", &token).await),
        ("unknown opaque token", bearer(&gw, "/a", "opaque-2").await),
        ("another user's token", bearer(&gw, "/b", &fresh).await),
    ] {
        assert_limited(&r, "ip", 3, 10_800, 3600, what);
    }
    assert_eq!(idp.hits(Endpoint::Introspection), introspections);
    assert_eq!(idp.hits(Endpoint::Jwks), jwks);
    assert_eq!(idp.hits(Endpoint::Discovery), discovery);
    assert_eq!(upstream_hits.load(Ordering::SeqCst), 1);
    assert_eq!(decisions(&gw, "api", "ip", "allowed").await, 3.0);
    assert_eq!(decisions(&gw, "api", "ip", "limited").await, 4.0);
    // The metrics never carry a key value.
    assert!(!gw.metrics().await.contains("127.0.0.1"));
}

#[tokio::test]
async fn a_principal_limit_counts_each_user_on_its_own() {
    let idp = FakeIdp::start().await;
    let (up, upstream_hits) = counting_upstream().await;
    let gw = start_ready(&standard(
        &idp,
        up,
        &["rate_limit: [{ key: principal, rate: 1/h, burst: 2 }]"],
    ))
    .await;
    let alice = idp.sign(user(&idp, "alice", json!({})));
    // A second token of the same user counts for the same principal.
    let alice_again = idp.sign(user(&idp, "alice", json!({"jti": "second"})));
    let bob = idp.sign(user(&idp, "bob", json!({})));
    assert_eq!(bearer(&gw, "/a", &alice).await.status, 200);
    assert_eq!(bearer(&gw, "/a", &alice_again).await.status, 200);
    assert_limited(
        &bearer(&gw, "/a", &alice).await,
        "principal",
        2,
        7200,
        3600,
        "alice's third",
    );
    assert_eq!(bearer(&gw, "/a", &bob).await.status, 200);
    assert_eq!(bearer(&gw, "/a", &bob).await.status, 200);
    assert_limited(
        &bearer(&gw, "/a", &bob).await,
        "principal",
        2,
        7200,
        3600,
        "bob's third",
    );
    // Counted after authentication: no principal, no count, the usual 401.
    for _ in 0..3 {
        assert_eq!(anonymous(&gw, "/a").await.status, 401);
    }
    assert_eq!(upstream_hits.load(Ordering::SeqCst), 4);
    assert_eq!(decisions(&gw, "api", "principal", "allowed").await, 4.0);
    assert_eq!(decisions(&gw, "api", "principal", "limited").await, 2.0);
}

#[tokio::test]
async fn a_header_limit_counts_each_value_and_requests_without_it_together() {
    let (up, upstream_hits) = counting_upstream().await;
    let gw = TestGateway::start(&format!(
        r#"
routes:
  - name: open
    upstream: "http://{up}"
    auth: none
    rate_limit: {{ key: "header:X-Api-Key", rate: 1/h, burst: 2 }}
"#
    ))
    .await;
    let url = format!("{}/x", gw.url);
    let with = |key: &'static str| vec![("x-api-key", key)];
    for _ in 0..2 {
        assert_eq!(get(&url, &with("key-a")).await.status, 200);
    }
    assert_limited(
        &get(&url, &with("key-a")).await,
        "header:x-api-key",
        2,
        7200,
        3600,
        "key-a's third",
    );
    assert_eq!(get(&url, &with("key-b")).await.status, 200);
    for _ in 0..2 {
        assert_eq!(get(&url, &[]).await.status, 200);
    }
    assert_eq!(get(&url, &[]).await.status, 429, "no key: one bucket");
    assert_eq!(upstream_hits.load(Ordering::SeqCst), 5);
    // The header's values are hashed: never in metrics.
    assert!(!gw.metrics().await.contains("key-a"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted() {
    let (up, _) = counting_upstream().await;
    let route = format!(
        r#"
routes:
  - name: open
    upstream: "http://{up}"
    auth: none
    rate_limit: {{ key: ip, rate: 1/m, burst: 1 }}
"#
    );
    let trusted = TestGateway::start(&format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  trusted_proxies: [\"127.0.0.1/32\"]\nadmin:\n  listen: \"127.0.0.1:0\"\n{route}"
    ))
    .await;
    let url = format!("{}/x", trusted.url);
    let from = |client: &'static str| vec![("x-forwarded-for", client)];
    assert_eq!(get(&url, &from("198.51.100.1")).await.status, 200);
    assert_eq!(get(&url, &from("198.51.100.1")).await.status, 429);
    assert_eq!(get(&url, &from("198.51.100.2")).await.status, 200);
    // A client cannot pick its address by prepending to the chain.
    let forged = vec![("x-forwarded-for", "203.0.113.7, 198.51.100.1")];
    assert_eq!(get(&url, &forged).await.status, 429);

    // From an untrusted peer, X-Forwarded-For is the client's own claim: ignored.
    let untrusted = TestGateway::start(&route).await;
    let url = format!("{}/x", untrusted.url);
    assert_eq!(get(&url, &from("198.51.100.1")).await.status, 200);
    assert_eq!(get(&url, &from("198.51.100.2")).await.status, 429);
}

#[tokio::test]
async fn a_reload_keeps_the_buckets() {
    let (up, _) = counting_upstream().await;
    let route = |burst: u64, extra: &str| {
        format!(
            "routes:\n  - name: open\n    upstream: \"http://{up}\"\n    auth: none\n    \
             rate_limit: {{ key: ip, rate: 1/h, burst: {burst} }}\n{extra}"
        )
    };
    let gw = TestGateway::start_with_file(&route(2, "")).await;
    let path = gw.config_path.clone().expect("config path");
    let url = format!("{}/x", gw.url);
    assert_eq!(get(&url, &[]).await.status, 200);
    assert_eq!(get(&url, &[]).await.status, 200);
    assert_eq!(get(&url, &[]).await.status, 429);

    // Another route appears, the limit's burst grows by one: one more request, not a
    // fresh burst of three.
    let more = format!(
        "  - name: other\n    match: {{ path_prefix: /other/ }}\n    upstream: \"http://{up}\"\n    auth: none\n"
    );
    std::fs::write(&path, with_listen(&route(3, &more))).expect("write config");
    let gw_ref = &gw;
    let reloaded = poll(std::time::Duration::from_secs(20), || async move {
        gw_ref
            .metric("portcullis_config_reloads_total{result=\"ok\"}")
            .await
            == 1.0
    })
    .await;
    assert!(reloaded, "reload applied");
    assert_eq!(get(&url, &[]).await.status, 200);
    assert_limited(
        &get(&url, &[]).await,
        "ip",
        3,
        10_800,
        3600,
        "after the reload",
    );
}
