//! What reaches the upstream is what a lenient upstream (CGI, PHP, lighttpd, WSGI) reads
//! the same way the gateway did: no field it maps to a protected name, and framing
//! fields in their one canonical form. (Paths: `routing.rs`.)

use serde_json::json;

use crate::bearer::user;
use crate::support::bearer::{config, echoed_headers, raw_get, route, start_ready, ProviderYaml};
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;

/// Names CGI-style upstreams map onto a protected one (`HTTP_X_AUTH_USER`…).
const LOOK_ALIKES: [&str; 12] = [
    "X.Auth.User",
    "X~Auth~User",
    "x*auth*user",
    "X!Auth!Email",
    "XAuthGroups",
    "X.Forwarded.User",
    "Remote.User",
    "X.Portcullis.Assertion",
    "X.Forwarded.For",
    "x~forwarded~proto",
    "X.Real.IP",
    "X*Request*Id",
];

#[tokio::test]
async fn look_alike_header_names_never_reach_the_upstream() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let gw = start_ready(&config(
        &[ProviderYaml::default().render(&idp)],
        &[
            route("api", "/api", up, &[]),
            route("open", "/", up, &["auth: none"]),
        ],
    ))
    .await;
    let auth = format!("Bearer {}", idp.sign(user(&idp, "alice", json!({}))));
    let mut headers: Vec<(&str, &str)> = LOOK_ALIKES.iter().map(|n| (*n, "forged")).collect();
    headers.push(("X.App.Key", "kept"));
    for (path, token) in [("/api/x", true), ("/x", false)] {
        let mut sent = headers.clone();
        if token {
            sent.push(("Authorization", &auth));
        }
        let r = raw_get(gw.running.addr, path, &sent).await;
        assert_eq!(r.status, 200, "{path}: {}", r.head);
        let seen = echoed_headers(&r.json());
        for (name, value) in &seen {
            assert_ne!(value, "forged", "{path}: `{name}` reached the upstream");
        }
        let get = |n: &str| seen.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("x.app.key"), Some("kept"), "{path}: other names pass");
        assert_eq!(get("x-forwarded-for"), Some("127.0.0.1"), "{path}");
        assert_eq!(get("x-auth-user"), token.then_some("alice"), "{path}");
    }
}
