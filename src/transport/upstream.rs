//! The upstream side: one pool per route, carrying every exchange with the upstream
//! through ONE HTTP/1.1 client implementation, the gateway's own codec (`h1.rs`), over
//! plain TCP or TLS (`tls.rs`), or through hyper's HTTP/2 client when an https upstream
//! chooses HTTP/2 by ALPN or an `h2c://` upstream speaks it with prior knowledge
//! (`h2.rs`).
//!
//! An HTTP/1.1 connection is a plain value, a stream and its read buffer (`conn.rs`),
//! kept in a per-route LIFO stack (one stack per worker thread, so a connection is
//! polled by the thread whose reactor watches it: `pool.rs`). The request's own future
//! writes its head (and its body, `upload.rs`) and parses the response head
//! (`exchange.rs`); the response body ([`UpstreamBody`]) reads and decodes its framing
//! from the same stream while the listener sends it on, then puts the connection back
//! once the body has ended exactly where the response did. No task, channel or waker
//! stands between the two legs, as in nginx. A response abandoned half way (client
//! gone) closes its connection. A request body the upstream has not taken whole when it
//! answers is sent on by a task of its own, and that connection is not reused. A 101 to
//! a websocket upgrade turns the connection into a tunnel (`tunnel.rs`). The response is
//! handed over as one shape, an `http::Response` whose `HeaderMap` holds every
//! end-to-end field the upstream sent, in order. The request goes with the fields the
//! gateway adds ([`Added`]: forwarding fields, request id, identity headers…), which the
//! HTTP/1 codec writes after the client's and an HTTP/2 exchange moves into the map.
//!
//! Idle connections are not polled while they sit in the stack; a connection the
//! upstream closed meanwhile is noticed when it is taken (its EOF is already read) or by
//! the reaper, which also closes connections idle longer than [`POOL_IDLE`]. A request
//! that a stale pooled connection refused before taking any of it is sent on the next
//! connection. One without a body that was sent on a connection idle for [`RETRY_IDLE`]
//! or more, which then closed without a response (the upstream's keep-alive timeout
//! racing the request), is sent once more on a new connection when it is idempotent
//! (RFC 9110 §9.2.2), as nginx does.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body as _;
use tokio::time::Instant;

mod added;
mod body;
pub mod client;
mod conn;
mod dial;
mod exchange;
pub mod h1;
mod h2;
mod pool;
#[cfg(test)]
mod tests;
mod tls;
mod tunnel;
mod upload;

pub use added::Added;
pub use body::{BodyError, ReqBody, UpstreamBody};
pub use h1::ProtoError;
pub use tunnel::Tunnel;

use conn::Conn;
use exchange::{arm, exchange, exchange_upload, race, Failure, Sent};
use pool::{Connected, Inner};
use upload::Upload;

/// How long an idle connection is kept.
pub const POOL_IDLE: Duration = Duration::from_secs(90);
/// A connection idle this long may meet the upstream's keep-alive timeout: an
/// idempotent request it closes on without an answer is sent once more.
pub const RETRY_IDLE: Duration = Duration::from_secs(1);

/// Why a request could not be exchanged with the upstream.
#[derive(Debug)]
pub enum PoolError {
    /// No connection could be opened (refused, unreachable, name not resolved, TLS
    /// handshake failed, timeout).
    Connect(io::Error),
    /// The connection failed while sending the request or reading the response head.
    Io(io::Error),
    /// The upstream's response head broke HTTP/1.1.
    Protocol(ProtoError),
    /// The client's request body failed (cut short, malformed) before the response.
    ClientBody(BodyError),
    /// hyper's HTTP/2 client failed.
    Http(hyper::Error),
    /// No response head by the deadline.
    Timeout,
}

/// The counters a pool reports to (one route's series).
#[derive(Clone)]
pub struct PoolMetrics {
    /// Connections opened.
    pub opened: prometheus::IntCounter,
    /// Requests sent again after a pooled connection turned out stale.
    pub retried: prometheus::IntCounter,
}

/// One route's pool. Cheap to clone (shared).
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

/// The answer to an upgrade request.
pub enum Upgrade {
    /// The upstream switched (101): its response head (no body), the protocol its
    /// `Upgrade` named, and the upstream side of the tunnel.
    Switched(Response<UpstreamBody>, HeaderValue, Tunnel),
    /// It answered as to any request.
    Declined(Response<UpstreamBody>),
}

