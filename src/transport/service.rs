//! The hyper service of one connection (HTTP/1 and HTTP/2 alike): notes each request
//! in the connection's state and hands it to the [`Handler`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::header::CONNECTION;
use http::{HeaderMap, HeaderValue, Request, Response, Version};
use http_body::Body as _;
use hyper::body::Incoming;

use super::conn_state::{ConnState, Counted};
use super::{ConnInfo, Handler, ReqBody};

/// The future hyper holds per in-flight request. Boxed: the request path is large
/// (auth, refresh, upstream exchange), and hyper keeps a slot of this size per
/// connection.
type ServiceFuture<B> =
    Pin<Box<dyn Future<Output = Result<Response<Counted<B>>, Infallible>> + Send>>;

/// Every request of one connection goes to `handler`.
pub(super) struct Service<H> {
    pub(super) handler: Arc<H>,
    pub(super) info: ConnInfo,
    pub(super) state: Arc<ConnState>,
}

impl<H> Clone for Service<H> {
    fn clone(&self) -> Self {
        Service {
            handler: self.handler.clone(),
            info: self.info,
            state: self.state.clone(),
        }
    }
}

impl<H: Handler> hyper::service::Service<Request<Incoming>> for Service<H> {
    type Response = Response<Counted<H::Body>>;
    type Error = Infallible;
    type Future = ServiceFuture<H::Body>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        // A body hyper may still read (or drain, if the response comes first), and an
        // upgrade hyper keeps state for, each keep the connection from parking.
        let has_body = !req.body().is_end_stream();
        let upgrade = req
            .extensions()
            .get::<hyper::upgrade::OnUpgrade>()
            .is_some();
        let active = self.state.begin_request(has_body, upgrade);
        let http10 = req.version() == Version::HTTP_10;
        let keep_alive_10 = http10 && asks_keep_alive(req.headers());
        let handled = self.handler.clone().call(req.map(ReqBody::from), self.info);
        Box::pin(async move {
            let mut resp = handled.await;
            if http10 {
                http10_response(&mut resp, keep_alive_10);
            }
            Ok(resp.map(|body| Counted::new(body, active)))
        })
    }
}

/// Whether an HTTP/1.0 request asks to keep its connection (`Connection: keep-alive`).
fn asks_keep_alive(headers: &HeaderMap) -> bool {
    headers.get_all(CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"keep-alive"))
    })
}

/// An answer to an HTTP/1.0 client, framed as one: its connection stays open only when
/// the client asked and the body's length is known (a body of unknown length ends with
/// the connection). hyper decides from the response's version and `Connection`: left at
/// 1.1, it would announce `keep-alive` and still end a body of unknown length by
/// closing.
fn http10_response<B: http_body::Body>(resp: &mut Response<B>, client_keep_alive: bool) {
    *resp.version_mut() = Version::HTTP_10;
    if client_keep_alive && resp.body().size_hint().exact().is_some() {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("keep-alive"));
    }
}
