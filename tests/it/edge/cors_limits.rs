//! CORS on routes with rate limits, through a running gateway: a 429 (from a limit
//! checked before authentication or after it) carries the CORS fields for an allowed
//! origin and exposes the fields that explain it, so the page that caused it can read
//! it; and a preflight is answered before the limits (pipeline phase 4b before 4c):
//! neither refused by an exhausted bucket nor taking anything from it.

use serde_json::json;

use crate::bearer::user;
use crate::ratelimit::{assert_limited, decisions};
use crate::support::bearer::{config, route, start_ready, ProviderYaml};
use crate::support::client::{send, Resp};
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::TestGateway;

const APP: &str = "https://app.example";
const CORS: &str = "cors: { allow_origins: [\"https://app.example\"], \
     allow_methods: [GET, POST], allow_headers: [Authorization], \
     expose_headers: [X-Trace], allow_credentials: true }";

/// Route `ip` (`/ip`: an ip limit, burst 2) and route `user` (`/user`: a principal
/// limit, burst 1), both bearer routes with [`CORS`], one request an hour after the burst.
async fn bed() -> (FakeIdp, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let gw = start_ready(&config(
        &[ProviderYaml::default().with("userinfo: never").render(&idp)],
        &[
            route(
                "ip",
                "/ip",
                up,
                &[CORS, "rate_limit: { key: ip, rate: 1/h, burst: 2 }"],
            ),
            route(
                "user",
                "/user",
                up,
                &[CORS, "rate_limit: { key: principal, rate: 1/h, burst: 1 }"],
            ),
        ],
    ))
    .await;
    (idp, gw)
}

async fn req(gw: &TestGateway, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    send(
        method,
        &format!("{}{path}", gw.url),
        headers,
        Default::default(),
    )
    .await
}

fn varies_on_origin(r: &Resp) -> bool {
    r.headers
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
}

/// The CORS fields a page on [`APP`] needs to read this response (with credentials).
#[track_caller]
fn assert_readable(r: &Resp, what: &str) {
    let allow: Vec<_> = r
        .headers
        .get_all("access-control-allow-origin")
        .iter()
        .collect();
    assert_eq!(allow, [APP], "{what}: {:?}", r.headers);
    assert_eq!(
        r.header("access-control-allow-credentials"),
        Some("true"),
        "{what}"
    );
    assert!(varies_on_origin(r), "{what}: Vary: Origin");
}

/// A 429 a page can read: the CORS fields, and what explains it exposed.
#[track_caller]
fn assert_readable_429(r: &Resp, what: &str) {
    assert_readable(r, what);
    let exposed: Vec<String> = r
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    for name in ["x-trace", "retry-after", "ratelimit", "ratelimit-policy"] {
        assert!(
            exposed.iter().any(|e| e == name),
            "{what}: {name} not exposed ({exposed:?})"
        );
    }
    assert!(
        !exposed.iter().any(|e| e == "www-authenticate"),
        "{what}: a 429 has no challenge to expose ({exposed:?})"
    );
}

#[tokio::test]
async fn a_429_carries_the_cors_fields_a_page_needs_to_read_it() {
    let (idp, gw) = bed().await;
    let alice = format!("Bearer {}", idp.sign(user(&idp, "alice", json!({}))));
    let page = [("origin", APP), ("authorization", alice.as_str())];

    // A principal limit (after authentication): the second request is refused.
    let r = req(&gw, "GET", "/user/a", &page).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_readable(&r, "admitted");
    let r = req(&gw, "GET", "/user/a", &page).await;
    assert_limited(&r, "principal", 1, 3600, 3600, "principal");
    assert_readable_429(&r, "principal 429");

    // An ip limit (before authentication): refused before the token is even read.
    for _ in 0..2 {
        assert_eq!(req(&gw, "GET", "/ip/a", &page).await.status, 200);
    }
    let r = req(&gw, "GET", "/ip/a", &page).await;
    assert_limited(&r, "ip", 2, 7200, 3600, "ip");
    assert_readable_429(&r, "ip 429");
    // Without credentials too: a 429, not a 401, and readable.
    let r = req(&gw, "GET", "/ip/a", &[("origin", APP)]).await;
    assert_limited(&r, "ip", 2, 7200, 3600, "ip, anonymous");
    assert_readable_429(&r, "ip 429, anonymous");

    // Another origin gets the same 429 with no CORS field, only Vary: Origin.
    for path in ["/user/a", "/ip/a"] {
        let r = req(
            &gw,
            "GET",
            path,
            &[
                ("origin", "https://evil.example"),
                ("authorization", &alice),
            ],
        )
        .await;
        assert_eq!(r.status, 429, "{path}");
        let cors: Vec<_> = r
            .headers
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "{path}: {cors:?}");
        assert!(varies_on_origin(&r), "{path}");
    }
}

#[tokio::test]
async fn preflights_pass_an_exhausted_ip_limit_and_take_nothing_from_it() {
    let (idp, gw) = bed().await;
    let alice = format!("Bearer {}", idp.sign(user(&idp, "alice", json!({}))));
    let ask = [
        ("origin", APP),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "authorization"),
    ];
    // More preflights than the burst: each answered, none counted.
    for i in 0..5 {
        let r = req(&gw, "OPTIONS", "/ip/a", &ask).await;
        assert_eq!(r.status, 204, "preflight {i}: {}", r.text());
        assert_readable(&r, "preflight");
    }
    assert_eq!(decisions(&gw, "ip", "ip", "allowed").await, 0.0);
    // So the whole burst is still there for the requests themselves.
    let page = [("origin", APP), ("authorization", alice.as_str())];
    for i in 0..2 {
        let r = req(&gw, "GET", "/ip/a", &page).await;
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    let r = req(&gw, "GET", "/ip/a", &page).await;
    assert_limited(&r, "ip", 2, 7200, 3600, "burst used up");
    // The bucket is empty now: a preflight is still answered, never a 429.
    let r = req(&gw, "OPTIONS", "/ip/a", &ask).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_readable(&r, "preflight after the burst");
    assert!(r.header("retry-after").is_none());
    assert_eq!(decisions(&gw, "ip", "ip", "allowed").await, 2.0);
    assert_eq!(decisions(&gw, "ip", "ip", "limited").await, 1.0);
    let preflights = gw
        .metric("portcullis_cors_preflights_total{result=\"allowed\",route=\"ip\"}")
        .await;
    assert_eq!(preflights, 6.0);
}
