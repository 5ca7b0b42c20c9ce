//! Listener behaviour: h2c, TLS with ALPN, admin endpoints, graceful shutdown.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::support::client::{get, get_h2c};
use crate::support::tls::TlsGateway;
use crate::support::{echo_upstream, gated_upstream, TestGateway};

fn one_route(up: impl std::fmt::Display) -> String {
    format!("routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n")
}

#[tokio::test]
async fn h2c_prior_knowledge_is_served() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up)).await;
    let r = get_h2c(gw.running.addr, "/h2?x=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(r.echoed_path(), "/h2");
    // HTTP/2 has no Host header: the :authority is used, and forwarded as X-Forwarded-Host.
    assert_eq!(
        r.echoed("x-forwarded-host"),
        Some(gw.running.addr.to_string())
    );
}

#[tokio::test]
async fn tls_listener_negotiates_h2_and_http1_via_alpn() {
    let up = echo_upstream().await;
    let bed = TlsGateway::start(&one_route(up)).await;

    for (alpn, version) in [
        (&b"h2"[..], http::Version::HTTP_2),
        (&b"http/1.1"[..], http::Version::HTTP_11),
    ] {
        let tls = bed.connect(alpn).await;
        let req = http::Request::get("https://localhost/tls")
            .header("host", "localhost")
            .body(Full::new(Bytes::new()))
            .expect("req");
        let resp = if version == http::Version::HTTP_2 {
            let (mut s, c) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                    .await
                    .expect("h2");
            tokio::spawn(c);
            s.send_request(req).await.expect("resp")
        } else {
            let (mut s, c) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .expect("h1");
            tokio::spawn(c);
            s.send_request(req).await.expect("resp")
        };
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), version);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["headers"]["x-forwarded-proto"][0], "https");
    }
}

#[tokio::test]
async fn admin_endpoints_answer_on_their_own_port_only() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&one_route(up)).await;
    assert_eq!(
        get(&format!("{}/healthz", gw.admin_url), &[]).await.status,
        200
    );
    assert_eq!(
        get(&format!("{}/readyz", gw.admin_url), &[]).await.status,
        200
    );
    let _ = get(&format!("{}/count-me", gw.url), &[]).await;
    let m = gw.metrics().await;
    assert!(
        m.contains(r#"portcullis_requests_total{route="r",status="2xx"} 1"#),
        "{m}"
    );
    assert!(
        m.contains("portcullis_request_duration_seconds_bucket{route=\"r\""),
        "{m}"
    );
    assert!(m.contains("portcullis_build_info{version="), "{m}");
    assert!(m.contains("portcullis_requests_in_flight 0"), "{m}");
    // The public port proxies /metrics like any other path; it never serves admin data.
    let r = get(&format!("{}/metrics", gw.url), &[]).await;
    assert_eq!(r.echoed_path(), "/metrics");
}

#[tokio::test]
async fn graceful_shutdown_completes_in_flight_requests() {
    let mut up = gated_upstream().await;
    let gw = TestGateway::start(&one_route(up.addr)).await;
    let url = format!("{}/slow", gw.url);
    let pending = tokio::spawn(async move { get(&url, &[]).await });
    up.arrived
        .recv()
        .await
        .expect("request reached the upstream");
    let addr = gw.running.addr;
    gw.running.shutdown();
    // New connections are no longer accepted once draining started.
    let mut refused = false;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "listener still accepting after shutdown");
    up.release.notify_waiters();
    let r = pending.await.expect("join");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "released");
    gw.running.wait().await;
}
