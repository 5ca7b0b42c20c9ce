//! One request/response exchange on a pooled connection, and the rules for sending a
//! request again.
//!
//! Bodiless requests are exchanged inline: the request's own future polls the
//! connection. Requests with a body hand their connection to a task for the time of the
//! exchange, because the upload must go on even when nobody polls the response (a
//! client that sends its whole body before reading) and after the response has ended
//! (an upstream that answers before reading everything).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::Weak;
use std::task::Poll;

use http::{Request, Response};
use http_body::Body as _;
use hyper::body::Incoming;

use super::{Conn, Inner, ReqBody};

/// What a failed exchange leaves: the error, and the request when none of it was sent.
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

/// Sends `req` on `conn`, polling the connection until the response head arrives.
/// Returns the connection along with the response unless it has already ended.
pub(super) async fn exchange(
    mut conn: Box<Conn>,
    req: Request<ReqBody>,
) -> Result<(Response<Incoming>, Option<Box<Conn>>), Failed> {
    let mut response = pin!(conn.sender.try_send_request(req));
    let mut conn = Some(conn);
    let result = poll_fn(|cx| {
        let Some(c) = &mut conn else {
            return response.as_mut().poll(cx);
        };
        let Conn { io, inline, .. } = &mut **c;
        let mut ended = false;
        let polled = inline.poll(cx, |cx| {
            if !ended {
                ended = Pin::new(&mut *io).poll(cx).is_ready();
            }
            response.as_mut().poll(cx)
        });
        if ended {
            // Dropped at once: a request hyper had queued but not taken (an idle
            // connection that met its EOF) comes back only when the connection is
            // dropped, and would otherwise wait for the timeout.
            conn = None;
        }
        polled
    })
    .await;
    match result {
        Ok(resp) => Ok((resp, conn)),
        Err(e) => Err(e.into()),
    }
}

/// Sends `req` on `conn`, which a task of its own drives until the exchange is over
/// (then pools it) or the connection ends.
pub(super) async fn exchange_detached(
    mut conn: Box<Conn>,
    req: Request<ReqBody>,
    pool: Weak<Inner>,
) -> Result<Response<Incoming>, Failed> {
    let response = conn.sender.try_send_request(req);
    tokio::spawn(async move {
        let reusable = poll_fn(|cx| {
            if conn.drive(cx) {
                Poll::Ready(false)
            } else if conn.sender.is_ready() {
                // Idle again and asking for the next request: both the upload and the
                // response have been carried to their ends.
                Poll::Ready(true)
            } else {
                Poll::Pending
            }
        })
        .await;
        if reusable {
            if let Some(pool) = pool.upgrade() {
                pool.put(conn);
            }
        }
    });
    response.await.map_err(Failed::from)
}

/// A copy of an idempotent request without a body, for one retry.
pub(super) fn retry_copy(req: &Request<ReqBody>) -> Option<Request<ReqBody>> {
    if !req.method().is_idempotent() || !req.body().is_end_stream() {
        return None;
    }
    let mut copy = Request::new(ReqBody::Empty);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

/// The connection ended before any response: closed, reset or broken.
pub(super) fn closed_unanswered(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            );
        }
        source = s.source();
    }
    false
}
