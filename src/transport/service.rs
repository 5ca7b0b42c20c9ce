//! The hyper service of one connection (HTTP/1 and HTTP/2 alike): notes each request
//! in the connection's state and hands it to the [`Handler`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::CONNECTION;
use http::{HeaderMap, HeaderValue, Request, Response, Version};
use http_body::Body as _;
use hyper::body::Incoming;

use super::conn_state::{ActiveRequest, ConnState, Counted};
use super::framing;
use super::{ConnInfo, Handler, ReqBody};

/// The future hyper holds per in-flight request: the handler's future, boxed once
/// where it is made (it is kBs: an async block holding it would be copied into its box
/// and again into its await state on the first poll, three copies per request), and
/// what to do with its answer.
pub(super) struct ServiceFuture<B> {
    handled: Pin<Box<dyn Future<Output = Response<B>> + Send>>,
    /// The request was HTTP/1.0 (and asked to keep its connection).
    http10: Option<bool>,
    /// The gateway refuses the request's framing: the connection ends after the answer.
    malformed: bool,
    /// Taken when the answer is ready (polled again after that: pending forever, which
    /// hyper never does).
    active: Option<ActiveRequest>,
}

impl<B: http_body::Body> Future for ServiceFuture<B> {
    type Output = Result<Response<Counted<B>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Poll::Ready(mut resp) = this.handled.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        let Some(active) = this.active.take() else {
            return Poll::Pending;
        };
        if let Some(keep_alive) = this.http10 {
            http10_response(&mut resp, keep_alive && !this.malformed);
        }
        if this.malformed {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(resp.map(|body| Counted::new(body, active))))
    }
}

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

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        // A body hyper may still read (or drain, if the response comes first), and an
        // upgrade hyper keeps state for, each keep the connection from parking.
        let has_body = !req.body().is_end_stream();
        let upgrade = req
            .extensions()
            .get::<hyper::upgrade::OnUpgrade>()
            .is_some();
        let active = self.state.begin_request(has_body, upgrade);
        // Framing hyper accepts and the gateway does not: the pipeline answers 400 and
        // the connection ends after it, so nothing after this head is read as a request.
        let malformed = framing::check(req.version(), req.headers());
        if let Some(m) = malformed {
            req.extensions_mut().insert(m);
        }
        let http10 = (req.version() == Version::HTTP_10).then(|| asks_keep_alive(req.headers()));
        ServiceFuture {
            handled: Box::pin(self.handler.call(req.map(ReqBody::from), self.info)),
            http10,
            malformed: malformed.is_some(),
            active: Some(active),
        }
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
