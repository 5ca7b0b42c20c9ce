//! Route precedence, host wildcards and path normalisation, observed at the upstream.

use serde_json::json;

use crate::bearer::user;
use crate::support::bearer::{config, route, start_ready, ProviderYaml};
use crate::support::client::{get, Resp};
use crate::support::fake_idp::FakeIdp;
use crate::support::{echo_upstream, TestGateway};

async fn gateway() -> TestGateway {
    let up = echo_upstream().await;
    // Each route forwards under a distinct upstream base path, so the echoed path
    // tells which route served the request.
    let yaml = format!(
        r#"
routes:
  - name: exact
    match: {{ host: "api.example.com" }}
    upstream: "http://{up}/exact"
    auth: none
  - name: wild
    match: {{ host: "*.example.com" }}
    upstream: "http://{up}/wild"
    auth: none
  - name: wild-admin
    match: {{ host: "*.example.com", path_prefix: "/admin" }}
    upstream: "http://{up}/wildadmin"
    auth: none
  - name: any
    upstream: "http://{up}/any"
    auth: none
  - name: v1
    match: {{ path_prefix: "/v1/" }}
    upstream: "http://{up}/v1route"
    auth: none
  - name: a
    match: {{ path_prefix: "/a" }}
    upstream: "http://{up}/aroute"
    auth: none
"#
    );
    TestGateway::start(&yaml).await
}

async fn path_via(gw: &TestGateway, host: &str, path: &str) -> String {
    let r = get(&format!("{}{path}", gw.url), &[("host", host)]).await;
    assert_eq!(r.status, 200, "{host}{path}: {}", r.text());
    r.echoed_path()
}

#[tokio::test]
async fn exact_host_beats_wildcard_beats_hostless() {
    let gw = gateway().await;
    assert_eq!(path_via(&gw, "api.example.com", "/x").await, "/exact/x");
    assert_eq!(
        path_via(&gw, "API.Example.com:8443", "/x").await,
        "/exact/x"
    );
    assert_eq!(path_via(&gw, "app.example.com", "/x").await, "/wild/x");
    assert_eq!(path_via(&gw, "a.b.example.com", "/x").await, "/wild/x");
    assert_eq!(
        path_via(&gw, "app.example.com", "/admin/x").await,
        "/wildadmin/admin/x"
    );
    // The wildcard never covers the bare domain or a look-alike suffix.
    assert_eq!(path_via(&gw, "example.com", "/x").await, "/any/x");
    assert_eq!(path_via(&gw, "evilexample.com", "/x").await, "/any/x");
    assert_eq!(path_via(&gw, "other.test", "/x").await, "/any/x");
}

#[tokio::test]
async fn longest_prefix_wins_and_is_segment_bounded() {
    let gw = gateway().await;
    assert_eq!(
        path_via(&gw, "other.test", "/v1/items").await,
        "/v1route/v1/items"
    );
    assert_eq!(path_via(&gw, "other.test", "/a").await, "/aroute/a");
    assert_eq!(path_via(&gw, "other.test", "/a/b").await, "/aroute/a/b");
    assert_eq!(path_via(&gw, "other.test", "/ab").await, "/any/ab");
}

#[tokio::test]
async fn path_is_normalised_once_for_matching_and_forwarding() {
    let gw = gateway().await;
    assert_eq!(path_via(&gw, "other.test", "/a/../b").await, "/any/b");
    assert_eq!(path_via(&gw, "other.test", "//b").await, "/any/b");
    assert_eq!(path_via(&gw, "other.test", "/%2e%2e/b").await, "/any/b");
    assert_eq!(
        path_via(&gw, "other.test", "/x/%2E%2E/v1/y").await,
        "/v1route/v1/y"
    );
    // An escaped slash is refused by default (`server.escaped_slashes: reject`).
    let r = get(&format!("{}/a%2fb", gw.url), &[("host", "other.test")]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Dot segments can't climb out of the root.
    assert_eq!(
        path_via(&gw, "other.test", "/../../v1/z").await,
        "/v1route/v1/z"
    );
}

#[tokio::test]
async fn no_route_is_404_and_bad_paths_are_400() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&format!(
        "routes:\n  - name: only\n    match: {{ host: \"only.test\" }}\n    upstream: \"http://{up}\"\n    auth: none\n"
    ))
    .await;
    let r = get(&format!("{}/x", gw.url), &[("host", "elsewhere.test")]).await;
    assert_eq!(r.status, 404);
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.json()["error"], "not_found");
    let r = get(&format!("{}/a%00b", gw.url), &[("host", "only.test")]).await;
    assert_eq!(r.status, 400);
    let r = get(&format!("{}/a%zzb", gw.url), &[("host", "only.test")]).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn strip_prefix_and_query_pass_through() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&format!(
        r#"
routes:
  - name: strip
    match: {{ path_prefix: "/svc" }}
    upstream: "http://{up}/base"
    strip_prefix: true
    auth: none
"#
    ))
    .await;
    let r = get(&format!("{}/svc/items?q=1&b=%20x", gw.url), &[]).await;
    assert_eq!(r.echoed_path(), "/base/items");
    assert_eq!(r.json()["query"], "q=1&b=%20x");
    let r = get(&format!("{}/svc", gw.url), &[]).await;
    assert_eq!(r.echoed_path(), "/base/");
}

