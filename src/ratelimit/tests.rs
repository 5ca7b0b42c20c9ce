// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Route limits end to end in-process (local buckets): which limit runs when, what keys
//! share a bucket, the 429 `error::respond` makes of a refusal, reloads keeping buckets,
//! and the local store's memory bounds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use super::*;
use crate::config::{load_str, Config};
use crate::error::{respond, ErrorContext};

fn config(limits: &str) -> Config {
    load_str(&format!(
        r#"
providers:
  - name: corp
    issuer: "https://idp.example.com"
    client_id: portcullis
    client_secret: s
routes:
  - name: api
    upstream: "http://127.0.0.1:1"
    auth: bearer
    rate_limit:
{limits}
"#
    ))
    .unwrap()
}

fn limits_of(cfg: &Config, previous: Option<&RouteLimits>) -> RouteLimits {
    let metrics = Metrics::new().unwrap();
    RouteLimits::build(&cfg.routes[0], &Arc::from("api"), previous, None, &metrics)
}

static NOTHING_ADDED: std::sync::LazyLock<crate::transport::upstream::Added> =
    std::sync::LazyLock::new(crate::transport::upstream::Added::default);

fn client<'a>(peer: &str, headers: &'a HeaderMap) -> Client<'a> {
    Client {
        peer: peer.parse().unwrap(),
        peer_trusted: false,
        trusted_proxies: &[],
        headers,
        added: &NOTHING_ADDED,
    }
}

fn principal(sub: &str, claims: serde_json::Value) -> Principal {
    let serde_json::Value::Object(mut map) = claims else {
        unreachable!()
    };
    map.insert("sub".into(), json!(sub));
    Principal {
        rendered: Default::default(),
        asserted: Default::default(),
        subject: sub.into(),
        username: None,
        email: None,
        groups: Vec::new(),
        scopes: Vec::new(),
        claims: Arc::new(map),
        provider: 0,
    }
}

async fn admitted_before(l: &RouteLimits, c: &Client<'_>, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        if l.check_before_auth(c).await.is_ok() {
            ok += 1;
        }
    }
    ok
}

async fn admitted_after(l: &RouteLimits, p: &Principal, cfg: &Config, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        if l.check_after_auth(p, &cfg.providers[0]).await.is_ok() {
            ok += 1;
        }
    }
    ok
}

#[tokio::test]
async fn an_ip_limit_admits_the_burst_per_address_then_refuses_with_fields() {
    let cfg = config("      - { key: ip, rate: 1/h, burst: 3 }");
    let l = limits_of(&cfg, None);
    assert!(l.any_before_auth() && !l.any_after_auth());
    let h = HeaderMap::new();
    assert_eq!(admitted_before(&l, &client("192.0.2.1", &h), 10).await, 3);
    assert_eq!(admitted_before(&l, &client("192.0.2.2", &h), 10).await, 3);
    // The same /64 is one client.
    assert_eq!(admitted_before(&l, &client("2001:db8::1", &h), 10).await, 3);
    assert_eq!(admitted_before(&l, &client("2001:db8::2", &h), 10).await, 0);
    let err = l
        .check_before_auth(&client("192.0.2.1", &h))
        .await
        .unwrap_err();
    let id = HeaderValue::from_static("req-1");
    let ctx = ErrorContext {
        resource_metadata: None,
        request_id: &id,
        realm: Some("api"),
        schemes: &[],
        html: false,
        grpc: None,
    };
    let r = respond(&err, &ctx);
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // 1/h: the next request fits in an hour (a few ns less, rounded up).
    assert_eq!(r.headers()[RETRY_AFTER], "3600");
    assert_eq!(r.headers()["ratelimit"], "\"ip\";r=0;t=3600");
    assert_eq!(r.headers()["ratelimit-policy"], "\"ip\";q=3;w=10800");
    assert!(r.headers().get(http::header::WWW_AUTHENTICATE).is_none());
    assert!(format!("{:?}", r.body()).contains("rate_limited"));
}

