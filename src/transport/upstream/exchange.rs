//! One request/response exchange on a pooled connection.
//!
//! Bodiless requests are exchanged by the own codec, inline: the request's own future
//! writes the head and reads the response head. Requests with a body are sent by hyper's
//! client connection on the pooled socket, driven by a task of its own for the time of
//! the exchange, because the upload must go on even when nobody polls the response (a
//! client that sends its whole body before reading) and after the response has ended
//! (an upstream that answers before reading everything).

use std::future::{poll_fn, Future as _};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::BytesMut;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::time::Instant;

use super::h1::{self, ProtoError};
use super::{Conn, Inner, PoolError, ReqBody};

/// Read into a connection's buffer this much at a time...
pub(super) const READ_CHUNK: usize = 16 * 1024;
/// ...once less than this is free.
pub(super) const READ_MIN: usize = 2 * 1024;

/// Makes room in `buf` for the next read.
pub(super) fn reserve(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < READ_MIN {
        buf.reserve(READ_CHUNK);
    }
}

/// Why an own exchange failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// None of the request was taken: the connection was found closed.
    Unsent(io::Error),
    /// Sent, and the connection closed or broke before any byte of a response.
    Unanswered(io::Error),
    /// The connection broke within the response head.
    Io(io::Error),
    /// The response head broke HTTP/1.1.
    Protocol(ProtoError),
    /// No response head by the deadline.
    TimedOut,
}

impl From<Failure> for PoolError {
    fn from(f: Failure) -> PoolError {
        match f {
            Failure::Unsent(e) | Failure::Unanswered(e) | Failure::Io(e) => PoolError::Io(e),
            Failure::Protocol(e) => PoolError::Protocol(e),
            Failure::TimedOut => PoolError::Timeout,
        }
    }
}

/// [`exchange`] with a deadline for the response head, on the connection's own timer
/// (see `Conn::timer`).
pub(super) async fn exchange_by(
    conn: &mut Conn,
    req: &http::request::Parts,
    deadline: Instant,
) -> Result<h1::Head, Failure> {
    let mut timer = match conn.timer.take() {
        Some(mut timer) => {
            timer.as_mut().reset(deadline);
            timer
        }
        None => Box::pin(tokio::time::sleep_until(deadline)),
    };
    let result = {
        let exchanged = exchange(conn, req);
        tokio::pin!(exchanged);
        poll_fn(|cx| match exchanged.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => timer.as_mut().poll(cx).map(|()| Err(Failure::TimedOut)),
        })
        .await
    };
    conn.timer = Some(timer);
    result
}

/// Writes the head of `req` (a request without a body) on `conn`, encoded into the
/// connection's own buffer, and reads the response head.
pub(super) async fn exchange(
    conn: &mut Conn,
    req: &http::request::Parts,
) -> Result<h1::Head, Failure> {
    conn.out.clear();
    h1::encode_head(req, &mut conn.out);
    let Conn { io, out, .. } = &mut *conn;
    let mut written = 0;
    while written < out.len() {
        match io.write(&out[written..]).await {
            Ok(0) if written == 0 => return Err(Failure::Unsent(io::ErrorKind::WriteZero.into())),
            Ok(0) => return Err(Failure::Unanswered(io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(e) if written == 0 => return Err(Failure::Unsent(e)),
            Err(e) if closed(&e) => return Err(Failure::Unanswered(e)),
            Err(e) => return Err(Failure::Io(e)),
        }
    }
    loop {
        if let Some(parsed) = h1::parse_head(&mut conn.buf, &req.method, &mut conn.spans)
            .map_err(Failure::Protocol)?
        {
            return Ok(parsed);
        }
        reserve(&mut conn.buf);
        match conn.io.read_buf(&mut conn.buf).await {
            Ok(0) if conn.buf.is_empty() => {
                return Err(Failure::Unanswered(io::ErrorKind::UnexpectedEof.into()))
            }
            Ok(0) => {
                return Err(Failure::Protocol(ProtoError(
                    "the upstream closed the connection within the response head",
                )))
            }
            Ok(_) => {}
            Err(e) if conn.buf.is_empty() && closed(&e) => return Err(Failure::Unanswered(e)),
            Err(e) => return Err(Failure::Io(e)),
        }
    }
}

/// The connection was closed or reset by the upstream.
fn closed(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// What a failed hyper exchange leaves: the error, and the request when none of it was
/// sent.
pub(super) struct Failed {
    pub(super) error: hyper::Error,
    pub(super) message: Option<Request<ReqBody>>,
}

impl From<hyper::client::conn::TrySendError<Request<ReqBody>>> for Failed {
    fn from(mut e: hyper::client::conn::TrySendError<Request<ReqBody>>) -> Failed {
        Failed {
            message: e.take_message(),
            error: e.into_error(),
        }
    }
}

/// Sends `req` (with a body) by hyper's client connection on `conn`'s socket, driven by
/// a task of its own until the exchange is over; the socket then goes back to `pool`
/// unless the connection ended or hyper holds bytes past the response.
pub(super) async fn exchange_detached(
    conn: Box<Conn>,
    req: Request<ReqBody>,
    pool: &Arc<Inner>,
) -> Result<Response<Incoming>, Failed> {
    let (mut sender, mut connection) = match pool.builder.handshake(TokioIo::new(conn.io)).await {
        Ok(pair) => pair,
        Err(error) => {
            return Err(Failed {
                error,
                message: Some(req),
            })
        }
    };
    let response = sender.try_send_request(req);
    let pool = Arc::downgrade(pool);
    tokio::spawn(async move {
        let idle_again = poll_fn(|cx| {
            if Pin::new(&mut connection).poll(cx).is_ready() {
                Poll::Ready(false)
            } else if sender.is_ready() {
                // Asking for the next request: the upload and the response have both
                // been carried to their ends.
                Poll::Ready(true)
            } else {
                Poll::Pending
            }
        })
        .await;
        if !idle_again {
            return;
        }
        drop(sender);
        if poll_fn(|cx| connection.poll_without_shutdown(cx))
            .await
            .is_err()
        {
            return;
        }
        let parts = connection.into_parts();
        if let (true, Some(pool)) = (parts.read_buf.is_empty(), pool.upgrade()) {
            pool.put(Box::new(Conn::new(parts.io.into_inner())));
        }
    });
    response.await.map_err(Failed::from)
}
