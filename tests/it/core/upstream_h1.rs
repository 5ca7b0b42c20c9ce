//! Request bodies and upgrades through the gateway's own HTTP/1.1 client codec
//! (src/transport/upstream/upload.rs, tunnel.rs): bodies framed by one canonical field,
//! uploads that go on after an early answer (whose connection is then not reused), a
//! client body failing mid-way (400), and websocket tunnels from the bytes the codec
//! read past the 101.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::support::client::{get, send};
use crate::support::TestGateway;

/// One request as the upstream read it: its head, and its body decoded.
#[derive(Clone, Debug)]
struct Recorded {
    head: String,
    body: Vec<u8>,
}

/// A raw upstream that answers every request with `answer`, after its body or as soon
/// as its head is in; it records what it read and reports heads and closed connections.
struct Recorder {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    heads: mpsc::UnboundedReceiver<()>,
    closed: mpsc::UnboundedReceiver<()>,
}

impl Recorder {
    async fn start(answer: &'static [u8], early: bool) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (head_tx, heads) = mpsc::unbounded_channel();
        let (closed_tx, closed) = mpsc::unbounded_channel();
        let (count, seen) = (accepted.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (seen, head_tx, closed_tx) = (seen.clone(), head_tx.clone(), closed_tx.clone());
                tokio::spawn(async move {
                    let _ = serve(s, answer, early, seen, head_tx).await;
                    let _ = closed_tx.send(());
                });
            }
        });
        Recorder {
            addr,
            accepted,
            requests,
            heads,
            closed,
        }
    }

    fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The requests read whole, once there are `n` (bounded wait).
    async fn requests(&self, n: usize) -> Vec<Recorded> {
        for _ in 0..1000 {
            let seen = self.requests.lock().expect("requests").clone();
            if seen.len() >= n {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {n} requests reached the upstream whole");
    }
}

/// Reads requests (Content-Length or chunked bodies) and answers each.
async fn serve(
    mut s: TcpStream,
    answer: &[u8],
    early: bool,
    seen: Arc<Mutex<Vec<Recorded>>>,
    head_tx: mpsc::UnboundedSender<()>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            fill(&mut s, &mut buf).await?;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        buf.drain(..end + 4);
        let _ = head_tx.send(());
        if early {
            s.write_all(answer).await?;
        }
        let mut body = Vec::new();
        if head.contains("\r\ntransfer-encoding: chunked") {
            loop {
                let lf = loop {
                    if let Some(lf) = buf.windows(2).position(|w| w == b"\r\n") {
                        break lf;
                    }
                    fill(&mut s, &mut buf).await?;
                };
                let size = usize::from_str_radix(&String::from_utf8_lossy(&buf[..lf]), 16)
                    .expect("chunk size the gateway wrote");
                buf.drain(..lf + 2);
                while buf.len() < size + 2 {
                    fill(&mut s, &mut buf).await?;
                }
                body.extend_from_slice(&buf[..size]);
                buf.drain(..size + 2);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(len) = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.parse::<usize>().ok())
        {
            while buf.len() < len {
                fill(&mut s, &mut buf).await?;
            }
            body = buf.drain(..len).collect();
        }
        seen.lock().expect("requests").push(Recorded { head, body });
        if !early {
            s.write_all(answer).await?;
        }
    }
}

async fn fill(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 8192];
    match s.read(&mut chunk).await? {
        0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
        n => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

async fn gateway(up: SocketAddr) -> TestGateway {
    let route = format!("routes:\n  - name: r\n    upstream: \"http://{up}\"\n    auth: none\n");
    TestGateway::start_with_workers(&route, 1).await
}

/// Reads one response (`Content-Length` bodies only) from `s`.
async fn response(s: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("content-length: ").map(str::to_owned))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + len {
                return text;
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut chunk))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "closed: {text}");
        seen.extend_from_slice(&chunk[..n]);
    }
}

/// The framing fields of a head the upstream read.
fn framing(head: &str) -> Vec<&str> {
    head.lines()
        .filter(|l| l.starts_with("content-length:") || l.starts_with("transfer-encoding:"))
        .collect()
}

#[tokio::test]
async fn uploads_are_framed_by_one_canonical_field_whatever_the_client_sent() {
    let up = Recorder::start(OK, false).await;
    let gw = gateway(up.addr).await;
    for request in [
        &b"POST /cl HTTP/1.1\r\nHost: x\r\nContent-Length: 0005\r\n\r\nhello"[..],
        b"POST /ch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n\
          3\r\nabc\r\n2\r\nde\r\n0\r\nx-sum: 5\r\n\r\n",
    ] {
        let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
        s.write_all(request).await.expect("write");
        assert!(response(&mut s).await.starts_with("HTTP/1.1 200 "));
    }
    let seen = up.requests(2).await;
    assert_eq!(
        framing(&seen[0].head),
        ["content-length: 5"],
        "{}",
        seen[0].head
    );
    assert_eq!(seen[0].body, b"hello");
    assert_eq!(
        framing(&seen[1].head),
        ["transfer-encoding: chunked"],
        "{}",
        seen[1].head
    );
    assert!(
        !seen[1].head.contains("trailer:"),
        "no trailer is announced: none is sent"
    );
    assert_eq!(seen[1].body, b"abcde");
    assert_eq!(up.connections(), 1, "both on one pooled connection");
}