#[tokio::test]
async fn header_keys_count_each_value_and_requests_without_it_together() {
    let cfg = config("      - { key: \"header:x-api-key\", rate: 1/h, burst: 2 }");
    let l = limits_of(&cfg, None);
    let mut a = HeaderMap::new();
    a.insert("x-api-key", HeaderValue::from_static("key-a"));
    let mut b = HeaderMap::new();
    b.insert("x-api-key", HeaderValue::from_static("key-b"));
    let none = HeaderMap::new();
    // Header keys ignore the address.
    assert_eq!(admitted_before(&l, &client("192.0.2.1", &a), 5).await, 2);
    assert_eq!(admitted_before(&l, &client("192.0.2.9", &a), 5).await, 0);
    assert_eq!(admitted_before(&l, &client("192.0.2.1", &b), 5).await, 2);
    assert_eq!(admitted_before(&l, &client("192.0.2.1", &none), 5).await, 2);
    assert_eq!(admitted_before(&l, &client("192.0.2.2", &none), 5).await, 0);
}

#[tokio::test]
async fn principal_and_client_limits_count_after_authentication() {
    let cfg = config(
        "      - { key: principal, rate: 1/h, burst: 2 }\n      - { key: client, rate: 1/h, burst: 3 }",
    );
    let l = limits_of(&cfg, None);
    assert!(!l.any_before_auth() && l.any_after_auth());
    let alice = principal("alice", json!({"azp": "app-1"}));
    let bob = principal("bob", json!({"azp": "app-1"}));
    let carol = principal("carol", json!({"azp": "app-2"}));
    // Two users are independent...
    assert_eq!(admitted_after(&l, &alice, &cfg, 5).await, 2);
    // ...but bob shares alice's client, which has one request left.
    assert_eq!(admitted_after(&l, &bob, &cfg, 5).await, 1);
    assert_eq!(admitted_after(&l, &carol, &cfg, 5).await, 2);
    let err = l
        .check_after_auth(&alice, &cfg.providers[0])
        .await
        .unwrap_err();
    let GatewayError::RateLimited(limited) = err else {
        panic!("{err}")
    };
    assert_eq!(limited.policy(), "principal");
    let err = l
        .check_after_auth(&bob, &cfg.providers[0])
        .await
        .unwrap_err();
    let GatewayError::RateLimited(limited) = err else {
        panic!("{err}")
    };
    assert_eq!(limited.policy(), "client");
}

#[tokio::test]
async fn policies_of_the_same_key_are_numbered_and_every_one_must_admit() {
    let cfg = config(
        "      - { key: ip, rate: 10/s, burst: 10 }\n      - { key: ip, rate: 1/h, burst: 4 }",
    );
    let l = limits_of(&cfg, None);
    let h = HeaderMap::new();
    let c = client("192.0.2.1", &h);
    assert_eq!(admitted_before(&l, &c, 4).await, 4);
    let GatewayError::RateLimited(limited) = l.check_before_auth(&c).await.unwrap_err() else {
        panic!("limited")
    };
    assert_eq!(limited.policy(), "ip#2");
}

#[tokio::test]
async fn a_request_refused_by_one_limit_never_drains_another() {
    let cfg = config(
        "      - { key: ip, rate: 1/h, burst: 10 }\n      - { key: \"header:x-k\", rate: 1/h, burst: 1 }",
    );
    let l = limits_of(&cfg, None);
    let with = |k: String| {
        let mut h = HeaderMap::new();
        h.insert("x-k", HeaderValue::from_str(&k).unwrap());
        h
    };
    let k1 = with("k1".into());
    assert_eq!(admitted_before(&l, &client("192.0.2.1", &k1), 6).await, 1);
    // The five refused by the header limit gave their ip token back: 9 left.
    let mut admitted = 0;
    for n in 2..20 {
        let h = with(format!("k{n}"));
        admitted += admitted_before(&l, &client("192.0.2.1", &h), 1).await;
    }
    assert_eq!(admitted, 9);
}