impl Pool {
    /// A pool for `authority` (`host[:port]`; port 80, or 443 with `tls`).
    fn new(
        authority: &http::uri::Authority,
        tls: Option<tls::Tls>,
        connect_timeout: Duration,
        metrics: PoolMetrics,
    ) -> Pool {
        Pool {
            inner: Arc::new(Inner::new(authority, tls, false, connect_timeout, metrics)),
        }
    }

    /// A pool for an `h2c://` upstream (port 80 unless given): HTTP/2 with prior
    /// knowledge over plain TCP, one connection per worker thread.
    fn prior_knowledge(
        authority: &http::uri::Authority,
        connect_timeout: Duration,
        metrics: PoolMetrics,
    ) -> Pool {
        Pool {
            inner: Arc::new(Inner::new(authority, None, true, connect_timeout, metrics)),
        }
    }

    /// Sends `req` (origin-form URI, Host set, hop-by-hop fields removed) with the fields
    /// the gateway `added` and returns the response, its hop-by-hop fields removed; its
    /// body keeps the connection until it has been read. `deadline` bounds the wait for
    /// the response head.
    pub async fn send(
        &self,
        req: Request<ReqBody>,
        mut added: Added,
        deadline: Instant,
    ) -> Result<Response<UpstreamBody>, PoolError> {
        let mut req = req;
        let found = if self.inner.tls.is_some() || self.inner.h2c {
            self.inner.h2()
        } else {
            h2::Found::None
        };
        let sender = match found {
            h2::Found::Open(sender) => Some(sender),
            h2::Found::Connecting(connecting) => tokio::time::timeout_at(deadline, connecting)
                .await
                .map_err(|_| PoolError::Timeout)?,
            h2::Found::None => None,
        };
        if let Some(mut sender) = sender {
            // hyper's HTTP/2 encoder reads the map only; moved, so a request that comes
            // back unsent carries them once.
            added.move_into(req.headers_mut());
            // Boxed: hyper's HTTP/2 request future is large (see `exchange`).
            match Box::pin(self.send_h2(&mut sender, req, deadline)).await? {
                h2::Sent::Response(resp) => return Ok(resp),
                // Closed (a GOAWAY) before it took the request: a new connection.
                h2::Sent::Closed(back) => {
                    self.inner.metrics.retried.inc();
                    req = back;
                }
            }
        }
        match self.exchange(req, added, deadline, false).await? {
            Exchanged::H1(head, conn) => Ok(UpstreamBody::own(head, conn, self.weak())),
            Exchanged::H2(resp) => Ok(resp),
        }
    }

    /// Sends an upgrade request (`Connection: upgrade`, `Upgrade` set) on an HTTP/1.1
    /// connection; on a 101 the connection becomes the upstream side of a tunnel.
    pub async fn upgrade(
        &self,
        req: Request<ReqBody>,
        added: Added,
        deadline: Instant,
    ) -> Result<Upgrade, PoolError> {
        let (head, conn) = match self.exchange(req, added, deadline, true).await? {
            Exchanged::H1(head, conn) => (head, conn),
            Exchanged::H2(resp) => return Ok(Upgrade::Declined(resp)),
        };
        if head.status != StatusCode::SWITCHING_PROTOCOLS {
            return Ok(Upgrade::Declined(UpstreamBody::own(
                head,
                conn,
                self.weak(),
            )));
        }
        let proto = head
            .upgrade
            .clone()
            .ok_or(PoolError::Protocol(ProtoError("101 without Upgrade")))?;
        let mut resp = Response::new(UpstreamBody::empty());
        *resp.status_mut() = head.status;
        *resp.headers_mut() = head.headers;
        Ok(Upgrade::Switched(resp, proto, Tunnel::from_conn(*conn)))
    }

