//! The body types of the own pool: [`ReqBody`] (what is sent upstream) and
//! [`UpstreamBody`] (what comes back, driving its connection while it streams).

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::{Conn, Inner};

/// A request body sent upstream: the client's, or none (a retried request's copy).
pub enum ReqBody {
    /// Streams from the client.
    Client(Incoming),
    /// No body.
    Empty,
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ReqBody::Client(body) => Pin::new(body).poll_frame(cx),
            ReqBody::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Client(body) => body.is_end_stream(),
            ReqBody::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Client(body) => body.size_hint(),
            ReqBody::Empty => SizeHint::with_exact(0),
        }
    }
}

/// A response body from an upstream. For pooled connections it also drives the
/// connection, and returns it to the pool once the body has been read to its end.
pub struct UpstreamBody {
    pub(super) body: Incoming,
    pub(super) link: Option<Link>,
}

pub(super) struct Link {
    pub(super) conn: Box<Conn>,
    pub(super) pool: Weak<Inner>,
}

impl From<Incoming> for UpstreamBody {
    /// A body whose connection is driven elsewhere (hyper-util's pool).
    fn from(body: Incoming) -> UpstreamBody {
        UpstreamBody { body, link: None }
    }
}

impl UpstreamBody {
    fn release(&mut self) {
        if let Some(link) = self.link.take() {
            if let Some(pool) = link.pool.upgrade() {
                pool.put(link.conn);
            }
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let frame = match &mut this.link {
            Some(link) => {
                let Conn { io, inline, .. } = &mut *link.conn;
                let body = &mut this.body;
                let mut ended = false;
                let frame = inline.poll(cx, |cx| {
                    if !ended {
                        ended = Pin::new(&mut *io).poll(cx).is_ready();
                    }
                    Pin::new(&mut *body).poll_frame(cx)
                });
                if ended {
                    // What it read is in the body channel; it is never reused.
                    this.link = None;
                }
                frame
            }
            None => Pin::new(&mut this.body).poll_frame(cx),
        };
        match &frame {
            // The end; trailers are always last (and hyper's server stops asking after
            // them), so they end the exchange too.
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(f))) if f.is_trailers() => this.release(),
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // A body dropped at its end (hyper stops at a known length) frees its connection;
        // one dropped before (client gone) closes it with the connection.
        if self.body.is_end_stream() {
            self.release();
        }
    }
}
