//! gRPC-shaped denials through a running gateway, seen by a minimal gRPC client made
//! here (hyper's HTTP/2 client with prior knowledge, as gRPC libraries connect to a
//! plaintext server; and HTTP/1.1 as gRPC-Web and some proxies' clients use it): a
//! unary call is a POST of one length-prefixed message with `content-type:
//! application/grpc` and `te: trailers`, and its outcome is the `grpc-status` of the
//! response headers (trailers-only) or of the trailers.
//!
//! Why not tonic or grpcurl: grpcurl is not packaged in Debian, and tonic would bring
//! prost, code generation and protoc into the build for what is one POST and a few
//! header checks; a denial never reaches a message codec. A real gRPC library reads the
//! same denials in `grpc_library.rs` (Debian's python3-grpcio).

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpStream;

use crate::bearer::user;
use crate::support::bearer::{config, route, start_ready, ProviderYaml};
use crate::support::client::send;
use crate::support::fake_idp::FakeIdp;
use crate::support::{closed_port, echo_upstream, silent_upstream, TestGateway};

/// What a gRPC client sees of one call.
#[derive(Debug)]
struct Reply {
    http_status: u16,
    version: Version,
    content_type: Option<String>,
    /// From the headers (trailers-only) or, failing that, the trailers.
    grpc_status: Option<String>,
    grpc_message: Option<String>,
    headers: HeaderMap,
    trailers: Option<HeaderMap>,
    body: Bytes,
}

/// One length-prefixed, uncompressed message (gRPC's wire framing).
fn framed(message: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + message.len());
    b.put_u8(0);
    b.put_u32(u32::try_from(message.len()).unwrap());
    b.put_slice(message);
    b.freeze()
}

fn request(
    addr: SocketAddr,
    method_path: &str,
    content_type: &str,
    extra: &[(&str, &str)],
) -> Request<Full<Bytes>> {
    let mut b = Request::post(format!("http://{addr}{method_path}"))
        .header("content-type", content_type)
        .header("te", "trailers")
        .header("grpc-timeout", "10S")
        .header("user-agent", "portcullis-test-grpc/1");
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(Full::new(framed(b"\x0a\x05hello"))).unwrap()
}

async fn read(resp: http::Response<hyper::body::Incoming>) -> Reply {
    let (parts, body) = resp.into_parts();
    let collected = body.collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    let body = collected.to_bytes();
    let field = |name: &str| {
        parts
            .headers
            .get(name)
            .or_else(|| trailers.as_ref().and_then(|t| t.get(name)))
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Reply {
        http_status: parts.status.as_u16(),
        version: parts.version,
        content_type: field("content-type"),
        grpc_status: field("grpc-status"),
        grpc_message: field("grpc-message"),
        headers: parts.headers.clone(),
        trailers,
        body,
    }
}

/// A unary call over HTTP/2 with prior knowledge (h2c).
async fn call_h2(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let resp = sender
        .send_request(request(addr, path, "application/grpc", extra))
        .await
        .expect("h2 call");
    read(resp).await
}

/// The same call over HTTP/1.1, with `content_type` (gRPC-Web uses HTTP/1.1).
async fn call_h1(addr: SocketAddr, path: &str, ct: &str, extra: &[(&str, &str)]) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("h1 handshake");
    tokio::spawn(conn);
    let resp = sender
        .send_request(request(addr, path, ct, extra))
        .await
        .expect("h1 call");
    read(resp).await
}

#[track_caller]
fn assert_grpc(r: &Reply, status: &str, what: &str) {
    assert_eq!(r.http_status, 200, "{what}: {r:?}");
    assert_eq!(r.grpc_status.as_deref(), Some(status), "{what}: {r:?}");
    assert!(
        r.headers.contains_key("grpc-status"),
        "{what}: trailers-only (status in the headers)"
    );
    assert!(r.body.is_empty(), "{what}: no message");
    assert!(
        r.grpc_message.as_deref().is_some_and(|m| !m.is_empty()),
        "{what}"
    );
    assert!(
        r.headers.get("location").is_none(),
        "{what}: never a redirect"
    );
}

