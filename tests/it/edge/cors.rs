//! CORS per route through a running gateway: preflights answered without authentication
//! and without the upstream, refusals as 403 without any CORS field, the fields on the
//! upstream's responses and on the gateway's own 401/403/502/503, the upstream's own
//! Access-Control-* fields replaced, and routes without `cors` left alone.

use serde_json::json;

use crate::bearer::{active, user};
use crate::support::bearer::{config, route, start_ready, ProviderYaml};
use crate::support::client::{send, Resp};
use crate::support::fake_idp::{Endpoint, FakeIdp, Mode};
use crate::support::{closed_port, echo_upstream, fixed_upstream, TestGateway};

const APP: &str = "https://app.example";
/// A policy with credentials: exact origin and a one-label pattern.
const STRICT: &str =
    "cors: { allow_origins: [\"https://app.example\", \"https://*.example.com\"], \
     allow_methods: [GET, POST, PUT], allow_headers: [Authorization, Content-Type], \
     expose_headers: [X-Trace], allow_credentials: true, max_age: 10m }";

/// An upstream that sets CORS fields of its own.
const CORS_UPSTREAM: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\
    Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: true\r\n\
    Access-Control-Expose-Headers: x-upstream\r\nAccess-Control-Max-Age: 99\r\n\
    Vary: Accept-Encoding\r\n\r\nok";

struct Bed {
    idp: FakeIdp,
    gw: TestGateway,
}

async fn bed() -> Bed {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let down = closed_port().await;
    let own = fixed_upstream(CORS_UPSTREAM, false).await;
    let gw = start_ready(&config(
        &[ProviderYaml::default().with("userinfo: never").render(&idp)],
        &[
            route("api", "/api", up, &[STRICT, "allow: { groups: [admins] }"]),
            route("down", "/down", down, &[STRICT]),
            route("own", "/own", own, &["auth: none", STRICT]),
            route(
                "open",
                "/open",
                own,
                &["auth: none", "cors: { allow_origins: [\"*\"] }"],
            ),
            route("plain", "/plain", own, &["auth: none"]),
            route("plainauth", "/plainauth", up, &[]),
        ],
    ))
    .await;
    Bed { idp, gw }
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

async fn preflight(gw: &TestGateway, path: &str, extra: &[(&str, &str)]) -> Resp {
    req(gw, "OPTIONS", path, extra).await
}

#[track_caller]
fn assert_no_cors(r: &Resp, what: &str) {
    let cors: Vec<_> = r
        .headers
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{what}: {cors:?}");
}

#[track_caller]
fn assert_cors_for(r: &Resp, origin: &str, what: &str) {
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(origin),
        "{what}"
    );
    assert_eq!(
        r.headers
            .get_all("access-control-allow-origin")
            .iter()
            .count(),
        1,
        "{what}"
    );
    assert_eq!(
        r.header("access-control-allow-credentials"),
        Some("true"),
        "{what}"
    );
    assert!(varies_on_origin(r), "{what}: Vary: Origin");
}

fn varies_on_origin(r: &Resp) -> bool {
    r.headers.get_all("vary").iter().any(|v| {
        v.to_str()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("origin")
    })
}

