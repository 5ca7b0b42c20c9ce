//! HTTP/1 connection handling: parking between requests (buffers released), the
//! header-read and idle deadlines, pipelining, split heads, abandoned requests (slow
//! readers, unread bodies and refused upgrades: `connections_more.rs`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

use crate::support::tls::TlsGateway;
use crate::support::{echo_upstream, gated_upstream, TestGateway};

const IDLE: &str = "portcullis_connections_idle";
pub(super) const OPEN: &str = "portcullis_connections_open";
const IN_FLIGHT: &str = "portcullis_requests_in_flight";

pub(super) fn config(up: impl std::fmt::Display, header_read: &str, idle: &str) -> String {
    format!(
        "server:\n  listen: \"127.0.0.1:0\"\n  timeouts: {{ header_read: {header_read}, idle: {idle} }}\n\
         admin:\n  listen: \"127.0.0.1:0\"\n\
         routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n"
    )
}

/// Waits (bounded) until the gateway's `series` metric equals `want`.
pub(super) async fn metric_becomes(gw: &TestGateway, series: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = gw.metric(series).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} stayed {got}, expected {want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads one complete response (head + Content-Length or chunked body) and returns
/// its status.
pub(super) async fn read_response(s: &mut TcpStream, pending: &mut Vec<u8>) -> u16 {
    let read = async {
        loop {
            if let Some(status) = take_response(pending) {
                return status;
            }
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed before a full response");
            pending.extend_from_slice(&buf[..n]);
        }
    };
    timeout(Duration::from_secs(10), read)
        .await
        .expect("response in time")
}

/// Removes one complete response from the front of `buf`, if there is one.
fn take_response(buf: &mut Vec<u8>) -> Option<u16> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let status = head[9..12].parse().expect("status");
    let chunked = head.contains("transfer-encoding: chunked");
    let mut at = end;
    if chunked {
        loop {
            let line_end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at;
            let size_hex = String::from_utf8_lossy(&buf[at..line_end]).to_string();
            let size = usize::from_str_radix(size_hex.trim(), 16).expect("chunk size");
            at = line_end + 2 + size + 2;
            if buf.len() < at {
                return None;
            }
            if size == 0 {
                break;
            }
        }
    } else {
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().expect("content-length"))
            .unwrap_or(0);
        at += len;
        if buf.len() < at {
            return None;
        }
    }
    buf.drain(..at);
    Some(status)
}

/// True when the server closes the connection (EOF or reset) within 10 s.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let wait = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    };
    timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or(false)
}

pub(super) const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n";

/// Longer than the gateway's lazy parking delay (1 s idle, checked once a second).
pub(super) const PAST_PARKING: Duration = Duration::from_millis(2500);

/// A gateway with default timeouts in front of `up`, and one client connection.
pub(super) async fn gateway_and_client(up: std::net::SocketAddr) -> (TestGateway, TcpStream) {
    let gw = TestGateway::start(&config(up, "10s", "60s")).await;
    let s = TcpStream::connect(gw.running.addr).await.expect("connect");
    (gw, s)
}

#[tokio::test]
async fn keep_alive_connection_is_parked_between_requests_and_serves_the_next() {
    let up = echo_upstream().await;
    let (gw, mut s) = gateway_and_client(up).await;
    let mut pending = Vec::new();
    for _ in 0..3 {
        s.write_all(GET).await.expect("write");
        assert_eq!(read_response(&mut s, &mut pending).await, 200);
        // Between requests the connection holds no hyper buffers: it is parked.
        metric_becomes(&gw, IDLE, 1.0).await;
        assert_eq!(gw.metric(OPEN).await, 1.0);
    }
    drop(s);
    metric_becomes(&gw, OPEN, 0.0).await;
    assert_eq!(gw.metric(IDLE).await, 0.0);
}

#[tokio::test]
async fn pipelined_requests_are_all_answered_in_order() {
    let up = echo_upstream().await;
    let (_gw, mut s) = gateway_and_client(up).await;
    let mut batch = Vec::new();
    for path in ["/1", "/2", "/a%00b", "/3"] {
        batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    s.write_all(&batch).await.expect("write");
    let mut pending = Vec::new();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(read_response(&mut s, &mut pending).await);
    }
    assert_eq!(statuses, [200, 200, 400, 200]);
}

#[tokio::test]
async fn request_head_split_across_writes_after_parking_is_served() {
    let up = echo_upstream().await;
    let (gw, mut s) = gateway_and_client(up).await;
    let mut pending = Vec::new();
    s.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
    metric_becomes(&gw, IDLE, 1.0).await;
    // The first bytes wake the connection; the rest of the head arrives later and
    // must not be lost to a park in between.
    s.write_all(b"GET /b HTTP/1.1\r\nHo").await.expect("write");
    metric_becomes(&gw, IDLE, 0.0).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b"st: t\r\n\r\n").await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
}