struct Bed {
    idp: FakeIdp,
    gw: TestGateway,
}

async fn bed() -> Bed {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let (down, silent) = (closed_port().await, silent_upstream().await);
    let yaml = config(
        &[ProviderYaml::default().with("userinfo: never").render(&idp)],
        &[
            route("echo", "/test.Echo", up, &[]),
            route("admin", "/test.Admin", up, &["allow: { groups: [admins] }"]),
            route("down", "/test.Down", down, &[]),
            route(
                "slow",
                "/test.Slow",
                silent,
                &["timeouts: { response: 300ms }"],
            ),
            route(
                "web",
                "/test.Web",
                up,
                &["cors: { allow_origins: [\"https://app.example\"] }"],
            ),
            route("session", "/test.Session", up, &["auth: session"]),
        ],
    );
    let session = "session:\n  secrets: [\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"]\n";
    let gw = start_ready(&format!("{yaml}{session}")).await;
    Bed { idp, gw }
}

/// The gateway of these tests (also used by `grpc_library.rs`).
pub(super) async fn grpc_bed() -> (FakeIdp, TestGateway) {
    let Bed { idp, gw } = bed().await;
    (idp, gw)
}

#[tokio::test]
async fn a_call_without_credentials_is_unauthenticated_over_h2_and_h1() {
    let Bed { gw, .. } = bed().await;
    let addr = gw.running.addr;
    let r = call_h2(addr, "/test.Echo/Call", &[]).await;
    assert_eq!(r.version, Version::HTTP_2);
    assert_grpc(&r, "16", "h2");
    assert_eq!(r.content_type.as_deref(), Some("application/grpc"));
    assert_eq!(
        r.grpc_message.as_deref(),
        Some("Authentication is required.")
    );
    assert!(r.trailers.is_none(), "trailers-only: {r:?}");
    assert_eq!(
        r.headers.get("www-authenticate").unwrap(),
        "Bearer realm=\"echo\""
    );
    let r = call_h1(addr, "/test.Echo/Call", "application/grpc+proto", &[]).await;
    assert_eq!(r.version, Version::HTTP_11);
    assert_grpc(&r, "16", "h1");
    // A session route: UNAUTHENTICATED too, never a login redirect.
    assert_grpc(
        &call_h2(addr, "/test.Session/Call", &[]).await,
        "16",
        "session",
    );
    // The same request without the gRPC content type keeps its HTTP answer.
    let plain = send(
        "POST",
        &format!("{}/test.Echo/Call", gw.url),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(plain.status, 401);
    assert!(plain.header("grpc-status").is_none());
    let n = gw
        .metric("portcullis_grpc_denials_total{grpc_status=\"UNAUTHENTICATED\",route=\"echo\"}")
        .await;
    assert_eq!(n, 2.0);
}

#[tokio::test]
async fn each_denial_gets_its_grpc_status() {
    let Bed { idp, gw } = bed().await;
    let addr = gw.running.addr;
    let bob = format!("Bearer {}", idp.sign(user(&idp, "bob", json!({}))));
    let auth = [("authorization", bob.as_str())];
    let expired = format!("Bearer {}", idp.sign(user(&idp, "bob", json!({"exp": 1}))));
    let expired = [("authorization", expired.as_str())];
    // (method path, metadata, grpc-status)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: Vec<Case> = vec![
        ("/test.Echo/Call", &expired, "16"),
        ("/test.Admin/Call", &auth, "7"),
        ("/test.Down/Call", &auth, "14"),
        ("/test.Slow/Call", &auth, "4"),
        ("/test.Nothing/Call", &auth, "12"),
    ];
    for (path, extra, status) in &cases {
        assert_grpc(&call_h2(addr, path, extra).await, status, path);
        assert_grpc(
            &call_h1(addr, path, "application/grpc", extra).await,
            status,
            path,
        );
    }
    // Two Authorization fields: a malformed request.
    let two = [
        ("authorization", bob.as_str()),
        ("authorization", "Bearer x"),
    ];
    assert_grpc(
        &call_h2(addr, "/test.Echo/Call", &two).await,
        "3",
        "malformed",
    );
    // An allowed call is forwarded: the upstream's answer, not a gateway shape.
    let r = call_h2(addr, "/test.Echo/Call", &auth).await;
    assert_eq!(r.http_status, 200);
    assert!(r.grpc_status.is_none(), "{r:?}");
    let text = gw.metrics().await;
    for (route, name) in [
        ("admin", "PERMISSION_DENIED"),
        ("down", "UNAVAILABLE"),
        ("slow", "DEADLINE_EXCEEDED"),
        ("-", "UNIMPLEMENTED"),
    ] {
        let series =
            format!("portcullis_grpc_denials_total{{grpc_status=\"{name}\",route=\"{route}\"}}");
        assert_eq!(
            crate::support::metric_value(&text, &series),
            2.0,
            "{series}"
        );
    }
}

