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

/// `POST /cl` with these header lines and a 7-byte body, over a raw connection; the
/// status and the `content-length` lines the echo upstream saw.
async fn post_seven(lines: &str) -> (String, Vec<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = echo_upstream().await;
    let gw = crate::support::TestGateway::start(&format!(
        "routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n"
    ))
    .await;
    let mut s = tokio::net::TcpStream::connect(gw.running.addr)
        .await
        .expect("connect");
    let req = format!("POST /cl HTTP/1.1\r\nHost: app\r\nConnection: close\r\n{lines}\r\nabcdefg");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).unwrap_or_default().to_owned();
    let lengths = text
        .find('{')
        .zip(text.rfind('}'))
        .and_then(|(a, b)| serde_json::from_str::<serde_json::Value>(&text[a..=b]).ok())
        .map(|echo| {
            echoed_headers(&echo)
                .into_iter()
                .filter(|(k, _)| k == "content-length")
                .map(|(_, v)| v)
                .collect()
        })
        .unwrap_or_default();
    (status, lengths)
}

#[tokio::test]
async fn content_length_reaches_the_upstream_in_canonical_form() {
    // An upstream with a laxer parser (octal, first of a list) could misframe these.
    let (status, lengths) = post_seven("Content-Length: 007\r\n").await;
    assert_eq!(
        (status.as_str(), &lengths[..]),
        ("200", &["7".to_owned()][..])
    );
    // A list or a second field: canonical as well, or refused before (hyper's server
    // refuses a list), never passed on as written.
    for lines in [
        "Content-Length: 7, 7\r\n",
        "Content-Length: 7\r\nContent-Length: 007\r\n",
        "Content-Length: 7\r\nContent-Length: 7\r\n",
    ] {
        let (status, lengths) = post_seven(lines).await;
        match status.as_str() {
            "200" => assert_eq!(lengths, ["7"], "{lines:?}"),
            other => assert_eq!(other, "400", "{lines:?}"),
        }
    }
}