#[tokio::test]
async fn a_pipelined_request_cut_short_survives_the_connection_parking() {
    let up = echo_upstream().await;
    let (_gw, mut s) = gateway_and_client(up).await;
    let mut pending = Vec::new();
    // The first request and the start of the second arrive together; the rest of the
    // second comes after the connection has had time to park (1 s idle): the bytes
    // hyper already read must carry over to the connection that serves it.
    s.write_all(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHo")
        .await
        .expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
    tokio::time::sleep(PAST_PARKING).await;
    s.write_all(b"st: t\r\n\r\n").await.expect("write rest");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
    s.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
}

#[tokio::test]
async fn post_bodies_on_a_kept_alive_connection_are_served() {
    let up = echo_upstream().await;
    let (_gw, mut s) = gateway_and_client(up).await;
    let mut pending = Vec::new();
    for _ in 0..2 {
        // Head and body in separate writes: the body arrives after the head was parsed
        // (the echo upstream's /stream reads it and sends it back).
        s.write_all(b"POST /stream HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n")
            .await
            .expect("write head");
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.write_all(b"hello").await.expect("write body");
        assert_eq!(read_response(&mut s, &mut pending).await, 200);
    }
    s.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
}

#[tokio::test]
async fn an_incomplete_request_head_is_cut_off_after_header_read() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up, "300ms", "60s")).await;
    // Slowloris on a fresh connection …
    let mut fresh = TcpStream::connect(gw.running.addr).await.expect("connect");
    fresh
        .write_all(b"GET / HTTP/1.1\r\nX-a: 1\r\n")
        .await
        .expect("write");
    // … and on a kept-alive one.
    let mut kept = TcpStream::connect(gw.running.addr).await.expect("connect");
    let mut pending = Vec::new();
    kept.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut kept, &mut pending).await, 200);
    kept.write_all(b"GET / HTTP/1.1\r\nX-a: 1\r\n")
        .await
        .expect("write");
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Trickling bytes does not extend the deadline.
        let _ = fresh.write_all(b"X-b: 2\r\n").await;
        let _ = kept.write_all(b"X-b: 2\r\n").await;
    }
    assert!(
        closed_by_server(&mut fresh).await,
        "fresh slowloris kept open"
    );
    assert!(
        closed_by_server(&mut kept).await,
        "kept-alive slowloris kept open"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_header_read() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up, "300ms", "60s")).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    assert!(closed_by_server(&mut s).await);
}

#[tokio::test]
async fn idle_keep_alive_outlives_header_read_and_ends_after_idle() {
    let up = echo_upstream().await;
    let gw = TestGateway::start(&config(up, "200ms", "1500ms")).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    let mut pending = Vec::new();
    s.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
    // Idle for several header-read periods (but less than `idle`): still usable.
    tokio::time::sleep(Duration::from_millis(700)).await;
    s.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
    // Then the idle timeout closes it.
    assert!(closed_by_server(&mut s).await);
    metric_becomes(&gw, OPEN, 0.0).await;
}

#[tokio::test]
async fn a_request_abandoned_by_its_client_is_no_longer_in_flight() {
    let mut up = gated_upstream().await;
    let gw = TestGateway::start(&config(up.addr, "10s", "60s")).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    s.write_all(GET).await.expect("write");
    timeout(Duration::from_secs(10), up.arrived.recv())
        .await
        .expect("request reached the upstream");
    assert_eq!(gw.metric(IN_FLIGHT).await, 1.0);
    drop(s);
    metric_becomes(&gw, IN_FLIGHT, 0.0).await;
    metric_becomes(&gw, OPEN, 0.0).await;
    up.release.notify_waiters();
}

#[tokio::test]
async fn parked_connections_do_not_hold_up_shutdown() {
    let up = echo_upstream().await;
    let (gw, mut s) = gateway_and_client(up).await;
    let mut pending = Vec::new();
    s.write_all(GET).await.expect("write");
    assert_eq!(read_response(&mut s, &mut pending).await, 200);
    metric_becomes(&gw, IDLE, 1.0).await;
    gw.running.shutdown();
    timeout(Duration::from_secs(10), gw.running.wait())
        .await
        .expect("shutdown completes");
    assert!(closed_by_server(&mut s).await);
}

#[tokio::test]
async fn tls_keep_alive_connection_parks_and_serves_the_next_request() {
    let up = echo_upstream().await;
    let bed = TlsGateway::start(&format!(
        "routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n"
    ))
    .await;
    let gw = &bed.gw;
    let mut tls = bed.connect(b"http/1.1").await;
    let mut pending = Vec::new();
    for _ in 0..2 {
        tls.write_all(GET).await.expect("write");
        let read = async {
            loop {
                if let Some(status) = take_response(&mut pending) {
                    return status;
                }
                let mut buf = [0u8; 4096];
                let n = tls.read(&mut buf).await.expect("read");
                assert!(n > 0, "connection closed before a full response");
                pending.extend_from_slice(&buf[..n]);
            }
        };
        let status = timeout(Duration::from_secs(10), read)
            .await
            .expect("in time");
        assert_eq!(status, 200);
        metric_becomes(gw, IDLE, 1.0).await;
    }
}