#[tokio::test]
async fn grpc_web_denials_are_trailers_only_and_readable_cross_origin() {
    let Bed { gw, .. } = bed().await;
    let addr = gw.running.addr;
    let origin = [("origin", "https://app.example")];
    for (ct, answer) in [
        ("application/grpc-web+proto", "application/grpc-web"),
        ("application/grpc-web-text", "application/grpc-web-text"),
    ] {
        let r = call_h1(addr, "/test.Web/Call", ct, &origin).await;
        assert_grpc(&r, "16", ct);
        assert_eq!(r.content_type.as_deref(), Some(answer));
        assert_eq!(
            r.headers.get("access-control-allow-origin").unwrap(),
            "https://app.example"
        );
        let exposed = r.headers["access-control-expose-headers"].to_str().unwrap();
        assert!(
            exposed.contains("grpc-status") && exposed.contains("grpc-message"),
            "{exposed}"
        );
    }
}

#[tokio::test]
async fn a_rate_limited_call_is_resource_exhausted() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let gw = start_ready(&config(
        &[ProviderYaml::default().with("userinfo: never").render(&idp)],
        &[route(
            "limited",
            "/test.Limited",
            up,
            &["rate_limit: { key: principal, rate: 1/h, burst: 1 }"],
        )],
    ))
    .await;
    let addr = gw.running.addr;
    let bob = format!("Bearer {}", idp.sign(user(&idp, "bob", json!({}))));
    let auth = [("authorization", bob.as_str())];
    let r = call_h2(addr, "/test.Limited/Call", &auth).await;
    assert_eq!(r.http_status, 200);
    assert!(r.grpc_status.is_none(), "forwarded: {r:?}");
    // Over HTTP/2 and HTTP/1.1: RESOURCE_EXHAUSTED, trailers-only, never an HTTP 429.
    for r in [
        call_h2(addr, "/test.Limited/Call", &auth).await,
        call_h1(addr, "/test.Limited/Call", "application/grpc", &auth).await,
    ] {
        assert_grpc(&r, "8", "rate limited");
        assert_eq!(r.content_type.as_deref(), Some("application/grpc"));
        assert!(r.trailers.is_none(), "trailers-only: {r:?}");
        assert!(r.headers.get("www-authenticate").is_none(), "{r:?}");
        // The message points at Retry-After: the client finds it in the metadata.
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((3595..=3600).contains(&retry), "{retry}");
        assert!(r.headers.contains_key("ratelimit"), "{r:?}");
    }
    let n = gw
        .metric(
            "portcullis_grpc_denials_total{grpc_status=\"RESOURCE_EXHAUSTED\",route=\"limited\"}",
        )
        .await;
    assert_eq!(n, 2.0);
    let limited = crate::ratelimit::decisions(&gw, "limited", "principal", "limited").await;
    assert_eq!(limited, 2.0);
}
