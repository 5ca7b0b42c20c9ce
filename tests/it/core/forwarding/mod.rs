//! Forwarding: header hygiene, X-Forwarded-*, Host, streaming, upgrades, 502/504;
//! `request_checks.rs`: the client's request refused or reframed before forwarding.

mod request_checks;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::support::client::{get, raw, websocket_round_trip};
use crate::support::{closed_port, echo_upstream, silent_upstream, TestGateway};

fn one_route(up: impl std::fmt::Display, extra: &str) -> String {
    format!("routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n{extra}")
}

#[tokio::test]
async fn hop_by_hop_and_connection_listed_headers_are_removed() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up, "")).await;
    let r = get(
        &format!("{}/h", gw.url),
        &[
            ("connection", "X-Foo, x-bar"),
            ("x-foo", "1"),
            ("x-bar", "2"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic c2VjcmV0"),
            ("te", "trailers"),
            ("expect", "100-continue"),
            ("x-kept", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status, 200);
    for gone in [
        "x-foo",
        "x-bar",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "expect",
    ] {
        assert_eq!(r.echoed(gone), None, "{gone} reached the upstream");
    }
    assert_eq!(r.echoed("x-kept").as_deref(), Some("yes"));
}

#[tokio::test]
async fn forwarded_headers_are_fresh_from_untrusted_peers() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up, "")).await;
    let r = get(
        &format!("{}/f", gw.url),
        &[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.test"),
            ("forwarded", "for=1.2.3.4"),
            ("x-request-id", "client-chosen"),
            ("host", "app.test"),
            // The rest of the family frameworks build URLs and the https flag from.
            ("x-forwarded-prefix", "//evil.test"),
            ("x-forwarded-port", "443"),
            ("x-forwarded-ssl", "on"),
            ("x-forwarded-scheme", "https"),
            ("x-forwarded-server", "evil.test"),
            ("x-forwarded-uri", "/admin"),
            ("x-forwarded-method", "DELETE"),
            ("x-real-ip", "1.2.3.4"),
        ],
    )
    .await;
    assert_eq!(r.echoed("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(r.echoed("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(r.echoed("x-forwarded-host").as_deref(), Some("app.test"));
    assert_eq!(r.echoed("forwarded"), None);
    for gone in [
        "x-forwarded-prefix",
        "x-forwarded-port",
        "x-forwarded-ssl",
        "x-forwarded-scheme",
        "x-forwarded-server",
        "x-forwarded-uri",
        "x-forwarded-method",
        "x-real-ip",
    ] {
        assert_eq!(r.echoed(gone), None, "{gone} from an untrusted client");
    }
    // The upstream and the client see the same, gateway-generated, request id.
    let id = r.header("x-request-id").expect("id").to_owned();
    assert_ne!(id, "client-chosen");
    assert_eq!(r.echoed("x-request-id").as_deref(), Some(id.as_str()));
    // Host is rewritten to the upstream's authority by default.
    assert_eq!(r.echoed("host"), Some(up.to_string()));
}

#[tokio::test]
async fn forwarded_headers_are_appended_for_trusted_peers() {
    let up = echo_upstream().await;
    let yaml = format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  trusted_proxies: [\"127.0.0.0/8\"]\nadmin:\n  listen: \"127.0.0.1:0\"\n{}",
        one_route(up, "    preserve_host: true\n")
    );
    let gw = TestGateway::start(&yaml).await;
    let r = get(
        &format!("{}/f", gw.url),
        &[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-prefix", "/app"),
            ("x-request-id", "lb-123"),
            ("host", "app.test"),
        ],
    )
    .await;
    assert_eq!(r.echoed("x-forwarded-prefix").as_deref(), Some("/app"));
    assert_eq!(
        r.echoed("x-forwarded-for").as_deref(),
        Some("1.2.3.4, 127.0.0.1")
    );
    assert_eq!(r.echoed("x-forwarded-proto").as_deref(), Some("https"));
    assert_eq!(r.header("x-request-id"), Some("lb-123"));
    assert_eq!(r.echoed("x-request-id").as_deref(), Some("lb-123"));
    assert_eq!(r.echoed("host").as_deref(), Some("app.test"));
}

#[tokio::test]
async fn refused_upstream_is_502_and_silent_upstream_is_504() {
    let closed = closed_port().await;
    let silent = silent_upstream().await;
    let yaml = format!(
        r#"
routes:
  - name: refused
    match: {{ path_prefix: "/refused" }}
    upstream: "http://{closed}"
    auth: none
  - name: silent
    match: {{ path_prefix: "/silent" }}
    upstream: "http://{silent}"
    auth: none
    timeouts: {{ connect: 1s, response: 200ms }}
"#
    );
    let gw = TestGateway::start(&yaml).await;
    let r = get(&format!("{}/refused", gw.url), &[]).await;
    assert_eq!(r.status, 502, "{}", r.text());
    let id = r.header("x-request-id").expect("request id").to_owned();
    assert_eq!(r.json()["request_id"], id.as_str());
    assert!(
        !r.text().contains(&closed.to_string()),
        "body leaks the upstream address"
    );
    let r = get(&format!("{}/silent", gw.url), &[]).await;
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(r.header("x-request-id").is_some());
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"portcullis_upstream_errors_total{kind="connect",route="refused"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"portcullis_upstream_errors_total{kind="timeout",route="silent"} 1"#),
        "{m}"
    );
}

/// The request body streams through: each chunk comes back from the echo upstream's
/// `/stream` before the next one is sent, so nothing can be buffering the whole body.
#[tokio::test]
async fn bodies_stream_both_ways_without_buffering() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up, "")).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
    let body = StreamBody::new(tokio_stream_from(rx));
    let client: Client<_, StreamBody<_>> = Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::post(format!("{}/stream", gw.url))
        .body(body)
        .expect("request");
    let chunk = Bytes::from(vec![b'x'; 256 * 1024]);
    tx.send(Ok(Frame::data(chunk.clone())))
        .await
        .expect("first chunk");
    let resp = client.request(req).await.expect("response head");
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut received = 0usize;
    // 64 rounds × 256 KiB = 16 MiB, each echoed before the next is written.
    for round in 0..64 {
        let mut got = 0usize;
        while got < chunk.len() {
            let frame = body.frame().await.expect("more frames").expect("frame");
            if let Some(d) = frame.data_ref() {
                got += d.len();
            }
        }
        received += got;
        if round < 63 {
            tx.send(Ok(Frame::data(chunk.clone())))
                .await
                .expect("next chunk");
        }
    }
    drop(tx);
    while let Some(frame) = body.frame().await {
        if let Some(d) = frame.expect("frame").data_ref() {
            received += d.len();
        }
    }
    assert_eq!(received, 64 * chunk.len());
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn websocket_upgrade_round_trip() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up, "")).await;
    websocket_round_trip(gw.running.addr, &[b"hello", b"second frame"]).await;
}

#[tokio::test]
async fn only_websocket_is_tunnelled_an_h2c_upgrade_is_a_plain_request() {
    // The echo upstream switches to any protocol it is asked for: an h2c tunnel through
    // the gateway would carry HTTP/2 requests to any path, past routing and auth.
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up, "")).await;
    let answer = raw(
        gw.running.addr,
        b"GET /h2c HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\n\
Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let r = get(
        &format!("{}/h2c", gw.url),
        &[
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", "h2c"),
            ("http2-settings", "AAMAAABkAARAAAAAAAIAAAAA"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    for gone in ["upgrade", "http2-settings", "connection"] {
        assert_eq!(r.echoed(gone), None, "{gone} reached the upstream");
    }
}