    fn weak(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// The HTTP/1.1 exchange of `req` (or HTTP/2, when a new TLS connection chooses
    /// it), with the retry rules of the module docs. `upgrade`: stay on HTTP/1.1, and
    /// a body not sent whole by the response is an error (a tunnel needs all of it).
    async fn exchange(
        &self,
        req: Request<ReqBody>,
        mut added: Added,
        deadline: Instant,
        upgrade: bool,
    ) -> Result<Exchanged, PoolError> {
        let inner = &self.inner;
        let (mut parts, body) = req.into_parts();
        let mut upload = (!body.is_end_stream()).then(|| Upload::new(&parts, &added, body));
        let mut fresh = false;
        loop {
            let pooled = if fresh { None } else { inner.checkout() };
            let idle_for = pooled.as_ref().map(|(_, idle_for)| *idle_for);
            let mut conn = match pooled {
                Some((conn, _)) => conn,
                None => {
                    // Once some of the request has gone out as HTTP/1.1, it stays so.
                    let h2 = !upgrade && upload.as_ref().is_none_or(Upload::untouched);
                    // Boxed: opening a connection (dial, TLS, HTTP/2 handshake) is rare
                    // and its future large; inline, it would be moved with every
                    // request's future.
                    match tokio::time::timeout_at(deadline, Box::pin(inner.connect(h2))).await {
                        Err(_) => return Err(PoolError::Timeout),
                        Ok(Err(e)) => return Err(e),
                        Ok(Ok(Connected::H1(conn))) => conn,
                        Ok(Ok(Connected::H2(mut sender))) => {
                            let body = upload.map_or(ReqBody::Empty, Upload::into_body);
                            added.move_into(&mut parts.headers);
                            let req = Request::from_parts(parts, body);
                            return match Box::pin(self.send_h2(&mut sender, req, deadline)).await? {
                                h2::Sent::Response(resp) => Ok(Exchanged::H2(resp)),
                                h2::Sent::Closed(_) => Err(PoolError::Io(io::Error::new(
                                    io::ErrorKind::ConnectionAborted,
                                    "new HTTP/2 connection closed at once",
                                ))),
                            };
                        }
                    }
                }
            };
            let mut timer = arm(&mut conn, deadline);
            let result = match upload.as_mut() {
                None => race(exchange(&mut conn, &parts, &added), &mut timer)
                    .await
                    .map(|head| (head, Sent::Whole)),
                Some(upload) => race(exchange_upload(&mut conn, &parts, upload), &mut timer).await,
            };
            conn.timer = Some(timer);
            match result {
                Ok((head, Sent::Whole)) => return Ok(Exchanged::H1(head, conn)),
                Ok((_, Sent::Partly | Sent::Failed)) if upgrade => {
                    return Err(PoolError::Protocol(ProtoError(
                        "the upstream answered an upgrade before its request body",
                    )))
                }
                Ok((mut head, sent)) => {
                    // Answered before it had the whole body: not reused.
                    head.keep_alive = false;
                    if let (Sent::Partly, Some(upload)) = (sent, upload) {
                        let (reading, writing) = conn.split();
                        upload::spawn_rest(upload, writing);
                        conn = Box::new(reading);
                    }
                    return Ok(Exchanged::H1(head, conn));
                }
                // A stale pooled connection took none of it: the next one.
                Err(Failure::Unsent(_)) if idle_for.is_some() => {}
                // Closed unanswered after a long idle: the keep-alive race.
                Err(Failure::Unanswered(_))
                    if upload.is_none()
                        && parts.method.is_idempotent()
                        && idle_for.is_some_and(|idle| idle >= RETRY_IDLE) =>
                {
                    fresh = true;
                }
                Err(failed) => return Err(failed.into()),
            }
            inner.metrics.retried.inc();
        }
    }

    /// `req` on the HTTP/2 connection `sender`, within `deadline`.
    async fn send_h2(
        &self,
        sender: &mut hyper::client::conn::http2::SendRequest<ReqBody>,
        req: Request<ReqBody>,
        deadline: Instant,
    ) -> Result<h2::Sent, PoolError> {
        let scheme = if self.inner.tls.is_some() {
            http::uri::Scheme::HTTPS
        } else {
            http::uri::Scheme::HTTP
        };
        let sent = h2::send(sender, req, scheme, &self.inner.authority);
        tokio::time::timeout_at(deadline, sent)
            .await
            .map_err(|_| PoolError::Timeout)?
    }
}

/// What an exchange ended with.
enum Exchanged {
    /// An HTTP/1.1 response head, and its connection (which its body reads from).
    H1(h1::Head, Box<Conn>),
    /// A response over HTTP/2.
    H2(Response<UpstreamBody>),
}
