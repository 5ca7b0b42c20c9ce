//! A client that stops reading its response: after `idle` without any write making
//! progress, the connection ends (and the upstream exchange behind it), for requests
//! with and without a body, so that such clients cannot pin connections, upstream
//! connections and memory for ever.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::support::TestGateway;

/// An upstream that answers every request with an endless body (a huge
/// Content-Length, written until the connection fails) and reports each connection
/// that failed: the gateway has let it go.
async fn endless_upstream() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (released, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let released = released.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0u8; 4096];
                    match s.read(&mut chunk).await {
                        Ok(n) if n > 0 => head.extend_from_slice(&chunk[..n]),
                        _ => return,
                    }
                }
                let mut out = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n".to_vec();
                let chunk = vec![b'x'; 64 * 1024];
                loop {
                    if s.write_all(&out).await.is_err() {
                        let _ = released.send(());
                        return;
                    }
                    out.clone_from(&chunk);
                }
            });
        }
    });
    (addr, rx)
}

async fn stalled_client_is_let_go(request: &[u8]) {
    let (up, mut released) = endless_upstream().await;
    let yaml = format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  timeouts: {{ header_read: 5s, idle: 500ms }}\n\
         admin:\n  listen: \"127.0.0.1:0\"\n\
         routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n"
    );
    let gw = TestGateway::start(&yaml).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    // The client reads nothing. Within a bounded wait the gateway gives up on it and on
    // the upstream connection: the upstream's writes fail.
    let gone = timeout(Duration::from_secs(20), released.recv()).await;
    assert!(
        matches!(gone, Ok(Some(()))),
        "the upstream connection was held for a client that reads nothing"
    );
    drop(s);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_let_go() {
    stalled_client_is_let_go(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").await;
    stalled_client_is_let_go(b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi").await;
}
