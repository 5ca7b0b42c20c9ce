//! `h2c://` upstreams (src/transport/upstream/h2.rs, pool.rs): HTTP/2 with prior
//! knowledge over plain TCP, one connection per worker carrying every request and made
//! again once the upstream has closed it; `TE: trailers` from the client reaches the
//! upstream (the one TE value HTTP/2 allows), any other TE never does.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

use crate::support::client::send;
use crate::support::TestGateway;

/// An HTTP/2-only (prior knowledge) upstream answering with what it got as JSON
/// (`version`, `te`, `body` length, connection number `conn`). With
/// `one_per_connection`, it closes each connection (GOAWAY) after its first request and
/// reports on `closed` once the connection is gone. Returns its address, the number of
/// connections it accepted and the receiver of `closed`.
async fn h2c_upstream(
    one_per_connection: bool,
) -> (SocketAddr, Arc<AtomicUsize>, mpsc::UnboundedReceiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let (closed_tx, closed) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let served = Arc::new(Notify::new());
            let done = served.clone();
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let done = done.clone();
                async move {
                    let version = format!("{:?}", req.version());
                    let te: Vec<String> = req
                        .headers()
                        .get_all("te")
                        .iter()
                        .map(|v| v.to_str().unwrap_or("?").to_owned())
                        .collect();
                    let values = |name: &str| -> Vec<String> {
                        req.headers()
                            .get_all(name)
                            .iter()
                            .map(|v| v.to_str().unwrap_or("?").to_owned())
                            .collect()
                    };
                    let (xff, ids) = (values("x-forwarded-for"), values("x-request-id").len());
                    let body = req.into_body().collect().await.map(|b| b.to_bytes().len());
                    done.notify_one();
                    let out = json!({"version": version, "te": te, "body": body.ok(), "conn": n,
                        "xff": xff, "ids": ids});
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        out.to_string(),
                    ))))
                }
            });
            let closed_tx = closed_tx.clone();
            tokio::spawn(async move {
                let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection(TokioIo::new(s), svc);
                tokio::pin!(conn);
                if one_per_connection {
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        () = served.notified() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.as_mut().await;
                        }
                    }
                    let _ = closed_tx.send(n);
                    return;
                }
                let _ = conn.await;
            });
        }
    });
    (addr, accepted, closed)
}

fn route(up: SocketAddr) -> String {
    format!("routes:\n  - name: grpc\n    upstream: \"h2c://{up}\"\n    auth: none\n")
}

async fn call(gw: &TestGateway, headers: &[(&str, &str)], body: &'static [u8]) -> Value {
    let headers = [headers, &[("x-forwarded-for", "203.0.113.9")]].concat();
    let headers = &headers[..];
    let r = send(
        "POST",
        &format!("{}/svc/M", gw.url),
        headers,
        Bytes::from_static(body),
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    let got: Value = serde_json::from_slice(&r.body).expect("upstream JSON");
    // The fields the gateway adds reach an HTTP/2 upstream once, whichever way the
    // request went (a new connection, an open one, a retry after a GOAWAY).
    assert_eq!(got["xff"], json!(["127.0.0.1"]), "{got}");
    assert_eq!(got["ids"], 1, "{got}");
    got
}

#[tokio::test]
async fn an_h2c_upstream_gets_http2_with_te_trailers_only_when_the_client_asked() {
    let (up, accepted, _) = h2c_upstream(false).await;
    let gw = TestGateway::start_with_workers(&route(up), 1).await;
    let got = call(&gw, &[("te", "trailers")], b"hello").await;
    assert_eq!(got["version"], "HTTP/2.0");
    assert_eq!(got["te"], json!(["trailers"]));
    assert_eq!(got["body"], 5);
    // In a list (HTTP/1.1 clients also name it in Connection): trailers only.
    let got = call(
        &gw,
        &[("te", "gzip, trailers;q=1"), ("connection", "te")],
        b"",
    )
    .await;
    assert_eq!(got["te"], json!(["trailers"]));
    // Any other TE, or none: no TE at all.
    for headers in [&[("te", "gzip")][..], &[]] {
        let got = call(&gw, headers, b"x").await;
        assert_eq!(got["te"], json!([]), "{headers:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");
}

#[tokio::test]
async fn a_closed_h2c_connection_is_made_again() {
    let (up, accepted, mut closed) = h2c_upstream(true).await;
    let gw = TestGateway::start_with_workers(&route(up), 1).await;
    for round in 1..=3 {
        let got = call(&gw, &[], b"abc").await;
        assert_eq!(got["version"], "HTTP/2.0", "{round}");
        assert_eq!(got["body"], 3, "{round}");
        // Served on a connection of its own: the one before was closed.
        assert_eq!(got["conn"], round, "{round}");
        assert_eq!(closed.recv().await, Some(round), "the upstream closed it");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    let refused = TestGateway::start(&route(crate::support::closed_port().await)).await;
    let r = send("POST", &format!("{}/svc/M", refused.url), &[], Bytes::new()).await;
    assert_eq!(r.status.as_u16(), 502, "{}", r.text());
}
