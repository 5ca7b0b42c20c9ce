//! Everything below the request decision: listeners, worker threads, TLS, HTTP/1 and
//! HTTP/2 serving (hyper's servers, one implementation per protocol), connection state
//! and idle parking, request and response bodies, and the upstream side (`upstream`:
//! the pool and its HTTP/1 client codec).
//!
//! It knows the gateway only through [`Handler`]: a request in, a response out. It never
//! decides what a request may do (that is the pipeline's), never reads the
//! configuration beyond its listener settings, and imports nothing above it.

pub mod conn_state;
pub mod framing;
pub mod hop;
pub mod http1;
pub mod listener;
pub mod server_tls;
mod service;
pub mod sharded;
pub mod tls;
pub mod upstream;
pub mod watched;
pub mod workers;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};

pub use upstream::ReqBody;

/// Errors a response body may end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the listener knows about the connection a request came on.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// Whether the connection is TLS (decides X-Forwarded-Proto).
    pub tls: bool,
}

/// The gateway as the transport sees it: one request in, one response out.
///
/// Implemented by the pipeline (`runtime::Gateway`); the transport can be tested with a
/// trivial handler, and the gateway without a socket through [`oneshot`].
pub trait Handler: Send + Sync + 'static {
    /// The response body.
    type Body: http_body::Body<Data = Bytes, Error = BoxError> + Send + Unpin + 'static;

    /// Answers `req`. Never fails: every error is a response. The future owns what it
    /// uses, taken from `self` before it starts: a reference to the handler itself,
    /// cloned per request, would be one reference count every worker thread writes
    /// (its cache line moving between cores twice per request).
    fn call(
        &self,
        req: Request<ReqBody>,
        conn: ConnInfo,
    ) -> impl Future<Output = Response<Self::Body>> + Send + 'static;
}

/// Calls `handler` in-process, as a connection from `127.0.0.1` would: the seam for
/// tests of the gateway without sockets.
pub async fn oneshot<H: Handler>(handler: &Arc<H>, req: Request<ReqBody>) -> Response<H::Body> {
    let conn = ConnInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 0)),
        tls: false,
    };
    handler.call(req, conn).await
}

/// The gauges a listener keeps (registered by the caller; the transport knows no
/// registry).
#[derive(Clone)]
pub struct ListenerMetrics {
    /// Open client connections.
    pub open: prometheus::IntGauge,
    /// HTTP/1 client connections parked while they wait for their next request.
    pub idle: prometheus::IntGauge,
}