#[tokio::test]
async fn a_reload_keeps_the_buckets() {
    let cfg = config("      - { key: ip, rate: 1/h, burst: 2 }");
    let before = limits_of(&cfg, None);
    let h = HeaderMap::new();
    let c = client("192.0.2.1", &h);
    assert_eq!(admitted_before(&before, &c, 2).await, 2);
    let after = limits_of(&cfg, Some(&before));
    assert_eq!(admitted_before(&after, &c, 5).await, 0);
    // Without the previous snapshot: fresh buckets.
    let fresh = limits_of(&cfg, None);
    assert_eq!(admitted_before(&fresh, &c, 5).await, 2);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_counted() {
    let cfg = config("      - { key: ip, rate: 1/h, burst: 1 }");
    let l = limits_of(&cfg, None);
    let nets = [Cidr::parse("10.0.0.0/8").unwrap()];
    let via = |xff: &'static str| {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(xff));
        h
    };
    let (h1, h2) = (via("198.51.100.1, 10.0.0.2"), via("198.51.100.2, 10.0.0.2"));
    let behind = |h| Client {
        peer: "10.0.0.2".parse().unwrap(),
        peer_trusted: true,
        trusted_proxies: &nets,
        headers: h,
        added: &NOTHING_ADDED,
    };
    assert_eq!(admitted_before(&l, &behind(&h1), 3).await, 1);
    assert_eq!(admitted_before(&l, &behind(&h2), 3).await, 1);
}

mod store {
    use std::hash::Hasher as _;
    use std::time::Duration;

    use super::super::gcra::{Quota, Verdict};
    use super::super::local::LocalStore;

    const S: u64 = 1_000_000_000;

    fn quota(burst: u64) -> Quota {
        Quota::new(1, Duration::from_secs(1), burst).unwrap()
    }

    fn key(store: &LocalStore, n: u64) -> u64 {
        let mut h = store.hasher();
        h.write(&n.to_le_bytes());
        h.finish()
    }

    #[test]
    fn keys_are_independent() {
        let s = LocalStore::new(1000);
        let q = quota(1);
        assert!(matches!(
            s.check(key(&s, 1), S, &q),
            Verdict::Allowed { .. }
        ));
        assert!(matches!(
            s.check(key(&s, 1), S, &q),
            Verdict::Limited { .. }
        ));
        assert!(matches!(
            s.check(key(&s, 2), S, &q),
            Verdict::Allowed { .. }
        ));
    }

    #[test]
    fn a_flood_of_new_keys_stays_within_the_bound() {
        let s = LocalStore::new(64);
        let q = quota(10);
        for n in 0..20_000 {
            s.check(key(&s, n), S + n, &q);
        }
        assert!(s.len() <= 64, "{} keys", s.len());
    }

    #[test]
    fn a_key_in_debt_outlives_a_flood_of_one_shot_keys() {
        let s = LocalStore::new(64);
        let q = quota(5);
        let heavy = key(&s, u64::MAX);
        for _ in 0..5 {
            s.check(heavy, S, &q);
        }
        for n in 0..10_000 {
            s.check(key(&s, n), S, &q);
        }
        // Still in debt: the flood evicted only buckets nearer to full.
        assert!(matches!(s.check(heavy, S, &q), Verdict::Limited { .. }));
    }

    #[test]
    fn idle_keys_are_swept_once_their_bucket_is_full() {
        let s = LocalStore::new(1000);
        let q = quota(3);
        for n in 0..100 {
            s.check(key(&s, n), S, &q);
        }
        assert_eq!(s.len(), 100);
        // One second later each bucket is full again (one request, 1/s).
        s.sweep(2 * S - 1);
        assert_eq!(s.len(), 100);
        s.sweep(2 * S);
        assert!(s.is_empty());
    }
}
