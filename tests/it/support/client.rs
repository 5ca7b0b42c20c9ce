//! Small HTTP clients for tests: HTTP/1.1 via hyper-util's client, raw TCP for requests
//! a well-behaved client would never send, and h2c prior knowledge.
#![allow(dead_code)]

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A buffered response.
pub struct Resp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// HTTP version of the response.
    pub version: Version,
}

impl Resp {
    /// Body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// A header as str.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The echo upstream's view of one request header (first value).
    pub fn echoed(&self, name: &str) -> Option<String> {
        self.json()["headers"][name][0].as_str().map(str::to_owned)
    }
    /// The echo upstream's view of the path.
    pub fn echoed_path(&self) -> String {
        self.json()["path"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends a request with the given headers and body.
pub async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Bytes) -> Resp {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body)).expect("request");
    let resp = client.request(req).await.expect("request sent");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
        version: parts.version,
    }
}

/// GET with headers.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    send("GET", url, headers, Bytes::new()).await
}

/// Writes raw bytes to `addr` and reads the whole answer until the peer closes (or the
/// head is complete when `head_only`). Returns the text read.
pub async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One GET over HTTP/2 with prior knowledge (h2c).
pub async fn get_h2c(addr: std::net::SocketAddr, path: &str) -> Resp {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(format!("http://{addr}{path}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = sender.send_request(req).await.expect("h2 request");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Resp {
        status: parts.status,
        headers: parts.headers,
        body,
        version: parts.version,
    }
}

/// Asks the gateway at `addr` for a websocket upgrade of `/ws` (Host `app.test`), checks
/// the 101 and then that each of `messages` comes back through the tunnel (the echo
/// upstream sends back what it gets).
pub async fn websocket_round_trip(addr: std::net::SocketAddr, messages: &[&[u8]]) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).await.expect("read head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for msg in messages {
        s.write_all(msg).await.expect("write tunnel");
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back).await.expect("read tunnel");
        assert_eq!(&back[..], *msg);
    }
}
