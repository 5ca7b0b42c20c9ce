//! HTTP/1 serving (src/transport/http1.rs, hyper's server): how responses are framed
//! for HTTP/1.0 and 1.1 clients, keep-alive, trailers, bodies cut short (here, with the
//! raw-socket helpers); requests with and without bodies, pipelining and bad heads on
//! one connection (`requests.rs`). Raw sockets on both sides, so every byte is checked.

mod requests;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::{echo_upstream, fixed_upstream, TestGateway};

fn config(up: SocketAddr) -> String {
    format!(
        "server:\n  listen: \"127.0.0.1:0\"\n\
         admin:\n  listen: \"127.0.0.1:0\"\n\
         routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n"
    )
}

/// Everything the gateway sends until it closes the connection (bounded).
async fn read_to_close(s: &mut TcpStream) -> String {
    let mut all = Vec::new();
    let read = timeout(Duration::from_secs(10), s.read_to_end(&mut all)).await;
    assert!(
        read.is_ok(),
        "connection not closed: {}",
        String::from_utf8_lossy(&all)
    );
    String::from_utf8_lossy(&all).into_owned()
}

/// Reads until `needle` has arrived (bounded); returns everything read.
async fn read_until(s: &mut TcpStream, seen: &mut Vec<u8>, needle: &str) -> String {
    let wait = async {
        while !String::from_utf8_lossy(seen).contains(needle) {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "closed before {needle:?}: {}",
                String::from_utf8_lossy(seen)
            );
            seen.extend_from_slice(&chunk[..n]);
        }
    };
    timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} in {}", String::from_utf8_lossy(seen)));
    String::from_utf8_lossy(seen).into_owned()
}

async fn client(gw: &TestGateway) -> TcpStream {
    TcpStream::connect(gw.running.addr).await.expect("connect")
}

/// Sends `request` on a new connection and returns everything until the gateway closes.
async fn exchange(gw: &TestGateway, request: &[u8]) -> String {
    let mut s = client(gw).await;
    // A refused head may be answered (and the connection closed) before all of it is
    // written.
    let _ = s.write_all(request).await;
    read_to_close(&mut s).await
}

#[tokio::test]
async fn http_1_0_clients_keep_the_connection_only_when_they_ask() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;

    let text = exchange(&gw, b"GET /a HTTP/1.0\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("keep-alive"), "{text}");

    let mut s = client(&gw).await;
    let mut seen = Vec::new();
    for path in ["/one", "/two"] {
        let req = format!("GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let text = read_until(&mut s, &mut seen, path).await;
        assert!(text.contains("connection: keep-alive\r\n"), "{text}");
    }
}

#[tokio::test]
async fn a_client_asking_to_close_gets_connection_close_and_a_closed_connection() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    let text = exchange(
        &gw,
        b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("connection: close\r\n"), "{text}");
    assert!(text.contains("\r\ndate: "), "a Date is sent: {text}");
    assert!(text.contains("\"/a\""), "{text}");
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n\
5\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: 11\r\nx-undeclared: no\r\n\r\n";

#[tokio::test]
async fn a_body_of_unknown_length_is_chunked_for_1_1_and_ends_with_the_connection_for_1_0() {
    let up = fixed_upstream(CHUNKED, false).await;
    let gw = TestGateway::start(&config(up)).await;

    let mut s = client(&gw).await;
    let mut seen = Vec::new();
    s.write_all(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let text = read_until(&mut s, &mut seen, "0\r\n\r\n").await;
    assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
    assert!(
        text.ends_with("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        "{text}"
    );
    assert!(
        !text.contains("x-sum: 11"),
        "no trailers without TE: trailers: {text}"
    );
    // The connection goes on.
    seen.clear();
    s.write_all(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    read_until(&mut s, &mut seen, "0\r\n\r\n").await;

    let text = exchange(&gw, b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").await;
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert!(!text.contains("transfer-encoding"), "{text}");
    assert!(
        !text.contains("keep-alive"),
        "closing ends this body: {text}"
    );
    assert!(text.ends_with("\r\n\r\nhello world"), "{text}");
}

#[tokio::test]
async fn upstream_trailers_never_break_the_framing() {
    // `Trailer` is end-to-end (RFC 9110 §6.6.2): the declared trailer fields reach a
    // client that accepts them, the undeclared ones do not, and the chunked body still
    // ends right for the next request on the connection.
    let up = fixed_upstream(CHUNKED, false).await;
    let gw = TestGateway::start(&config(up)).await;
    let mut s = client(&gw).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.clear();
        s.write_all(b"GET /a HTTP/1.1\r\nHost: t\r\nTE: trailers\r\n\r\n")
            .await
            .expect("write");
        let text = read_until(&mut s, &mut seen, "\r\n0\r\nx-sum: 11\r\n\r\n").await;
        assert!(!text.contains("x-undeclared"), "{text}");
    }
}

#[tokio::test]
async fn a_body_the_upstream_cuts_short_is_cut_short_for_the_client() {
    // Promises 100 bytes, sends 10 and closes.
    let up = fixed_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        true,
    )
    .await;
    let gw = TestGateway::start(&config(up)).await;
    let text = exchange(&gw, b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert!(text.contains("content-length: 100\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n0123456789"), "{text}");

    // Chunked, ending without its last chunk: no last chunk reaches the client.
    let up = fixed_upstream(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        true,
    )
    .await;
    let gw = TestGateway::start(&config(up)).await;
    let text = exchange(&gw, b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert!(text.ends_with("5\r\nhello\r\n"), "{text}");
}

#[tokio::test]
async fn head_204_and_304_answers_carry_no_body_and_the_next_request_follows() {
    let up = fixed_upstream(
        b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 50\r\n\r\n",
        false,
    )
    .await;
    let gw = TestGateway::start(&config(up)).await;
    let mut s = client(&gw).await;
    let mut seen = Vec::new();
    // Two pipelined requests: the second head must come right after the first.
    s.write_all(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let wait = async {
        while String::from_utf8_lossy(&seen).matches("\r\n\r\n").count() < 2 {
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.expect("read");
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    };
    timeout(Duration::from_secs(10), wait)
        .await
        .expect("two answers");
    // Nothing more arrives: no body was sent after either head.
    let mut extra = [0u8; 64];
    let more = timeout(Duration::from_millis(300), s.read(&mut extra)).await;
    assert!(more.is_err(), "bytes after two 304 heads");
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert_eq!(
        text.matches("HTTP/1.1 304 Not Modified\r\n").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("\r\n\r\n").count(), 2, "no bodies: {text}");
    assert!(!text.contains("content-length"), "{text}");

    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up)).await;
    let mut s = client(&gw).await;
    let mut seen = Vec::new();
    s.write_all(b"HEAD /a HTTP/1.1\r\nHost: t\r\n\r\nGET /after-head HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let text = read_until(&mut s, &mut seen, "/after-head").await;
    let first = text.split("\r\n\r\n").next().expect("head");
    assert!(
        first.contains("content-length: "),
        "HEAD keeps GET's length: {first}"
    );
    let rest = &text[first.len() + 4..];
    assert!(
        rest.starts_with("HTTP/1.1 200 OK\r\n"),
        "no body after HEAD: {text}"
    );
}
