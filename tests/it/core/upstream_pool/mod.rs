//! The own keep-alive pool for plain-http upstreams (src/proxy/pool.rs): connections are
//! reused across requests of every body kind, never reused when they must not be
//! (`Connection: close`, a response abandoned half way), and a connection the upstream
//! closed while idle never turns into a 502.

mod scripted;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::client::{get, send};
use crate::support::TestGateway;
use scripted::{Act, Scripted};

/// One worker: each worker keeps its own upstream connections, and these tests count them.
async fn gateway_to(up: SocketAddr) -> TestGateway {
    let route = format!("routes:\n  - name: app\n    upstream: \"http://{up}\"\n    auth: none\n");
    TestGateway::start_with_workers(&route, 1).await
}

/// Three GETs through a gateway to `up`: each answered `hello`, each on a connection of
/// its own.
async fn hello_three_times_on_three_connections(up: &Scripted) {
    let gw = gateway_to(up.addr).await;
    for _ in 0..3 {
        let r = get(&format!("{}/a", gw.url), &[]).await;
        assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "hello"));
    }
    assert_eq!(up.connections(), 3);
}

const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

#[tokio::test]
async fn one_upstream_connection_serves_every_kind_of_response_in_turn() {
    let up = Scripted::start(|_, head| {
        if head.starts_with("HEAD ") {
            return Act::Answer(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
        }
        let line = head.lines().next().unwrap_or_default();
        Act::Answer(match line.split(' ').nth(1).unwrap_or_default() {
            "/chunked" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            "/empty" => b"HTTP/1.1 204 No Content\r\n\r\n",
            "/zero" => b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            "/not-modified" => b"HTTP/1.1 304 Not Modified\r\netag: \"x\"\r\n\r\n",
            _ => HELLO,
        })
    })
    .await;
    let gw = gateway_to(up.addr).await;
    // The upload (hyper's client) and the bodiless requests (own codec) share the socket.
    let steps: [(&str, &str, u16, &str); 8] = [
        ("GET", "/cl?q=1", 200, "hello"),
        ("POST", "/cl", 200, "hello"),
        ("GET", "/chunked", 200, "abcde"),
        ("HEAD", "/cl", 200, ""),
        ("GET", "/empty", 204, ""),
        ("GET", "/zero", 200, ""),
        ("GET", "/not-modified", 304, ""),
        ("POST", "/cl", 200, "hello"),
    ];
    for (method, path, status, expected) in steps {
        let body = if method == "POST" {
            Bytes::from_static(b"ping")
        } else {
            Bytes::new()
        };
        let r = send(method, &format!("{}{path}", gw.url), &[], body).await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}");
        assert_eq!(r.text(), expected, "{method} {path}");
    }
    assert_eq!(up.connections(), 1, "every request on one connection");
    let heads = up.heads();
    assert_eq!(heads.len(), 8);
    // Origin-form request target, the upstream's own Host.
    assert!(
        heads[0].starts_with("GET /cl?q=1 HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    let host = format!("host: {}", up.addr);
    assert!(
        heads.iter().all(|h| h.to_ascii_lowercase().contains(&host)),
        "{heads:?}"
    );
}

#[tokio::test]
async fn an_upstream_closing_idle_connections_never_causes_a_502() {
    // Closes after every answer, without saying so (no `Connection: close`).
    let mut up = Scripted::start(|_, _| Act::AnswerAndClose(HELLO)).await;
    let gw = gateway_to(up.addr).await;
    for round in 1..=3 {
        let r = get(&format!("{}/a", gw.url), &[]).await;
        assert_eq!(
            (r.status.as_u16(), r.text().as_str()),
            (200, "hello"),
            "round {round}"
        );
        up.wait_closed().await;
    }
    assert_eq!(up.connections(), 3);
}

#[tokio::test]
async fn a_connection_close_answer_is_never_reused() {
    // The upstream announces the close but keeps its socket open: the gateway must not
    // send another request on it.
    let up = Scripted::start(|_, _| {
        Act::AnswerAndHold(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nhello",
        )
    })
    .await;
    hello_three_times_on_three_connections(&up).await;
}

#[tokio::test]
async fn a_response_abandoned_half_way_closes_its_upstream_connection() {
    let mut up = Scripted::start(|_, head| {
        if head.starts_with("GET /slow ") {
            // Promises 100 bytes, sends 10, then waits.
            Act::AnswerAndHold(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
        } else {
            Act::Answer(HELLO)
        }
    })
    .await;
    let gw = gateway_to(up.addr).await;
    let mut client = TcpStream::connect(gw.running.addr).await.expect("connect");
    client
        .write_all(b"GET /slow HTTP/1.1\r\nhost: app\r\n\r\n")
        .await
        .expect("write");
    let mut seen = Vec::new();
    while !seen.ends_with(b"0123456789") {
        let mut chunk = [0u8; 1024];
        let n = client.read(&mut chunk).await.expect("read");
        assert!(
            n > 0,
            "gateway closed early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..n]);
    }
    drop(client);
    // The half-read upstream connection is closed, not pooled...
    up.wait_closed().await;
    // ...so the next request gets its own connection and a clean answer.
    let r = get(&format!("{}/next", gw.url), &[]).await;
    assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "hello"));
    assert_eq!(up.connections(), 2);
}

#[tokio::test]
async fn an_idempotent_request_meeting_a_keep_alive_timeout_is_sent_again() {
    // Every connection answers its first request and closes on the second one without
    // answering: what a request racing the upstream's keep-alive timeout sees.
    let up = Scripted::start(|index, _| {
        if index == 0 {
            Act::Answer(HELLO)
        } else {
            Act::Close
        }
    })
    .await;
    let gw = gateway_to(up.addr).await;
    let first = get(&format!("{}/a", gw.url), &[]).await;
    assert_eq!(first.status.as_u16(), 200);
    // Past the idle time from which a pooled connection's requests keep a copy for a
    // retry (pool::RETRY_IDLE, 1 s).
    tokio::time::sleep(portcullis::transport::upstream::RETRY_IDLE + Duration::from_millis(100))
        .await;
    let retried = get(&format!("{}/b", gw.url), &[]).await;
    assert_eq!(
        (retried.status.as_u16(), retried.text().as_str()),
        (200, "hello")
    );
    assert_eq!(up.connections(), 2, "sent once more on a new connection");
    let retries = gw
        .metric("portcullis_upstream_retries_total{route=\"app\"}")
        .await;
    assert_eq!(retries, 1.0);
    let heads = up.heads();
    assert_eq!(heads.len(), 3);
    assert!(
        heads[1].starts_with("GET /b ") && heads[2].starts_with("GET /b "),
        "{heads:?}"
    );

    // A request with a body is not repeated: the upstream may have acted on it.
    tokio::time::sleep(portcullis::transport::upstream::RETRY_IDLE + Duration::from_millis(100))
        .await;
    let post = send(
        "POST",
        &format!("{}/c", gw.url),
        &[],
        Bytes::from_static(b"x"),
    )
    .await;
    assert_eq!(post.status.as_u16(), 502);
    assert_eq!(up.connections(), 2);
}

#[tokio::test]
async fn an_upstream_sending_more_than_it_announced_is_never_reused() {
    // A body longer than its Content-Length, shaped like a second response: reusing the
    // connection would hand "forged" to the next client (response desync).
    let up = Scripted::start(|_, _| {
        Act::Answer(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged",
        )
    })
    .await;
    hello_three_times_on_three_connections(&up).await;
}

#[tokio::test]
async fn a_close_delimited_body_arrives_whole_and_its_connection_is_not_reused() {
    // No Content-Length, no chunking: the body ends when the upstream closes.
    let mut up =
        Scripted::start(|_, _| Act::AnswerAndClose(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")).await;
    let gw = gateway_to(up.addr).await;
    for _ in 0..2 {
        let r = get(&format!("{}/a", gw.url), &[]).await;
        assert_eq!(
            (r.status.as_u16(), r.text().as_str()),
            (200, "until the end")
        );
        up.wait_closed().await;
    }
    assert_eq!(up.connections(), 2);
}

#[tokio::test]
async fn an_upload_goes_on_after_an_early_answer() {
    // The upstream answers as soon as it has the head, then reads the whole body, as
    // RFC 9110 lets a server do: the gateway must deliver all of it.
    let up = Scripted::start(|_, _| {
        Act::AnswerBeforeBody(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
    })
    .await;
    let gw = gateway_to(up.addr).await;
    const SIZE: usize = 4 << 20;
    let r = send(
        "POST",
        &format!("{}/upload", gw.url),
        &[],
        Bytes::from(vec![b'x'; SIZE]),
    )
    .await;
    assert_eq!(r.status.as_u16(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while up.bodies.lock().expect("bodies").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the upstream never got the whole body"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*up.bodies.lock().expect("bodies"), vec![SIZE]);
}

#[tokio::test]
async fn malformed_upstream_answers_are_502_and_never_poison_the_pool() {
    // Each /bad-N answer is refused by the gateway's parser; /smuggle frames its body
    // twice and hides a second response behind it. A /good request after each must get
    // exactly its own answer.
    let up = Scripted::start(|_, head| {
        let path = head.split(' ').nth(1).unwrap_or_default();
        Act::Answer(match path {
            "/bad-1" => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!",
            "/bad-2" => b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\nhello",
            "/bad-3" => b"HTTP/1.1 200 OK\r\nx-folded: a\r\n b\r\ncontent-length: 5\r\n\r\nhello",
            "/bad-4" => b"HTTP/1.1 200 OK\r\nbad header\r\ncontent-length: 5\r\n\r\nhello",
            "/bad-5" => b"HTTX/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            "/smuggle" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged",
            _ => HELLO,
        })
    })
    .await;
    let gw = gateway_to(up.addr).await;
    for bad in ["/bad-1", "/bad-2", "/bad-3", "/bad-4", "/bad-5"] {
        let r = get(&format!("{}{bad}", gw.url), &[]).await;
        assert_eq!(r.status.as_u16(), 502, "{bad}: {}", r.text());
        assert!(!r.text().contains("hello"), "{bad}: upstream bytes leaked");
        let good = get(&format!("{}/good", gw.url), &[]).await;
        assert_eq!(
            (good.status.as_u16(), good.text().as_str()),
            (200, "hello"),
            "after {bad}"
        );
    }
    // Transfer-Encoding and Content-Length together: refused (RFC 9112 §6.3), and the
    // response hidden behind it never reaches anyone.
    let smuggled = get(&format!("{}/smuggle", gw.url), &[]).await;
    assert_eq!(smuggled.status.as_u16(), 502, "{}", smuggled.text());
    for _ in 0..3 {
        let good = get(&format!("{}/good", gw.url), &[]).await;
        assert_eq!((good.status.as_u16(), good.text().as_str()), (200, "hello"));
    }
}
