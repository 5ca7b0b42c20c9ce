//! Response trailers (issue 20 item 3): the declared trailer fields of a chunked upstream
//! response reach a client that accepts them: an HTTP/2 client always, an HTTP/1.1
//! client that sent `TE: trailers` (hyper's server, like the own one, sends only the
//! fields the response's `Trailer` declares, so that field must reach it: it is
//! end-to-end, RFC 9110 §6.6.2). Trailers that would set cookies never do.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::support::{fixed_upstream, TestGateway};

const GRPC_LIKE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\n\
    Transfer-Encoding: chunked\r\nTrailer: grpc-status, grpc-message, set-cookie\r\n\r\n\
    5\r\nhello\r\n0\r\ngrpc-status: 0\r\ngrpc-message: fine\r\nset-cookie: s=forged\r\n\r\n";

async fn gateway() -> TestGateway {
    let up = fixed_upstream(GRPC_LIKE, false).await;
    TestGateway::start(&format!(
        "routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n"
    ))
    .await
}

#[tokio::test]
async fn declared_trailers_reach_an_http2_client() {
    let gw = gateway().await;
    let stream = TcpStream::connect(gw.running.addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    for method in ["GET", "POST"] {
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{}/t", gw.running.addr))
            .body(Full::new(Bytes::from_static(b"x")))
            .expect("request");
        let resp = sender.send_request(req).await.expect("h2 request");
        assert_eq!(resp.status(), 200);
        let collected = resp.into_body().collect().await.expect("body");
        let trailers = collected.trailers().cloned().expect("trailers");
        assert_eq!(
            trailers.get("grpc-status").map(|v| v.as_bytes()),
            Some(&b"0"[..])
        );
        assert_eq!(
            trailers.get("grpc-message").map(|v| v.as_bytes()),
            Some(&b"fine"[..])
        );
        assert!(trailers.get("set-cookie").is_none(), "{trailers:?}");
        assert_eq!(&collected.to_bytes()[..], b"hello");
    }
}

#[tokio::test]
async fn declared_trailers_reach_an_http1_client_that_accepts_them() {
    let gw = gateway().await;
    // A GET (the own server today) and a POST (hyper's server).
    for request in [
        &b"GET /t HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n"[..],
        b"POST /t HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nContent-Length: 1\r\n\
          Connection: close\r\n\r\nx",
    ] {
        let text = read_all(&gw, request).await;
        let lower = text.to_ascii_lowercase();
        assert!(
            lower.contains("\r\ntrailer: grpc-status, grpc-message"),
            "{text}"
        );
        assert!(
            lower.ends_with("\r\n5\r\nhello\r\n0\r\ngrpc-status: 0\r\ngrpc-message: fine\r\n\r\n"),
            "{text}"
        );
    }
    // Without `TE: trailers`, none: the body ends at its last chunk.
    let text = read_all(
        &gw,
        b"GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(text.ends_with("\r\n5\r\nhello\r\n0\r\n\r\n"), "{text}");
}

/// Everything the gateway sends for `request` until it closes.
async fn read_all(gw: &TestGateway, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut all = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut all))
        .await
        .expect("closed in time")
        .expect("read");
    String::from_utf8_lossy(&all).into_owned()
}
