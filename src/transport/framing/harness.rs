//! The gateway's reading of a byte stream sent on one HTTP/1 connection, for the
//! differential tests against [`super::reference`] (`framing/tests.rs`) and the fuzz
//! target `server_framing`: hyper's server as the transport configures it, with the
//! transport's service (and so [`super::check`]), and a handler that records what it is
//! handed. Not used to serve requests.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::reference::{decide, Outcome};
use super::MalformedFraming;
use crate::transport::conn_state::ConnState;
use crate::transport::listener::Protocols;
use crate::transport::service::Service;
use crate::transport::{BoxError, ConnInfo, Handler, ReqBody};

/// Records what it is handed: the request and its whole body, or why not.
struct Recorder(Arc<Mutex<Vec<Outcome>>>);

impl Handler for Recorder {
    type Body = BoxBody<Bytes, BoxError>;

    fn call(
        &self,
        req: Request<ReqBody>,
        _conn: ConnInfo,
    ) -> impl std::future::Future<Output = Response<Self::Body>> + Send + 'static {
        let seen = self.0.clone();
        async move { record(seen, req).await }
    }
}

async fn record(
    seen: Arc<Mutex<Vec<Outcome>>>,
    req: Request<ReqBody>,
) -> Response<BoxBody<Bytes, BoxError>> {
    {
        let (parts, body) = req.into_parts();
        let outcome = if parts.extensions.get::<MalformedFraming>().is_some() {
            Outcome::Refused
        } else {
            match body.collect().await {
                Ok(body) => Outcome::Request {
                    method: parts.method.to_string(),
                    target: parts.uri.to_string(),
                    body: body.to_bytes().to_vec(),
                },
                Err(e) if e.is_incomplete_message() => Outcome::Incomplete,
                Err(_) => Outcome::Refused,
            }
        };
        let status = if outcome == Outcome::Refused {
            400
        } else {
            200
        };
        if let Ok(mut seen) = seen.lock() {
            seen.push(outcome);
        }
        let mut resp = Response::new(
            Full::new(Bytes::from_static(b"ok"))
                .map_err(|e| match e {})
                .boxed(),
        );
        *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
        resp
    }
}

/// The gateway's reading of `input` sent on one connection. The client half-closes only
/// when the reference says the input ends within a message (hyper, like the gateway,
/// takes a client's end of stream as a hang-up and cancels what it is serving); else
/// the input ends with a request that closes the connection ([`END`]).
pub async fn gateway(input: &[u8], half_close: bool) -> Vec<Outcome> {
    let recorder = Arc::new(Recorder(Arc::new(Mutex::new(Vec::new()))));
    let svc = Service {
        handler: recorder.clone(),
        info: ConnInfo {
            peer: ([127, 0, 0, 1], 1).into(),
            tls: false,
        },
        state: ConnState::new(),
    };
    let Ok(config) = crate::config::load_str("routes: []") else {
        return Vec::new();
    };
    let protocols = Protocols::new(&config.server);
    let (mut client, server) = tokio::io::duplex(1 << 20);
    let conn = protocols
        .http1()
        .serve_connection(TokioIo::new(server), svc);
    let served = tokio::spawn(conn);
    let _ = client.write_all(input).await;
    if half_close {
        let _ = client.shutdown().await;
    }
    let mut sink = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.read_to_end(&mut sink),
    )
    .await;
    if read.is_err() {
        // The input ended in a message both readings took as complete (a body that
        // swallowed END): end it.
        let _ = client.shutdown().await;
        let _ = client.read_to_end(&mut sink).await;
    }
    let ended = served.await.ok();
    let mut seen = recorder.0.lock().map(|s| s.clone()).unwrap_or_default();
    let terminal = matches!(seen.last(), Some(Outcome::Refused | Outcome::Incomplete));
    if !terminal {
        match ended {
            Some(Err(e)) if e.is_incomplete_message() => seen.push(Outcome::Incomplete),
            Some(Err(e)) if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() => {
                seen.push(Outcome::Refused)
            }
            _ => {}
        }
    }
    seen
}

/// Ends every input: a request that closes the connection.
pub const END: &str = "GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// How the gateway's reading of `input` (then [`END`]) differs from the reference's;
/// `None` when they agree.
pub async fn differs(input: &[u8]) -> Option<String> {
    let mut input = input.to_vec();
    input.extend_from_slice(END.as_bytes());
    let want = decide(&input);
    let half_close = want.last() == Some(&Outcome::Incomplete);
    let got = gateway(&input, half_close).await;
    (got != want).then(|| {
        format!(
            "framing differs for {:?}:\n  gateway:   {got:?}\n  reference: {want:?}",
            String::from_utf8_lossy(&input)
        )
    })
}
