//! `rate_limit_store: redis`: replicas share the buckets through a real `redis-server`
//! started on a free port, and fall back to their local buckets while it is down.

use crate::support::bearer::poll;
use crate::support::client::{get, Resp};
use crate::support::redis::RedisServer;
use crate::support::TestGateway;

use super::{assert_limited, counting_upstream, decisions, fallbacks};

async fn replica(redis: &RedisServer, up: std::net::SocketAddr, burst: u64) -> TestGateway {
    TestGateway::start(&format!(
        r#"
rate_limit_store: redis
session:
  redis: {{ url: "{}" }}
routes:
  - name: api
    upstream: "http://{up}"
    auth: none
    rate_limit: {{ key: ip, rate: 1/h, burst: {burst} }}
"#,
        redis.url()
    ))
    .await
}

/// Sends `n` requests to each gateway, all at once.
async fn flood(gateways: &[&TestGateway], n: usize) -> Vec<Resp> {
    let mut tasks = Vec::new();
    for gw in gateways {
        for i in 0..n {
            let url = format!("{}/r{i}", gw.url);
            tasks.push(tokio::spawn(async move { get(&url, &[]).await }));
        }
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("request task"));
    }
    out
}

#[tokio::test]
async fn two_replicas_with_one_redis_together_admit_exactly_the_burst() {
    let redis = RedisServer::start().await;
    let (up, hits) = counting_upstream().await;
    let a = replica(&redis, up, 5).await;
    let b = replica(&redis, up, 5).await;
    // 1/h with a burst of 5: whatever the interleaving, exactly 5 of 40 get through.
    let answers = flood(&[&a, &b], 20).await;
    let admitted = answers.iter().filter(|r| r.status == 200).count();
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_limited(r, "ip", 5, 18_000, 3600, "over the shared burst");
    }
    assert_eq!(
        (fallbacks(&a, "api").await, fallbacks(&b, "api").await),
        (0.0, 0.0),
        "every check must have been answered by Redis"
    );
    assert_eq!(admitted, 5, "two replicas together");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 5);
    let allowed =
        decisions(&a, "api", "ip", "allowed").await + decisions(&b, "api", "ip", "allowed").await;
    assert_eq!(allowed, 5.0);
    // One key, hashed, expiring with the bucket.
    let keys = redis.command("KEYS portcullis:rl:*").await;
    assert!(keys.starts_with("*1\r\n"), "{keys}");
    assert!(keys.contains("portcullis:rl:api:ip:"), "{keys}");
    assert!(!keys.contains("127.0.0.1"), "{keys}");
}

#[tokio::test]
async fn redis_down_falls_back_to_local_buckets_and_says_so() {
    let mut redis = RedisServer::start().await;
    let (up, _) = counting_upstream().await;
    let gw = replica(&redis, up, 3).await;
    let url = format!("{}/x", gw.url);
    assert_eq!(get(&url, &[]).await.status, 200);
    assert_eq!(fallbacks(&gw, "api").await, 0.0);

    redis.kill();
    // Neither open nor closed: this replica's own bucket (full: nothing was counted
    // locally yet) admits the burst, then refuses.
    for i in 0..3 {
        assert_eq!(get(&url, &[]).await.status, 200, "local request {i}");
    }
    assert_limited(&get(&url, &[]).await, "ip", 3, 10_800, 3600, "local");
    assert_eq!(fallbacks(&gw, "api").await, 4.0);

    // Back: checks return to the (restarted, empty) shared store by themselves.
    redis.restart().await;
    let gw_ref = &gw;
    let url_ref = url.as_str();
    let back = poll(std::time::Duration::from_secs(20), || async move {
        let before = fallbacks(gw_ref, "api").await;
        let r = get(url_ref, &[]).await;
        fallbacks(gw_ref, "api").await == before && r.status == 200
    })
    .await;
    assert!(back, "checks went back to Redis");
}

#[tokio::test]
async fn in_redis_too_a_request_refused_by_one_limit_takes_nothing_from_another() {
    let redis = RedisServer::start().await;
    let (up, _) = counting_upstream().await;
    let gw = TestGateway::start(&format!(
        r#"
rate_limit_store: redis
session:
  redis: {{ url: "{}" }}
routes:
  - name: api
    upstream: "http://{up}"
    auth: none
    rate_limit:
      - {{ key: ip, rate: 1/h, burst: 4 }}
      - {{ key: "header:x-k", rate: 1/h, burst: 1 }}
"#,
        redis.url()
    ))
    .await;
    let url = format!("{}/x", gw.url);
    assert_eq!(get(&url, &[("x-k", "a")]).await.status, 200);
    // Refused by the header limit: the ip token each took is given back in Redis.
    for _ in 0..5 {
        let r = get(&url, &[("x-k", "a")]).await;
        assert_limited(&r, "header:x-k", 1, 3600, 3600, "second use of key a");
    }
    for k in ["b", "c", "d"] {
        assert_eq!(get(&url, &[("x-k", k)]).await.status, 200, "key {k}");
    }
    assert_limited(
        &get(&url, &[("x-k", "e")]).await,
        "ip",
        4,
        14_400,
        3600,
        "ip",
    );
    assert_eq!(fallbacks(&gw, "api").await, 0.0);
}
