//! HTTP/2 to an https upstream that chose it by ALPN, or to an `h2c://` upstream with
//! prior knowledge over plain TCP: hyper's HTTP/2 client connection (another protocol,
//! not a second HTTP/1 implementation). One connection per worker thread per route
//! carries every request of that worker (its streams are multiplexed); it is opened when
//! a TLS handshake picks h2 (h2c: at once) and replaced once it has closed. Once the
//! upstream is known to speak HTTP/2, the requests that find no open connection share
//! one handshake instead of each making its own. Its connection task runs on the worker
//! that opened it; the reaper drops one idle for [`super::POOL_IDLE`].

use std::sync::Mutex;
use std::time::Instant;

use futures_util::future::{BoxFuture, Shared};

use http::header::{TE, TRAILER};
use http::uri::{PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri, Version};
use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use super::body::{ReqBody, UpstreamBody};
use super::h1::ProtoError;
use super::PoolError;
use crate::transport::hop::{clean_response, TeTrailers};

/// A handshake under way that several requests wait for: its connection's sender, or
/// `None` (it failed, or the upstream chose HTTP/1.1 this time).
pub(super) type Connecting = Shared<BoxFuture<'static, Option<SendRequest<ReqBody>>>>;

/// One worker's HTTP/2 connection.
#[derive(Default)]
pub(super) enum State {
    /// None.
    #[default]
    Empty,
    /// Open: its sender, and when it was last used.
    Open(SendRequest<ReqBody>, Instant),
    /// Being made.
    Connecting(Connecting),
}

/// One worker's HTTP/2 connection, shared by its requests.
pub(super) type Slot = Mutex<State>;

/// What a request finds in its worker's slot.
pub(super) enum Found {
    /// An open connection.
    Open(SendRequest<ReqBody>),
    /// A handshake to wait for.
    Connecting(Connecting),
    /// Nothing.
    None,
}

/// The HTTP/2 client settings of every route.
pub(super) fn builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.timer(TokioTimer::new());
    builder
}

/// The HTTP/2 handshake on a TLS stream that chose h2, or a TCP stream (h2c); the
/// connection is driven by a task on this worker until every sender is gone or the
/// upstream closes it.
pub(super) async fn handshake<T>(
    builder: &Builder<TokioExecutor>,
    io: T,
) -> Result<SendRequest<ReqBody>, PoolError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = builder
        .handshake(TokioIo::new(io))
        .await
        .map_err(PoolError::Http)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "upstream HTTP/2 connection ended with an error");
        }
    });
    Ok(sender)
}

/// What this worker has: an open connection (closed ones are forgotten), or one being
/// made.
pub(super) fn find(slot: &Slot) -> Found {
    let Ok(mut state) = slot.lock() else {
        return Found::None;
    };
    match &mut *state {
        State::Open(sender, used) if !sender.is_closed() => {
            *used = Instant::now();
            Found::Open(sender.clone())
        }
        State::Connecting(connecting) if connecting.peek().is_none() => {
            Found::Connecting(connecting.clone())
        }
        State::Empty => Found::None,
        _ => {
            *state = State::Empty;
            Found::None
        }
    }
}

/// Keeps `sender` as this worker's connection.
pub(super) fn keep(slot: &Slot, sender: &SendRequest<ReqBody>) {
    if let Ok(mut state) = slot.lock() {
        *state = State::Open(sender.clone(), Instant::now());
    }
}

/// Notes `connecting` as this worker's handshake under way, unless a connection is
/// there already (then that one).
pub(super) fn connecting(slot: &Slot, connecting: Connecting) -> Found {
    let Ok(mut state) = slot.lock() else {
        return Found::Connecting(connecting);
    };
    match &*state {
        State::Open(sender, _) if !sender.is_closed() => Found::Open(sender.clone()),
        _ => {
            *state = State::Connecting(connecting.clone());
            Found::Connecting(connecting)
        }
    }
}

/// Drops the connection if it closed or has not been used since `idle_since`.
pub(super) fn prune(slot: &Slot, idle_since: Instant) {
    if let Ok(mut state) = slot.lock() {
        if let State::Open(sender, used) = &*state {
            if sender.is_closed() || *used < idle_since {
                *state = State::Empty;
            }
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
/// for the `:scheme` and `:authority` of HTTP/2; `TE: trailers` goes with it when the
/// client sent it (`hop::TeTrailers`: the one TE value HTTP/2 allows, which gRPC servers
/// require); the response's hop-by-hop fields are removed as the HTTP/1 codec removes
/// them.
pub(super) async fn send(
    sender: &mut SendRequest<ReqBody>,
    mut req: Request<ReqBody>,
    scheme: Scheme,
    authority: &http::uri::Authority,
) -> Result<Sent, PoolError> {
    if req.uri().scheme().is_none() {
        let pq = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::builder()
            .scheme(scheme)
            .authority(authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|_| PoolError::Protocol(ProtoError("request target cannot be sent")))?;
    }
    *req.version_mut() = Version::HTTP_2;
    // Request trailers are never forwarded: none is announced.
    req.headers_mut().remove(TRAILER);
    if req.extensions().get::<TeTrailers>().is_some() {
        req.headers_mut()
            .insert(TE, HeaderValue::from_static("trailers"));
    }
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