#[tokio::test]
async fn an_early_answer_is_not_held_back_by_a_slow_upload_and_its_connection_is_not_reused() {
    let up = Recorder::start(OK, true).await;
    let gw = gateway(up.addr).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    s.write_all(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        .await
        .expect("write");
    // The answer arrives while half the body has still to come from the client.
    let answer = response(&mut s).await;
    assert!(
        answer.starts_with("HTTP/1.1 200 ") && answer.ends_with("ok"),
        "{answer}"
    );
    s.write_all(b"56789").await.expect("rest of the body");
    let seen = up.requests(1).await;
    assert_eq!(
        seen[0].body, b"0123456789",
        "the upload went on after the answer"
    );
    let next = get(&format!("{}/next", gw.url), &[]).await;
    assert_eq!(next.status.as_u16(), 200);
    assert_eq!(
        up.connections(),
        2,
        "answered before its body ended: not reused"
    );
}

#[tokio::test]
async fn bodies_sent_whole_before_the_answer_keep_their_connection() {
    let up = Recorder::start(OK, false).await;
    let gw = gateway(up.addr).await;
    for i in 0..3 {
        let body = Bytes::from(vec![b'x'; 1000 * (i + 1)]);
        let r = send("PUT", &format!("{}/u", gw.url), &[], body).await;
        assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "ok"));
        assert_eq!(get(&format!("{}/g", gw.url), &[]).await.status, 200);
    }
    let seen = up.requests(6).await;
    assert_eq!(seen[4].body.len(), 3000);
    assert_eq!(up.connections(), 1);
}

#[tokio::test]
async fn a_client_body_failing_mid_way_is_a_400_and_its_upstream_connection_closes() {
    let mut up = Recorder::start(OK, false).await;
    let gw = gateway(up.addr).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    s.write_all(b"POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        .await
        .expect("write");
    // The head (and what came of the body) is upstream; then the body turns malformed.
    tokio::time::timeout(Duration::from_secs(10), up.heads.recv())
        .await
        .expect("the upload started");
    s.write_all(b"ZZ\r\nmore\r\n0\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    tokio::time::timeout(Duration::from_secs(10), up.closed.recv())
        .await
        .expect("the half-sent upstream connection is closed");
    let metrics = gw.metrics().await;
    assert!(
        !metrics.contains("portcullis_upstream_errors_total{"),
        "{metrics}"
    );
    assert_eq!(get(&format!("{}/next", gw.url), &[]).await.status, 200);
    assert_eq!(up.connections(), 2);
}

/// An upstream that switches every request to `switched` (its 101 and `early` in one
/// write) and then echoes what it reads.
async fn switching_upstream(switched: &'static str, early: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    if fill(&mut s, &mut buf).await.is_err() {
                        return;
                    }
                }
                let mut answer = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: {switched}\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"
                )
                .into_bytes();
                answer.extend_from_slice(early);
                if s.write_all(&answer).await.is_ok() {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                }
            });
        }
    });
    addr
}

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\n\
    Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

#[tokio::test]
async fn bytes_read_past_the_101_open_the_tunnel() {
    let up = switching_upstream("websocket", b"EARLY").await;
    let gw = gateway(up).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    s.write_all(UPGRADE).await.expect("write");
    let mut seen = Vec::new();
    while !seen.ends_with(b"EARLY") {
        let mut chunk = [0u8; 1024];
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 101 "), "{text}");
    assert!(text.contains("\r\nupgrade: websocket\r\n"), "{text}");
    assert!(text.contains("\r\nsec-websocket-accept: x\r\n"), "{text}");
    s.write_all(b"ping").await.expect("write tunnel");
    let mut back = [0u8; 4];
    s.read_exact(&mut back).await.expect("read tunnel");
    assert_eq!(&back, b"ping");
}

#[tokio::test]
async fn a_switch_to_another_protocol_than_the_one_asked_for_is_a_502() {
    let up = switching_upstream("h2c", b"").await;
    let gw = gateway(up).await;
    let mut s = TcpStream::connect(gw.running.addr).await.expect("connect");
    s.write_all(UPGRADE).await.expect("write");
    let answer = response(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 502 "), "{answer}");
}
