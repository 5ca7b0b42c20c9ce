//! Redis outage: while it is down, session routes answer 503 with `Retry-After` (never a
//! logout, never a login redirect; a replica's copy of a session may serve it for up to
//! a second after Redis went away), bearer routes keep answering 200 and `/readyz` says
//! why; once Redis is back on the same port both replicas serve sessions again by
//! themselves. Waits poll a condition with a bounded deadline.

use std::time::Duration;

use serde_json::json;

use super::Pair;
use crate::support::bearer::poll;
use crate::support::client::get;
use crate::support::TestGateway;

const LIMIT: Duration = Duration::from_secs(20);

async fn readyz(gw: &TestGateway) -> (u16, String) {
    let r = get(&format!("{}/readyz", gw.admin_url), &[]).await;
    (r.status.as_u16(), r.text())
}

#[tokio::test]
async fn redis_down_means_503_for_sessions_only_and_recovery_is_automatic() {
    let mut pair = Pair::start().await;
    let browser = pair.signed_in().await;
    let idp = &pair.bed.idp;
    let token = idp.sign(idp.claims_for("svc", "api1", json!({})));
    let bearer = format!("Bearer {token}");
    assert_eq!(browser.api_get(&pair.b("/app/x")).await.status, 200);

    pair.redis.kill();

    for url in [pair.a("/app/x"), pair.b("/app/x")] {
        // A replica may answer from its copy of the session until it notices that the
        // invalidation subscription is gone (within a second).
        let unavailable = poll(LIMIT, || async {
            browser.api_get(&url).await.status == 503
        })
        .await;
        assert!(unavailable, "no 503 from {url} while Redis is down");
        let hop = browser.api_get(&url).await;
        assert_eq!(hop.status, 503, "{}: {}", hop.describe(), hop.text());
        assert!(
            hop.header("retry-after").is_some(),
            "503 without Retry-After"
        );
        // A navigation is not sent to the login either: the session may be fine.
        let hop = browser.get(&url).await;
        assert_eq!(hop.status, 503, "{}", hop.describe());
        assert!(
            pair.bed.session_cookies(&browser).len() == 1,
            "the outage must not delete the cookie"
        );
    }
    // Bearer routes do not need Redis.
    for url in [pair.a("/api/x"), pair.b("/api/x")] {
        let r = get(&url, &[("authorization", bearer.as_str())]).await;
        assert_eq!(r.status, 200, "bearer during the outage: {}", r.text());
    }
    // A new login gets through the provider but cannot be stored: 503, not a 500.
    let fresh = crate::support::browser::Browser::new();
    let chain = fresh.follow(&pair.a("/app/x")).await;
    let last = chain.last();
    assert_eq!(last.status, 503, "{}", chain.describe());
    assert!(
        last.url.contains("/oauth2/callback"),
        "{}",
        chain.describe()
    );
    assert!(last.header("retry-after").is_some());
    for gw in [&pair.bed.gw, &pair.b] {
        let down = poll(LIMIT, || async {
            let (status, body) = readyz(gw).await;
            status == 503 && body.contains("redis unreachable")
        })
        .await;
        assert!(down, "/readyz should report redis: {:?}", readyz(gw).await);
    }

    pair.redis.restart().await;

    for gw in [&pair.bed.gw, &pair.b] {
        let up = poll(LIMIT, || async { readyz(gw).await.0 == 200 }).await;
        assert!(up, "/readyz after restart: {:?}", readyz(gw).await);
    }
    // The restarted Redis is empty (no persistence): the old session is simply gone.
    let hop = browser.api_get(&pair.a("/app/x")).await;
    assert_eq!(hop.status, 401, "{}: {}", hop.describe(), hop.text());
    // New sessions work on both replicas, without restarting either.
    let again = pair.signed_in().await;
    let hop = again.api_get(&pair.b("/app/x")).await;
    assert_eq!(hop.status, 200, "{}: {}", hop.describe(), hop.text());
}

#[tokio::test]
async fn a_gateway_starts_while_redis_is_down_and_becomes_ready_when_it_comes() {
    let mut redis = crate::support::redis::RedisServer::start().await;
    redis.kill();
    let secret = crate::sso::new_secret();
    let idp = crate::support::fake_idp::FakeIdp::start().await;
    let up = crate::support::echo_upstream().await;
    let yaml = format!(
        "providers:\n  - name: idp\n    issuer: \"{}\"\n    client_id: portcullis\n    \
         client_secret: s\n    tokens:\n      audiences: [api1]\n\
         session:\n  secrets: [\"{secret}\"]\n  store: redis\n  redis: {{ url: \"{}\" }}\n\
         routes:\n  - name: app\n    match: {{ path_prefix: \"/app/\" }}\n    upstream: \
         \"http://{up}\"\n    auth: session\n",
        idp.issuer(),
        redis.url()
    );
    let gw = TestGateway::start(&yaml).await;
    let reported = poll(LIMIT, || async {
        readyz(&gw).await.1.contains("redis unreachable")
    })
    .await;
    assert!(reported, "{:?}", readyz(&gw).await);
    let r = get(
        &format!("{}/app/x", gw.url),
        &[("accept", "application/json"), ("cookie", "portcullis=abc")],
    )
    .await;
    // A cookie that does not even authenticate needs no Redis: plain 401.
    assert_eq!(r.status, 401, "{}", r.text());
    redis.restart().await;
    let up = poll(LIMIT, || async { readyz(&gw).await.0 == 200 }).await;
    assert!(up, "{:?}", readyz(&gw).await);
}
