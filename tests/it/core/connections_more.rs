//! HTTP/1 connection handling, continued: a slow reader, a request body the upstream
//! never reads, a refused upgrade (helpers in `connections.rs`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::connections::{
    config, gateway_and_client, metric_becomes, read_response, GET, OPEN, PAST_PARKING,
};
use crate::support::{echo_upstream, TestGateway};

/// An upstream answering `GET /<n>` with `n` bytes of `x` (200 for anything else,
/// including upgrade requests, which it refuses by answering normally).
async fn sized_upstream() -> std::net::SocketAddr {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let len: usize = req.uri().path()[1..].parse().unwrap_or(2);
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        bytes::Bytes::from(vec![b'x'; len]),
                    )))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_slow_reader_gets_the_whole_response() {
    let up = sized_upstream().await;
    let gw = TestGateway::start(&config(up, "10s", "60s")).await;
    let len = 4 << 20;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    s.write_all(format!("GET /{len} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .await
        .expect("write");
    // Not reading for longer than the lazy parking delay: the response's end sits in
    // the gateway's buffer while its request is already finished.
    tokio::time::sleep(PAST_PARKING).await;
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
    s.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
}

#[tokio::test]
async fn an_unread_request_body_is_never_parsed_as_a_request() {
    let up = echo_upstream().await;
    let (_gw, mut s) = gateway_and_client(up).await;
    let smuggled = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
    let first = b"0123456789";
    // Refused before its body is read (invalid path): the gateway answers 400 while
    // most of the body is still to come.
    let head = format!(
        "POST /a%00b HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        first.len() + smuggled.len()
    );
    let mut w = head.into_bytes();
    w.extend_from_slice(first);
    s.write_all(&w).await.expect("write");
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut s, &mut pending).await, 400);
    // Longer than the lazy parking delay, then the rest of the body, which looks like
    // a request: it is body, and must never be answered.
    tokio::time::sleep(PAST_PARKING).await;
    assert_never_answered(&mut s, smuggled).await;
}

/// Sends `rest` (the end of a request body that looks like a request) and asserts
/// that nothing answers it: the connection may close, reset or consume it as body.
async fn assert_never_answered(s: &mut TcpStream, rest: &[u8]) {
    let _ = s.write_all(rest).await;
    let mut buf = [0u8; 4096];
    if let Ok(Ok(n)) = timeout(Duration::from_secs(3), s.read(&mut buf)).await {
        assert!(
            n == 0,
            "the body was answered as a request: {}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
}

#[tokio::test]
async fn a_refused_upgrade_keeps_the_connection_usable() {
    let up = sized_upstream().await;
    let (_gw, mut s) = gateway_and_client(up).await;
    let mut pending = Vec::new();
    s.write_all(b"GET /5 HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
    tokio::time::sleep(PAST_PARKING).await;
    s.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
}

#[tokio::test]
async fn with_many_connections_open_an_unread_body_is_still_never_a_request() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up, "10s", "60s")).await;
    // More than 512 open connections: connections park as soon as they wait.
    let mut crowd = Vec::new();
    for _ in 0..530 {
        match TcpStream::connect(gw.running.addr).await {
            Ok(s) => crowd.push(s),
            Err(e) => {
                // Only a too-low open-files limit stops this (2 fds per connection here).
                eprintln!("SKIPPED: cannot open 530 connections ({e}); raise ulimit -n");
                return;
            }
        }
    }
    metric_becomes(&gw, OPEN, 530.0).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    let smuggled = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
    let head = format!(
        "POST /a%00b HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n0123456789",
        10 + smuggled.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    let mut pending = Vec::new();
    assert_eq!(read_response(&mut s, &mut pending).await, 400);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_never_answered(&mut s, smuggled).await;
    drop(crowd);
}
