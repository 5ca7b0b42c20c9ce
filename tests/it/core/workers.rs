//! Connections are served by worker threads, each with its own event loop
//! (src/server/workers.rs): an accepted connection goes to the worker with the fewest
//! open connections, and each worker reuses upstream connections of its own.

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::{echo_upstream, TestGateway};

const OPENED: &str = "portcullis_upstream_connections_opened_total{route=\"app\"}";

/// A keep-alive client connection to the gateway.
async fn client(gw: &TestGateway) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(gw.running.addr).await.expect("connect");
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

async fn get_on(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> u16 {
    sender.ready().await.expect("connection ready");
    let req = Request::get(path)
        .header("host", "gw.test")
        .body(Empty::new())
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    resp.into_body().collect().await.expect("body");
    status
}

/// Two client connections open at once, taking turns: three requests each.
/// Returns the upstream connections the gateway opened.
async fn two_clients_taking_turns(workers: usize) -> f64 {
    let up = echo_upstream().await;
    let gw = TestGateway::start_with_workers(
        &format!(
            "routes:\n  - name: app\n    match: {{ path_prefix: \"/\" }}\n    upstream: \"http://{up}\"\n    auth: none\n"
        ),
        workers,
    )
    .await;
    let mut a = client(&gw).await;
    let mut b = client(&gw).await;
    for i in 0..3 {
        assert_eq!(get_on(&mut a, &format!("/a/{i}")).await, 200);
        assert_eq!(get_on(&mut b, &format!("/b/{i}")).await, 200);
    }
    gw.metric(OPENED).await
}

#[tokio::test]
async fn connections_are_spread_over_the_workers_and_each_reuses_its_own_upstream_connection() {
    // With one worker, the requests (never two at a time) share one upstream connection.
    assert_eq!(two_clients_taking_turns(1).await, 1.0);
    // With two, the second client connection goes to the idle worker, and each worker
    // opens one upstream connection and reuses it for its client's three requests.
    assert_eq!(two_clients_taking_turns(2).await, 2.0);
}
