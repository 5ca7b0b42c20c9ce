//! Two replicas with `session.store: redis` share the DPoP replay cache (`SET NX EX` in
//! Redis): a proof used on one is refused on the other, the entry expires on its own,
//! and a Redis outage is a 503 (never "not a replay").

use serde_json::json;

use super::{call, server_head, PUBLIC};
use crate::support::bearer::{config, route, start_ready, ProviderYaml, AUD};
use crate::support::client::Resp;
use crate::support::dpop::DpopKey;
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::redis::RedisServer;
use crate::support::TestGateway;

const SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

async fn replica(idp: &FakeIdp, redis: &RedisServer) -> TestGateway {
    let up = echo_upstream().await;
    let provider = ProviderYaml::default().with("dpop: allowed").render(idp);
    let yaml = server_head(Some(PUBLIC))
        + &config(&[provider], &[route("api", "/", up, &[])])
        + &format!(
            "session:\n  secrets: [\"{SECRET}\"]\n  store: redis\n  redis: {{ url: \"{}\" }}\n",
            redis.url()
        );
    start_ready(&yaml).await
}

async fn dpop_get(gw: &TestGateway, token: &str, proof: &str) -> Resp {
    let auth = format!("DPoP {token}");
    call(
        gw,
        "GET",
        "/x",
        &[("authorization", &auth), ("dpop", proof)],
    )
    .await
}

#[tokio::test]
async fn a_proof_used_on_one_replica_is_refused_by_the_other() {
    let redis = RedisServer::start().await;
    let idp = FakeIdp::start().await;
    let (a, b) = (replica(&idp, &redis).await, replica(&idp, &redis).await);
    let key = DpopKey::new();
    let mut claims = idp.claims_for("sub-alice", AUD, json!({}));
    claims["cnf"] = json!({"jkt": key.jkt});
    let token = idp.sign(claims);
    let proof = key.proof("GET", &format!("{PUBLIC}/x"), &token);
    assert_eq!(dpop_get(&a, &token, &proof).await.status, 200);
    let r = dpop_get(&b, &token, &proof).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_dpop_proof");
    // Keyed by the proof key's thumbprint; the jti never in clear; with a TTL.
    let keys = redis
        .command(&format!("KEYS portcullis:jti:dpop:{}:*", key.jkt))
        .await;
    assert_eq!(
        keys.lines()
            .filter(|l| l.starts_with("portcullis:"))
            .count(),
        1,
        "{keys}"
    );
    let name = keys
        .lines()
        .find(|l| l.starts_with("portcullis:"))
        .unwrap_or_default();
    let ttl: i64 = redis
        .command(&format!("TTL {name}"))
        .await
        .trim()
        .trim_start_matches(':')
        .parse()
        .unwrap_or(-9);
    assert!((1..=200).contains(&ttl), "ttl {ttl}");
    // Fresh proofs keep working on both.
    for gw in [&a, &b] {
        let proof = key.proof("GET", &format!("{PUBLIC}/x"), &token);
        assert_eq!(dpop_get(gw, &token, &proof).await.status, 200);
    }
}

#[tokio::test]
async fn redis_down_is_503_not_a_pass() {
    let mut redis = RedisServer::start().await;
    let idp = FakeIdp::start().await;
    let gw = replica(&idp, &redis).await;
    let key = DpopKey::new();
    let mut claims = idp.claims_for("sub-alice", AUD, json!({}));
    claims["cnf"] = json!({"jkt": key.jkt});
    let token = idp.sign(claims);
    redis.kill();
    let r = dpop_get(
        &gw,
        &token,
        &key.proof("GET", &format!("{PUBLIC}/x"), &token),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.header("retry-after").is_some());
}
