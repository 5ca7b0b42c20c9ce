// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The listener's connection task: its size (what an idle keep-alive connection costs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;

use crate::transport::{BoxError, ReqBody};

struct Nothing;

impl Handler for Nothing {
    type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

    fn call(
        &self,
        _req: Request<ReqBody>,
        _conn: ConnInfo,
    ) -> impl Future<Output = Response<Self::Body>> + Send + 'static {
        use http_body_util::BodyExt as _;
        async { Response::new(Full::new(Bytes::new()).map_err(|e| match e {}).boxed()) }
    }
}

/// What an idle keep-alive connection costs is mostly its task, this future: kept
/// small (10,000 idle connections are ~10 MB per KiB here).
#[tokio::test]
async fn a_connection_task_is_small() {
    let config = crate::config::load_str("routes: []").unwrap();
    let shared = Arc::new(Shared {
        handler: Arc::new(Nothing),
        settings: ListenerSettings {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            tls: None,
        },
        protocols: Arc::new(Protocols::new(&config.server)),
        shutdown: CancellationToken::new(),
        stops: Box::new([]),
        metrics: ListenerMetrics {
            open: prometheus::IntGauge::new("open", "open").unwrap(),
            idle: prometheus::IntGauge::new("idle", "idle").unwrap(),
        },
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let tracker = TaskTracker::new();
    let peer = stream.local_addr().unwrap();
    let task = connection(stream, peer, shared, tracker.token());
    let size = std::mem::size_of_val(&task);
    assert!(size <= 1024, "{size} bytes");
}