#[tokio::test]
async fn preflights_are_answered_without_authentication_or_upstream() {
    let Bed { gw, .. } = bed().await;
    let ask = [
        ("origin", APP),
        ("access-control-request-method", "PUT"),
        (
            "access-control-request-headers",
            "authorization,content-type",
        ),
    ];
    // No credentials (a 401 route) and a dead upstream (a 502 route): answered all the same.
    for path in ["/api/items", "/down/items"] {
        let r = preflight(&gw, path, &ask).await;
        assert_eq!(r.status, 204, "{path}: {}", r.text());
        assert_cors_for(&r, APP, path);
        assert_eq!(
            r.header("access-control-allow-methods"),
            Some("GET, POST, PUT")
        );
        assert_eq!(
            r.header("access-control-allow-headers"),
            Some("authorization, content-type")
        );
        assert_eq!(r.header("access-control-max-age"), Some("600"));
        assert!(r.header("x-request-id").is_some());
        assert!(r.body.is_empty());
        let vary = r.header("vary").unwrap_or_default();
        for part in [
            "Access-Control-Request-Method",
            "Access-Control-Request-Headers",
        ] {
            assert!(vary.contains(part), "{path}: Vary {vary}");
        }
    }
    // A one-label pattern origin.
    let r = preflight(
        &gw,
        "/api/x",
        &[
            ("origin", "https://beta.example.com"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_cors_for(&r, "https://beta.example.com", "pattern");
    assert!(r.header("access-control-allow-headers").is_none());
    let allowed = gw
        .metric("portcullis_cors_preflights_total{result=\"allowed\",route=\"api\"}")
        .await;
    assert_eq!(allowed, 2.0);
}

#[tokio::test]
async fn refused_preflights_are_403_without_cors_fields() {
    let Bed { gw, .. } = bed().await;
    let m = ("access-control-request-method", "GET");
    let o = ("origin", APP);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("other origin", vec![("origin", "https://evil.example"), m]),
        ("null origin", vec![("origin", "null"), m]),
        ("bare parent", vec![("origin", "https://example.com"), m]),
        ("two labels", vec![("origin", "https://a.b.example.com"), m]),
        ("other scheme", vec![("origin", "http://app.example"), m]),
        (
            "other port",
            vec![("origin", "https://app.example:8443"), m],
        ),
        (
            "suffix trick",
            vec![("origin", "https://app.example.evil"), m],
        ),
        (
            "method",
            vec![o, ("access-control-request-method", "DELETE")],
        ),
        (
            "method case",
            vec![o, ("access-control-request-method", "put")],
        ),
        (
            "header",
            vec![
                o,
                m,
                ("access-control-request-headers", "authorization,x-evil"),
            ],
        ),
        (
            "private network",
            vec![o, m, ("access-control-request-private-network", "true")],
        ),
    ];
    for (what, headers) in &cases {
        let r = preflight(&gw, "/api/x", headers).await;
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert_no_cors(&r, what);
        assert_eq!(r.json()["error"], "cors_refused", "{what}");
    }
    let refused = gw
        .metric("portcullis_cors_preflights_total{result=\"refused\",route=\"api\"}")
        .await;
    assert_eq!(refused, cases.len() as f64);
    // Not a preflight (no Access-Control-Request-Method): an ordinary, authenticated OPTIONS.
    let r = req(&gw, "OPTIONS", "/api/x", &[o]).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn the_gateways_own_denials_carry_the_fields() {
    let Bed { idp, gw } = bed().await;
    let o = ("origin", APP);
    // 401 without a token: readable JSON, the challenge exposed.
    let r = req(&gw, "GET", "/api/x", &[o]).await;
    assert_eq!(r.status, 401);
    assert_cors_for(&r, APP, "401");
    assert_eq!(r.json()["error"], "unauthorized");
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("x-trace, www-authenticate")
    );
    // 401 with a bad token, 403 by policy.
    let bad = format!("Bearer {}", idp.sign(user(&idp, "bob", json!({"exp": 1}))));
    let r = req(&gw, "GET", "/api/x", &[o, ("authorization", &bad)]).await;
    assert_eq!(r.status, 401);
    assert_cors_for(&r, APP, "bad token");
    let bob = format!("Bearer {}", idp.sign(user(&idp, "bob", json!({}))));
    let r = req(&gw, "GET", "/api/x", &[o, ("authorization", &bob)]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_cors_for(&r, APP, "403");
    // 503: the provider is down while a reference token is checked.
    let opaque = idp.new_reference_token(active(&idp, "alice", json!({})));
    idp.set_mode(Endpoint::Introspection, Mode::Unavailable);
    let r = req(
        &gw,
        "GET",
        "/api/x",
        &[o, ("authorization", &format!("Bearer {opaque}"))],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_cors_for(&r, APP, "503");
    assert!(r
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .contains("retry-after"));
    // 502: the upstream refuses (after authentication).
    let alice = format!(
        "Bearer {}",
        idp.sign(user(&idp, "alice", json!({"groups": ["admins"]})))
    );
    let r = req(&gw, "GET", "/down/x", &[o, ("authorization", &alice)]).await;
    assert_eq!(r.status, 502);
    assert_cors_for(&r, APP, "502");
    // And the upstream's 200, with the configured exposure only.
    let r = req(&gw, "GET", "/api/x", &[o, ("authorization", &alice)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_cors_for(&r, APP, "200");
    assert_eq!(r.header("access-control-expose-headers"), Some("x-trace"));
    // A disallowed origin: the same answers, no CORS field, still Vary: Origin.
    for (path, auth) in [("/api/x", ""), ("/api/x", alice.as_str())] {
        let mut h = vec![("origin", "https://evil.example")];
        if !auth.is_empty() {
            h.push(("authorization", auth));
        }
        let r = req(&gw, "GET", path, &h).await;
        assert_no_cors(&r, "evil origin");
        assert!(varies_on_origin(&r));
    }
}

#[tokio::test]
async fn upstream_cors_fields_are_replaced_not_duplicated() {
    let Bed { gw, .. } = bed().await;
    let r = req(&gw, "GET", "/own/x", &[("origin", APP)]).await;
    assert_eq!(r.status, 200);
    assert_cors_for(&r, APP, "own");
    assert_eq!(r.header("access-control-expose-headers"), Some("x-trace"));
    assert!(r.header("access-control-max-age").is_none());
    let vary: Vec<_> = r.headers.get_all("vary").iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Origin"]);
    // Disallowed or absent origin: the upstream's `*` does not leak through.
    for origin in [Some("https://evil.example"), None] {
        let h: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let r = req(&gw, "GET", "/own/x", &h).await;
        assert_no_cors(&r, &format!("{origin:?}"));
    }
    // `*` without credentials: Allow-Origin `*`, no credentials.
    let r = req(&gw, "GET", "/open/x", &[("origin", "https://any.example")]).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-credentials").is_none());
    assert!(r.header("access-control-expose-headers").is_none());
}

#[tokio::test]
async fn routes_without_cors_are_left_alone() {
    let Bed { gw, .. } = bed().await;
    // The upstream's fields pass unchanged, no Vary added.
    let r = req(&gw, "GET", "/plain/x", &[("origin", APP)]).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-max-age"), Some("99"));
    assert!(!varies_on_origin(&r));
    // A preflight is an ordinary request there: authenticated, then forwarded.
    let ask = [("origin", APP), ("access-control-request-method", "GET")];
    let r = preflight(&gw, "/plainauth/x", &ask).await;
    assert_eq!(r.status, 401);
    assert_no_cors(&r, "no cors route");
}
