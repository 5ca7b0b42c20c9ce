//! The body types of the upstream side: [`ReqBody`] (what the client sent, on its way
//! upstream) and [`UpstreamBody`] (what comes back: decoded from its pooled HTTP/1
//! connection by the own codec, or streamed by hyper's HTTP/2 client).

use std::pin::Pin;
use std::sync::Weak;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::conn::Conn;
use super::exchange::reserve;
use super::h1::{self, Decoded};
use super::pool::Inner;

/// A client's request body, as the gateway sees it and sends it upstream: streamed by
/// hyper's server (its data only: trailers are not forwarded), read whole by the gateway
/// (a small form body checked for a second access token), or none.
pub enum ReqBody {
    /// Streams from the client.
    Client(Incoming),
    /// Already read from the client; sent as one frame (`None` once sent).
    Buffered(Option<Bytes>),
    /// No body.
    Empty,
}

impl From<Incoming> for ReqBody {
    fn from(body: Incoming) -> ReqBody {
        ReqBody::Client(body)
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ReqBody::Client(body) => loop {
                match ready!(Pin::new(&mut *body).poll_frame(cx)) {
                    // Trailers come after the head the gateway cleaned: an identity or
                    // forwarding field sent as one would reach the upstream unchecked
                    // (hyper's HTTP/2 client sends every trailer). They are left out.
                    Some(Ok(frame)) if frame.is_trailers() => {}
                    other => return Poll::Ready(other),
                }
            },
            ReqBody::Buffered(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            ReqBody::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Client(body) => body.is_end_stream(),
            ReqBody::Buffered(data) => data.is_none(),
            ReqBody::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Client(body) => body.size_hint(),
            ReqBody::Buffered(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            ReqBody::Empty => SizeHint::with_exact(0),
        }
    }
}

/// Errors a response body can end with.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A response body from an upstream.
pub struct UpstreamBody {
    source: Source,
}

enum Source {
    /// Driven by hyper's HTTP/2 client.
    Hyper(Incoming),
    /// Decoded by the own codec from the connection it holds.
    Own(Own),
    /// None (a 101: the connection became a tunnel).
    Empty,
}

struct Own {
    /// Until the body has ended (then back to the pool) or failed.
    conn: Option<Box<Conn>>,
    framing: h1::Body,
    keep_alive: bool,
    pool: Weak<Inner>,
}

impl Own {
    /// The body has ended: the connection goes back to the pool if it may.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take() {
            if let (true, Some(pool)) = (self.keep_alive, self.pool.upgrade()) {
                pool.put(conn);
            }
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match self.framing.decode(&mut conn.buf) {
                Ok(Decoded::Data(data)) => {
                    if self.framing.is_end() {
                        self.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Decoded::End) => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Ok(Decoded::Trailers(trailers)) => {
                    self.finish();
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
                Ok(Decoded::More) => {}
                Err(e) => {
                    self.conn = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            reserve(&mut conn.buf);
            match ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut conn.io),
                cx,
                &mut conn.buf
            )) {
                Ok(0) => {
                    // Closed: the end of a close-delimited body, or one cut short.
                    self.keep_alive = false;
                    if let Err(e) = self.framing.at_eof() {
                        self.conn = None;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    self.conn = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

impl From<Incoming> for UpstreamBody {
    /// A body hyper's HTTP/2 client drives.
    fn from(body: Incoming) -> UpstreamBody {
        UpstreamBody {
            source: Source::Hyper(body),
        }
    }
}

impl UpstreamBody {
    /// The response to an own exchange: `head`, and a body reading from `conn`.
    pub(super) fn own(
        head: h1::Head,
        conn: Box<Conn>,
        pool: Weak<Inner>,
    ) -> Response<UpstreamBody> {
        let mut own = Own {
            conn: Some(conn),
            framing: head.body,
            keep_alive: head.keep_alive,
            pool,
        };
        if own.framing.is_end() {
            own.finish();
        }
        let mut resp = Response::new(UpstreamBody {
            source: Source::Own(own),
        });
        *resp.status_mut() = head.status;
        *resp.headers_mut() = head.headers;
        if let Some(reason) = head.reason {
            resp.extensions_mut().insert(reason);
        }
        resp
    }
}

impl UpstreamBody {
    /// No body.
    pub(super) fn empty() -> UpstreamBody {
        UpstreamBody {
            source: Source::Empty,
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().source {
            Source::Hyper(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Source::Own(own) => own.poll(cx),
            Source::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.source {
            Source::Hyper(body) => body.is_end_stream(),
            Source::Own(own) => own.framing.is_end(),
            Source::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.source {
            Source::Hyper(body) => body.size_hint(),
            Source::Own(own) => own
                .framing
                .remaining()
                .map_or_else(SizeHint::default, SizeHint::with_exact),
            Source::Empty => SizeHint::with_exact(0),
        }
    }
}
