//! The upstream's response fields reach the client whole, over HTTP/1 (requests with
//! and without a body) and HTTP/2. Its framing and connection fields and its
//! `X-Request-Id` never do: the gateway writes its own. Names go out lower-case (hyper's
//! server writes them so; field names are case-insensitive, RFC 9110 §5.1).

use bytes::Bytes;
use http::HeaderMap;

use crate::support::client::{get, get_h2c, raw, send};
use crate::support::{fixed_upstream, TestGateway};

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nServer: fixed\r\nX-Custom: a, b\r\n\
    Set-Cookie: one=1\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nX-Request-Id: forged\r\n\
    KEEP-ALIVE: timeout=5\r\nConnection: keep-alive\r\nset-cookie: two=2\r\n\
    Content-Length: 2\r\n\r\nok";

fn assert_fields(headers: &HeaderMap, via: &str) {
    let all = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("text"))
            .collect()
    };
    assert_eq!(all("server"), ["fixed"], "{via}");
    assert_eq!(all("x-custom"), ["a, b"], "{via}");
    assert_eq!(all("set-cookie"), ["one=1", "two=2"], "{via}");
    assert_eq!(all("date"), ["Thu, 01 Jan 2026 00:00:00 GMT"], "{via}");
    let ids = all("x-request-id");
    assert_eq!(ids.len(), 1, "{via}: {ids:?}");
    assert_ne!(ids[0], "forged", "{via}");
    assert!(all("keep-alive").is_empty(), "{via}");
    assert!(all("content-length").len() <= 1, "{via}");
    // The upstream's fields first, then the gateway's, whichever server wrote them.
    let at = |name: &str| headers.keys().position(|k| k == name);
    assert!(at("server") < at("x-request-id"), "{via}: {headers:?}");
}

#[tokio::test]
async fn upstream_fields_pass_whole_through_every_server() {
    let up = fixed_upstream(ANSWER, false).await;
    let gw = TestGateway::start(&format!(
        "server:\n  listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\n\
         routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n"
    ))
    .await;
    let url = format!("http://{}/x", gw.running.addr);

    let plain = get(&url, &[]).await;
    assert_eq!(plain.body, "ok");
    assert_fields(&plain.headers, "HTTP/1 GET");

    let with_body = send("POST", &url, &[], Bytes::from_static(b"hi")).await;
    assert_eq!(with_body.body, "ok");
    assert_fields(&with_body.headers, "HTTP/1 POST");

    let h2 = get_h2c(gw.running.addr, "/x").await;
    assert_eq!(h2.body, "ok");
    assert_fields(&h2.headers, "HTTP/2");

    // On the wire: each field once. A bodiless request with a Content-Length goes the
    // same way.
    for request in [
        &b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        &b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"[..],
    ] {
        let custom = "x-custom";
        let text = raw(gw.running.addr, request).await;
        let lower = text.to_ascii_lowercase();
        assert!(text.contains(&format!("\r\n{custom}: a, b\r\n")), "{text}");
        assert_eq!(lower.matches("\r\nset-cookie:").count(), 2, "{text}");
        assert_eq!(lower.matches("\r\nx-request-id:").count(), 1, "{text}");
        assert_eq!(lower.matches("\r\ncontent-length:").count(), 1, "{text}");
        assert_eq!(lower.matches("\r\ndate:").count(), 1, "{text}");
        assert!(
            !lower.contains("forged") && !lower.contains("keep-alive:"),
            "{text}"
        );
    }
}
