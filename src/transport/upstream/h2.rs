//! HTTP/2 to an https upstream that chose it by ALPN: hyper's HTTP/2 client connection
//! (another protocol, not a second HTTP/1 implementation). One connection per worker
//! thread per route carries every request of that worker (its streams are multiplexed);
//! it is opened when a TLS handshake picks h2 and replaced once it has closed. Its
//! connection task runs on the worker that opened it; the reaper drops one idle for
//! [`super::POOL_IDLE`].

use std::sync::Mutex;
use std::time::Instant;

use http::header::TRAILER;
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::body::{ReqBody, UpstreamBody};
use super::h1::ProtoError;
use super::PoolError;
use crate::proxy::headers::clean_response;

/// One worker's HTTP/2 connection: its sender and when it was last used.
pub(super) type Slot = Mutex<Option<(SendRequest<ReqBody>, Instant)>>;

/// The HTTP/2 client settings of every route.
pub(super) fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.timer(TokioTimer::new());
    builder
}

/// The HTTP/2 handshake on a TLS stream that chose h2; the connection is driven by a
/// task on this worker until every sender is gone or the upstream closes it.
pub(super) async fn handshake(
    builder: &Builder<TokioExecutor>,
    tls: TlsStream<TcpStream>,
) -> Result<SendRequest<ReqBody>, PoolError> {
    let (sender, connection) = builder
        .handshake(TokioIo::new(tls))
        .await
        .map_err(PoolError::Http)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "upstream HTTP/2 connection ended with an error");
        }
    });
    Ok(sender)
}

/// This worker's sender, if its connection is still open.
pub(super) fn sender(slot: &Slot) -> Option<SendRequest<ReqBody>> {
    let mut slot = slot.lock().ok()?;
    match slot.as_mut() {
        Some((sender, used)) if !sender.is_closed() => {
            *used = Instant::now();
            Some(sender.clone())
        }
        Some(_) => {
            *slot = None;
            None
        }
        None => None,
    }
}

/// Keeps `sender` as this worker's connection.
pub(super) fn keep(slot: &Slot, sender: &SendRequest<ReqBody>) {
    if let Ok(mut slot) = slot.lock() {
        *slot = Some((sender.clone(), Instant::now()));
    }
}

/// Drops the connection if it closed or has not been used since `idle_since`.
pub(super) fn prune(slot: &Slot, idle_since: Instant) {
    if let Ok(mut slot) = slot.lock() {
        if slot
            .as_ref()
            .is_some_and(|(sender, used)| sender.is_closed() || *used < idle_since)
        {
            *slot = None;
        }
    }
}

/// The result of [`send`]: the response, or the request back when the connection had
/// closed before taking it.
pub(super) enum Sent {
    Response(Response<UpstreamBody>),
    Closed(Request<ReqBody>),
}

/// Sends `req` (origin-form target, Host set) on `sender`: the target becomes absolute
/// for the `:scheme` and `:authority` of HTTP/2; the response's hop-by-hop fields are
/// removed as the HTTP/1 codec removes them.
pub(super) async fn send(
    sender: &mut SendRequest<ReqBody>,
    mut req: Request<ReqBody>,
    authority: &http::uri::Authority,
) -> Result<Sent, PoolError> {
    if req.uri().scheme().is_none() {
        let pq = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::builder()
            .scheme(Scheme::HTTPS)
            .authority(authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|_| PoolError::Protocol(ProtoError("request target cannot be sent")))?;
    }
    *req.version_mut() = Version::HTTP_2;
    // Request trailers are never forwarded: none is announced.
    req.headers_mut().remove(TRAILER);
    match sender.try_send_request(req).await {
        Ok(mut resp) => {
            clean_response(resp.headers_mut())
                .map_err(|why| PoolError::Protocol(ProtoError(why)))?;
            Ok(Sent::Response(resp.map(UpstreamBody::from)))
        }
        Err(mut e) => match e.take_message() {
            Some(req) => Ok(Sent::Closed(req)),
            None => Err(PoolError::Http(e.into_error())),
        },
    }
}
