//! The client's request before it is forwarded: oversized heads (431), refused methods
//! (405) and overlong paths (414), `Expect: 100-continue` answered by the gateway, a
//! request framed twice, and a malformed chunked body (the client's 400, not a 502).

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[tokio::test]
async fn oversized_headers_get_431() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up, "")).await;
    let big = "a".repeat(20_000);
    let req = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let answer = raw(gw.running.addr, req.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Many medium headers that fit hyper's buffer but exceed the configured limit.
    let mut req = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..40 {
        req.push_str(&format!("X-H{i}: {}\r\n", "b".repeat(390)));
    }
    req.push_str("\r\n");
    let answer = raw(gw.running.addr, req.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn trace_and_connect_are_405_and_an_overlong_path_is_414() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up, "")).await;
    for (method, target) in [
        ("TRACE", "/x"),
        ("TRACK", "/x"),
        ("CONNECT", "/x"),
        ("CONNECT", "x:443"),
    ] {
        let req = format!("{method} {target} HTTP/1.1\r\nHost: x\r\nCookie: secret=1\r\n\r\n");
        let answer = raw(gw.running.addr, req.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("\r\nallow: get, head, post"),
            "{answer}"
        );
        assert!(!answer.contains("secret"), "nothing echoed: {answer}");
    }
    let long = format!("/{}", "a".repeat(9000));
    let req = format!("GET {long} HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = raw(gw.running.addr, req.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
}

/// A gateway in front of the echo upstream (kept alive with it), and a raw connection
/// to the gateway on which `request` has been written.
async fn raw_to_echo_gateway(request: &[u8]) -> (TestGateway, tokio::net::TcpStream) {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up, "")).await;
    let mut s = tokio::net::TcpStream::connect(gw.running.addr)
        .await
        .expect("connect");
    s.write_all(request).await.expect("request");
    (gw, s)
}

/// Reads from `s` into `seen` until `done(seen)`; the gateway must not close first.
async fn read_until(s: &mut tokio::net::TcpStream, seen: &mut Vec<u8>, done: fn(&[u8]) -> bool) {
    while !done(seen) {
        let mut chunk = [0u8; 1024];
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(seen));
        seen.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn the_gateway_answers_100_continue_itself_and_streams_the_body() {
    let (_gw, mut s) = raw_to_echo_gateway(
        b"POST /stream HTTP/1.1\r\nhost: app\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n",
    )
    .await;
    // The interim answer comes before any body byte is sent.
    let mut seen = Vec::new();
    read_until(&mut s, &mut seen, |b| {
        b.windows(4).any(|w| w == b"\r\n\r\n")
    })
    .await;
    assert!(
        seen.starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    s.write_all(b"hello").await.expect("body");
    read_until(&mut s, &mut seen, |b| b.ends_with(b"hello")).await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("\r\n\r\nHTTP/1.1 200 OK\r\n"), "{text}");
}

#[tokio::test]
async fn a_request_framed_twice_never_reaches_the_upstream_with_its_content_length() {
    // Transfer-Encoding beside Content-Length (request smuggling): the chunked framing
    // wins and the length is never forwarded (RFC 9112 §6.3).
    let (_gw, mut s) = raw_to_echo_gateway(
        b"POST /h HTTP/1.1\r\nhost: app\r\nconnection: close\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1).unwrap_or_default();
    if status == "400" {
        return; // refused outright: as good
    }
    assert_eq!(status, "200", "{text}");
    let body = &text[text.find("\r\n\r\n").expect("head") + 4..];
    let echo: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_else(|_| {
        // A chunked answer: take the JSON between the first chunk size and the end.
        let start = body.find('{').expect("json");
        let end = body.rfind('}').expect("json");
        serde_json::from_str(&body[start..=end]).expect("echo JSON")
    });
    assert!(
        echo["headers"].get("content-length").is_none(),
        "the upstream saw a Content-Length: {echo}"
    );
}

#[tokio::test]
async fn a_malformed_request_body_is_the_clients_400_not_an_upstream_502() {
    // A chunk size that is not hex, and one that overflows: the body cannot be read.
    for chunk in ["-3", "FFFFFFFFFFFFFFFF1"] {
        let request = format!(
            "POST /h HTTP/1.1\r\nhost: app\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n{chunk}\r\nabc\r\n0\r\n\r\n"
        );
        let (gw, mut s) = raw_to_echo_gateway(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 400 "), "{chunk}: {text}");
        let metrics = gw.metrics().await;
        assert!(
            !metrics.contains("portcullis_upstream_errors_total{"),
            "counted as an upstream error: {metrics}"
        );
    }
}