/// One `preserve_host` route, for `pub.example.com` only (other hosts: 404).
async fn two_host_gateway() -> TestGateway {
    let up = echo_upstream().await;
    TestGateway::start(&format!(
        r#"
routes:
  - name: pub
    match: {{ host: "pub.example.com" }}
    upstream: "http://{up}"
    preserve_host: true
    auth: none
"#
    ))
    .await
}

/// The `host` the echo upstream received, from a raw HTTP/1.1 exchange.
async fn raw_status_and_upstream_host(gw: &TestGateway, request: &str) -> (String, String) {
    let text = crate::support::client::raw(gw.running.addr, request.as_bytes()).await;
    let status = text.split(' ').nth(1).unwrap_or_default().to_owned();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let host = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["headers"]["host"].as_array().cloned())
        .map(|hosts| {
            hosts
                .iter()
                .filter_map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    (status, host)
}

#[tokio::test]
async fn the_upstream_host_is_always_the_host_the_route_was_chosen_on() {
    let gw = two_host_gateway().await;
    // Absolute form naming pub, Host naming another site: routed on pub, and pub is
    // what a preserve_host upstream sees (RFC 9112 §3.2.2: the target wins).
    let (status, host) = raw_status_and_upstream_host(
        &gw,
        "GET http://pub.example.com/secret HTTP/1.1\r\nHost: admin.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((status.as_str(), host.as_str()), ("200", "pub.example.com"));
    // The plain case for comparison.
    let (status, host) = raw_status_and_upstream_host(
        &gw,
        "GET /secret HTTP/1.1\r\nHost: pub.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((status.as_str(), host.as_str()), ("200", "pub.example.com"));
}

#[tokio::test]
async fn several_hosts_a_malformed_host_or_none_are_400() {
    let gw = two_host_gateway().await;
    for request in [
        "GET /secret HTTP/1.1\r\nHost: pub.example.com\r\nHost: admin.example.com\r\nConnection: close\r\n\r\n",
        "GET /secret HTTP/1.1\r\nHost: admin@pub.example.com\r\nConnection: close\r\n\r\n",
        "GET /secret HTTP/1.1\r\nHost: pub.example.com:abc\r\nConnection: close\r\n\r\n",
        "GET /secret HTTP/1.1\r\nHost: pub.example.com/x\r\nConnection: close\r\n\r\n",
        "GET /secret HTTP/1.1\r\nConnection: close\r\n\r\n",
    ] {
        let (status, host) = raw_status_and_upstream_host(&gw, request).await;
        assert_eq!((status.as_str(), host.as_str()), ("400", ""), "{request:?}");
    }
}

#[tokio::test]
async fn path_parameters_that_would_change_the_route_are_refused() {
    // Servlet upstreams read `/v1;x/items` as `/v1/items`: routed as written it would
    // take another (here: any) route than the one the upstream serves.
    let gw = gateway().await;
    for path in [
        "/v1;x/items",
        "/a;jsessionid=1/x",
        "/v1%3Bx/items",
        "/v1%3bx",
    ] {
        let r = get(&format!("{}{path}", gw.url), &[("host", "other.test")]).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
    }
    // Parameters that keep the route are passed on as they are.
    assert_eq!(
        path_via(&gw, "other.test", "/v1/items;jsessionid=1").await,
        "/v1route/v1/items;jsessionid=1"
    );
    assert_eq!(path_via(&gw, "other.test", "/b;x/c").await, "/any/b;x/c");
}

/// Open `/` and bearer-protected `/admin` with `server.escaped_slashes: <mode>` (the key
/// left out for `None`); the test client (127.0.0.1) is a trusted proxy, so it may call
/// forward-auth.
async fn slash_gateway(mode: Option<&str>) -> (FakeIdp, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let mode = mode.map_or(String::new(), |m| format!("  escaped_slashes: {m}\n"));
    let yaml = format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  trusted_proxies: [\"127.0.0.1\"]\n{mode}\
         admin:\n  listen: \"127.0.0.1:0\"\n{}",
        config(
            &[ProviderYaml::default().render(&idp)],
            &[
                route("open", "/", up, &["auth: none"]),
                route("admin", "/admin", up, &[]),
            ],
        )
    );
    let gw = start_ready(&yaml).await;
    (idp, gw)
}

async fn at(gw: &TestGateway, path: &str, token: Option<&str>) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    get(&format!("{}{path}", gw.url), &headers).await
}

/// Forward-auth asked about `uri` (nginx spelling), with `token` if any.
async fn judged(gw: &TestGateway, uri: &str, token: Option<&str>) -> u16 {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("x-original-uri", uri), ("accept", "application/json")];
    headers.extend(auth.iter().map(|a| ("authorization", a.as_str())));
    let r = get(&format!("{}/oauth2/auth", gw.url), &headers).await;
    r.status.as_u16()
}

/// Spellings of `/admin/x` (and friends) that a decoding upstream serves from `/admin`.
const INTO_ADMIN: [&str; 8] = [
    "/admin%2Fx",
    "/admin%2fx",
    "/%2Fadmin/x",
    "/%2fadmin/x",
    "/admin%5Cx",
    "/admin%5cx",
    "/admin%252Fx",
    "/a/..%2F..%2Fadmin",
];

#[tokio::test]
async fn escaped_slashes_are_refused_by_default() {
    // WSGI and older Go serve `/admin%2Fx` as `/admin/x`: routed as written it would
    // reach the open route and skip the protected one.
    let (idp, gw) = slash_gateway(None).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    for path in INTO_ADMIN {
        let r = at(&gw, path, None).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert_eq!(
            judged(&gw, path, Some(&token)).await,
            400,
            "forward-auth {path}"
        );
    }
    assert_eq!(at(&gw, "/files%2Fa", None).await.status, 400);
    assert_eq!(at(&gw, "/admin/x", None).await.status, 401);
    assert_eq!(at(&gw, "/files/a", None).await.status, 200);
}

#[tokio::test]
async fn decoded_escaped_slashes_are_routed_and_forwarded_decoded() {
    let (idp, gw) = slash_gateway(Some("decode")).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    for path in INTO_ADMIN.iter().filter(|p| !p.contains("%25")) {
        let r = at(&gw, path, None).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        let r = at(&gw, path, Some(&token)).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let want = if path.ends_with("admin") {
            "/admin"
        } else {
            "/admin/x"
        };
        assert_eq!(r.echoed_path(), want, "{path}");
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"), "{path}");
    }
    // Decoded once, never twice: escaped again, it stays an escaped slash: refused.
    assert_eq!(at(&gw, "/admin%252Fx", Some(&token)).await.status, 400);
    let r = at(&gw, "/files%2Fa%5Cb", None).await;
    assert_eq!(
        (r.status.as_u16(), r.echoed_path()),
        (200, "/files/a/b".into())
    );
    // Forward-auth cannot change what the front proxy forwards (the path as written):
    // it judges that one, and refuses it when decoding would change its route.
    assert_eq!(judged(&gw, "/admin%2Fx", Some(&token)).await, 400);
    assert_eq!(judged(&gw, "/files%2Fa", None).await, 200);
}

#[tokio::test]
async fn kept_escaped_slashes_pass_unless_decoding_changes_the_route() {
    let (idp, gw) = slash_gateway(Some("keep")).await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    for path in INTO_ADMIN {
        let r = at(&gw, path, Some(&token)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert_eq!(
            judged(&gw, path, Some(&token)).await,
            400,
            "forward-auth {path}"
        );
    }
    // Decoded onto the same route: forwarded as written (GitLab-style ids).
    let r = at(&gw, "/files/a%2fb", None).await;
    assert_eq!(
        (r.status.as_u16(), r.echoed_path()),
        (200, "/files/a%2Fb".into())
    );
    let r = at(&gw, "/admin/group%2Fproject", Some(&token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed_path(), "/admin/group%2Fproject");
    assert_eq!(at(&gw, "/admin/group%2Fproject", None).await.status, 401);
    assert_eq!(judged(&gw, "/files/a%2Fb", None).await, 200);
}
