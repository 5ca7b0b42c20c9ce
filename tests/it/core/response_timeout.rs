//! The response timeout of the own upstream pool. Each pooled connection keeps one
//! timer, moved by every exchange on it (src/proxy/pool/exchange.rs `exchange_by`): it
//! must still fire on a reused connection, a deadline that passed while the connection
//! sat idle must not cut the next exchange short, and a connection that timed out is
//! never used again (its late response would answer someone else's request).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::client::get;
use crate::support::TestGateway;

/// The response timeout of the route under test.
const TIMEOUT: Duration = Duration::from_millis(300);

/// An upstream that answers every request on a connection with a 200 naming the
/// connection (`conn-N`), except `/silent`, which it reads and never answers (the
/// connection stays open, and any late answer would follow it). Counts connections.
async fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head: Vec<u8> = buf.drain(..end + 4).collect();
                        if head.starts_with(b"GET /silent ") {
                            continue;
                        }
                        let body = format!("conn-{n}");
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if s.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn the_timer_of_a_pooled_connection_is_reused_and_still_fires() {
    let (up, accepted) = upstream().await;
    let yaml = format!(
        "routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n    \
         timeouts: {{ connect: 1s, response: {}ms }}\n",
        TIMEOUT.as_millis()
    );
    // One worker: one pool stack, so every request may reuse the same connection.
    let gw = TestGateway::start_with_workers(&yaml, 1).await;
    let url = |path: &str| format!("{}{path}", gw.url);

    // The first exchange makes connection 1's timer; the second moves it, and it fires.
    let r = get(&url("/a"), &[]).await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "conn-1".to_owned()));
    let r = get(&url("/silent"), &[]).await;
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "/silent went on the pooled connection"
    );

    // The connection that timed out is dropped: the next request opens another.
    let r = get(&url("/b"), &[]).await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "conn-2".to_owned()));

    // Let connection 2's deadline (from /b) pass while it is idle: the next exchange on
    // it gets a deadline of its own, and is answered...
    tokio::time::sleep(TIMEOUT + Duration::from_millis(100)).await;
    let r = get(&url("/c"), &[]).await;
    assert_eq!((r.status.as_u16(), r.text()), (200, "conn-2".to_owned()));
    // ...and the timer, registered again, still fires.
    let r = get(&url("/silent"), &[]).await;
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"portcullis_upstream_errors_total{kind="timeout",route="r"} 2"#),
        "{m}"
    );
}
