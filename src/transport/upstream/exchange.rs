//! One request/response exchange on an HTTP/1.1 connection, driven inline by the
//! request's own future: the head (and the body, `upload.rs`) written, the response head
//! read. No task, channel or waker stands between the request and its connection.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt as _;
use tokio::time::{Instant, Sleep};

use super::body::BodyError;
use super::conn::Conn;
use super::h1::{self, ProtoError, ReqFraming};
use super::upload::{Upload, UploadError};
use super::{Added, PoolError};

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

/// Why an exchange failed.
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
    /// The client's request body failed before the response came.
    ClientBody(BodyError),
    /// No response head by the deadline.
    TimedOut,
}

impl From<Failure> for PoolError {
    fn from(f: Failure) -> PoolError {
        match f {
            Failure::Unsent(e) | Failure::Unanswered(e) | Failure::Io(e) => PoolError::Io(e),
            Failure::Protocol(e) => PoolError::Protocol(e),
            Failure::ClientBody(e) => PoolError::ClientBody(e),
            Failure::TimedOut => PoolError::Timeout,
        }
    }
}

/// The connection's response timer (see `Conn::timer`), set to `deadline`.
pub(super) fn arm(conn: &mut Conn, deadline: Instant) -> Pin<Box<Sleep>> {
    match conn.timer.take() {
        Some(mut timer) => {
            timer.as_mut().reset(deadline);
            timer
        }
        None => Box::pin(tokio::time::sleep_until(deadline)),
    }
}

/// `exchanged`, or [`Failure::TimedOut`] once `timer` fires.
pub(super) async fn race<T>(
    exchanged: impl Future<Output = Result<T, Failure>>,
    timer: &mut Pin<Box<Sleep>>,
) -> Result<T, Failure> {
    let mut exchanged = std::pin::pin!(exchanged);
    poll_fn(|cx| match exchanged.as_mut().poll(cx) {
        Poll::Ready(r) => Poll::Ready(r),
        Poll::Pending => timer.as_mut().poll(cx).map(|()| Err(Failure::TimedOut)),
    })
    .await
}

/// Writes the head of `req` (a request without a body) and the fields `added` on `conn`, encoded into the
/// connection's own buffer, and reads the response head.
pub(super) async fn exchange(
    conn: &mut Conn,
    req: &http::request::Parts,
    added: &Added,
) -> Result<h1::Head, Failure> {
    conn.out.clear();
    h1::encode_head(req, added, ReqFraming::None, &mut conn.out);
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
    if conn.buffers_writes() {
        conn.io.flush().await.map_err(|e| {
            if closed(&e) {
                Failure::Unanswered(e)
            } else {
                Failure::Io(e)
            }
        })?;
    }
    poll_fn(|cx| poll_head(conn, req, cx)).await
}

/// How far a request body had gone when its response head came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    /// All of it.
    Whole,
    /// Not all yet: the rest goes on (`upload::spawn_rest`).
    Partly,
    /// Writing failed after some of it went out.
    Failed,
}

/// Sends `upload` (head and body of `req`) on `conn` while it waits for the response
/// head, then returns it with how far the upload got.
pub(super) async fn exchange_upload(
    conn: &mut Conn,
    req: &http::request::Parts,
    upload: &mut Upload,
) -> Result<(h1::Head, Sent), Failure> {
    let mut sent = Sent::Partly;
    poll_fn(|cx| {
        if sent == Sent::Partly {
            match upload.poll_send(&mut conn.io, cx) {
                Poll::Ready(Ok(())) => sent = Sent::Whole,
                Poll::Ready(Err(UploadError::Client(e))) => {
                    return Poll::Ready(Err(Failure::ClientBody(e)))
                }
                Poll::Ready(Err(UploadError::Io { error, sent_any })) if !sent_any => {
                    return Poll::Ready(Err(Failure::Unsent(error)))
                }
                // The upstream may have answered and stopped reading (a 413, say):
                // its answer is still to be read.
                Poll::Ready(Err(UploadError::Io { .. })) => sent = Sent::Failed,
                Poll::Pending => {}
            }
        }
        let head = ready!(poll_head(conn, req, cx))?;
        Poll::Ready(Ok((head, sent)))
    })
    .await
}

/// Reads until the response head is complete.
fn poll_head(
    conn: &mut Conn,
    req: &http::request::Parts,
    cx: &mut Context<'_>,
) -> Poll<Result<h1::Head, Failure>> {
    loop {
        if let Some(parsed) = h1::parse_head(&mut conn.buf, &req.method, &mut conn.spans)
            .map_err(Failure::Protocol)?
        {
            return Poll::Ready(Ok(parsed));
        }
        reserve(&mut conn.buf);
        let read = ready!(tokio_util::io::poll_read_buf(
            Pin::new(&mut conn.io),
            cx,
            &mut conn.buf
        ));
        match read {
            Ok(0) if conn.buf.is_empty() => {
                return Poll::Ready(Err(Failure::Unanswered(
                    io::ErrorKind::UnexpectedEof.into(),
                )))
            }
            Ok(0) => {
                return Poll::Ready(Err(Failure::Protocol(ProtoError(
                    "the upstream closed the connection within the response head",
                ))))
            }
            Ok(_) => {}
            Err(e) if conn.buf.is_empty() && closed(&e) => {
                return Poll::Ready(Err(Failure::Unanswered(e)))
            }
            Err(e) => return Poll::Ready(Err(Failure::Io(e))),
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
