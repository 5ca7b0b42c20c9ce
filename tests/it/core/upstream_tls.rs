//! https upstreams (src/transport/upstream/tls.rs, h2.rs): HTTP/1.1 over TLS goes through
//! the gateway's own codec and pool (its strict framing included), with the route's
//! client certificate when it has one; an upstream that chooses HTTP/2 by ALPN gets
//! HTTP/2, one connection per worker; a websocket upgrade stays on HTTP/1.1.

use bytes::Bytes;

use crate::support::client::{get, send, websocket_round_trip};
use crate::support::tls_upstream::{tls_upstream, Serve};
use crate::support::TestGateway;

const H2: &[u8] = b"h2";
const HTTP11: &[u8] = b"http/1.1";

#[tokio::test]
async fn an_https_upstream_speaking_http_1_1_is_pooled_by_the_own_codec() {
    let up = tls_upstream(&[HTTP11], false, Serve::Hyper).await;
    let gw = TestGateway::start_with_workers(&up.route(false), 1).await;
    for round in 0..3 {
        let r = get(&format!("{}/g", gw.url), &[]).await;
        assert_eq!(
            (r.status.as_u16(), r.text()),
            (200, "HTTP/1.1 GET /g 0".to_owned()),
            "{round}"
        );
        let r = send(
            "POST",
            &format!("{}/p", gw.url),
            &[],
            Bytes::from_static(b"hello"),
        )
        .await;
        assert_eq!(
            (r.status.as_u16(), r.text()),
            (200, "HTTP/1.1 POST /p 5".to_owned()),
            "{round}"
        );
    }
    assert_eq!(
        up.connections(),
        1,
        "one pooled TLS connection for every request"
    );
}

#[tokio::test]
async fn the_own_codecs_strict_framing_holds_over_tls() {
    // Two equal Content-Length fields: hyper's client took them as one; the own codec
    // refuses what could desynchronise a pooled connection, over TLS too.
    let up = tls_upstream(
        &[HTTP11],
        false,
        Serve::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok"),
    )
    .await;
    let gw = TestGateway::start(&up.route(false)).await;
    let r = get(&format!("{}/x", gw.url), &[]).await;
    assert_eq!(r.status.as_u16(), 502, "{}", r.text());
}

#[tokio::test]
async fn the_routes_client_certificate_is_presented_to_an_mtls_upstream() {
    let up = tls_upstream(&[HTTP11, H2], true, Serve::Hyper).await;
    let gw = TestGateway::start(&up.route(true)).await;
    let r = get(&format!("{}/m", gw.url), &[]).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text());
    assert!(r.text().ends_with(" GET /m 0"), "{}", r.text());
    // Without it, the upstream refuses the handshake: a 502.
    let gw = TestGateway::start(&up.route(false)).await;
    let r = get(&format!("{}/m", gw.url), &[]).await;
    assert_eq!(r.status.as_u16(), 502, "{}", r.text());
}

#[tokio::test]
async fn an_upstream_choosing_http2_gets_it_on_one_connection_per_worker() {
    let up = tls_upstream(&[H2, HTTP11], false, Serve::Hyper).await;
    let gw = TestGateway::start_with_workers(&up.route(false), 1).await;
    // The first handshake finds out that the upstream speaks HTTP/2; later requests
    // that find no open connection share one handshake.
    let r = get(&format!("{}/first", gw.url), &[]).await;
    assert_eq!(r.text(), "HTTP/2.0 GET /first 0");
    let gets = (0..4).map(|i| {
        let url = format!("{}/g{i}", gw.url);
        async move { get(&url, &[]).await }
    });
    for (i, r) in futures_util::future::join_all(gets)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            (r.status.as_u16(), r.text()),
            (200, format!("HTTP/2.0 GET /g{i} 0"))
        );
    }
    let r = send(
        "PUT",
        &format!("{}/p", gw.url),
        &[],
        Bytes::from(vec![b'x'; 100_000]),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.text()),
        (200, "HTTP/2.0 PUT /p 100000".to_owned())
    );
    assert_eq!(
        up.connections(),
        1,
        "one HTTP/2 connection carries them all"
    );
}

#[tokio::test]
async fn an_http2_connection_the_upstream_closes_is_made_again() {
    // Every connection answers one request, then closes (GOAWAY).
    let up = tls_upstream(&[H2, HTTP11], false, Serve::HyperOnce).await;
    let gw = TestGateway::start_with_workers(&up.route(false), 1).await;
    for i in 0..3 {
        let r = get(&format!("{}/g{i}", gw.url), &[]).await;
        assert_eq!(
            (r.status.as_u16(), r.text()),
            (200, format!("HTTP/2.0 GET /g{i} 0"))
        );
    }
    // (A request may still make it onto a closing connection: HTTP/2's graceful
    // shutdown takes the streams that arrive before its final GOAWAY.)
    assert!(up.connections() >= 2, "{}", up.connections());
}

#[tokio::test]
async fn a_websocket_upgrade_to_an_http2_capable_upstream_stays_on_http_1_1() {
    let up = tls_upstream(&[H2, HTTP11], false, Serve::Hyper).await;
    let gw = TestGateway::start(&up.route(false)).await;
    // HTTP/2 first, so that the worker holds an HTTP/2 connection when the upgrade comes.
    assert_eq!(get(&format!("{}/g", gw.url), &[]).await.status, 200);
    websocket_round_trip(gw.running.addr, &[b"over tls", b"and again"]).await;
}
