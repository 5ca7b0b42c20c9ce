//! A request body on its way upstream: the head and the body's frames, framed by the
//! codec (`h1::encode`), queued without copying and written with vectored writes.
//!
//! While the response head is awaited the exchange drives the upload itself, on the
//! same stream (`exchange.rs`): frames the client has already sent leave with the head
//! in one write, and a connection whose request went out whole before its response came
//! is reused like any other. An upstream that answers first gets the rest of the body
//! from a task of its own ([`spawn_rest`]), on the write side of the split stream,
//! however the response is read (a client that sends everything before it reads); that
//! connection is not reused (nginx does the same).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf as _, Bytes};
use http_body::Body as _;
use tokio::io::{AsyncWrite, WriteHalf};

use super::body::{BodyError, ReqBody};
use super::conn::Stream;
use super::h1::{self, ReqFraming};
use super::Added;

/// Frames are gathered up to this many bytes before they are written.
const GATHER: usize = 64 * 1024;
/// At most this many pieces per write.
const SLICES: usize = 16;

/// Why an upload stopped.
#[derive(Debug)]
pub(super) enum UploadError {
    /// The client's body failed (cut short, malformed, or not the length it announced):
    /// the client's fault, a 400.
    Client(BodyError),
    /// Writing to the upstream failed; `sent_any`: some bytes had gone out before.
    Io { error: io::Error, sent_any: bool },
}

/// The request body being sent, and what is queued for the stream.
pub(super) struct Upload {
    body: ReqBody,
    framing: ReqFraming,
    /// Bytes a `Content-Length` body still owes.
    owed: u64,
    queue: VecDeque<Bytes>,
    queued: usize,
    /// The body has ended (its end is queued).
    read_all: bool,
    sent_any: bool,
}

impl Upload {
    /// An upload of `body` (not yet ended) for the request `parts` (and the fields the
    /// gateway `added`), its head queued.
    pub(super) fn new(parts: &http::request::Parts, added: &Added, body: ReqBody) -> Upload {
        let framing = ReqFraming::of_body(body.size_hint().exact());
        let mut head = Vec::with_capacity(512);
        h1::encode_head(parts, added, framing, &mut head);
        let owed = match framing {
            ReqFraming::Length(n) => n,
            _ => 0,
        };
        let queued = head.len();
        Upload {
            body,
            framing,
            owed,
            queue: VecDeque::from([Bytes::from(head)]),
            queued,
            read_all: false,
            sent_any: false,
        }
    }

    /// Whether nothing has been written yet (so that the request can go elsewhere).
    pub(super) fn untouched(&self) -> bool {
        !self.sent_any
    }

    /// The body back, for a request that goes out another way (HTTP/2) before any of it
    /// was taken.
    pub(super) fn into_body(self) -> ReqBody {
        self.body
    }

    fn push(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.queue.push_back(bytes);
    }

    fn take_frame(&mut self, data: Bytes) -> Result<(), UploadError> {
        if data.is_empty() {
            // An empty chunk would end a chunked body.
            return Ok(());
        }
        if self.framing == ReqFraming::Chunked {
            let mut size = Vec::with_capacity(18);
            h1::encode_chunk_size(data.len(), &mut size);
            self.push(Bytes::from(size));
            self.push(data);
            self.push(Bytes::from_static(b"\r\n"));
            return Ok(());
        }
        let len = data.len() as u64;
        if len > self.owed {
            return Err(UploadError::Client(
                "the request body is longer than its length".into(),
            ));
        }
        self.owed -= len;
        self.push(data);
        Ok(())
    }

    fn end(&mut self) -> Result<(), UploadError> {
        if self.owed > 0 {
            return Err(UploadError::Client(
                "the request body is shorter than its length".into(),
            ));
        }
        if self.framing == ReqFraming::Chunked {
            self.push(Bytes::from_static(h1::LAST_CHUNK));
        }
        self.read_all = true;
        Ok(())
    }

    /// Sends on `io` what the body has, until it has all gone (`Ready(Ok)`), or the body
    /// must be waited for, or `io` cannot take more (`Pending`: woken by either).
    pub(super) fn poll_send<W: AsyncWrite + Unpin>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UploadError>> {
        loop {
            while !self.read_all && self.queued < GATHER {
                match Pin::new(&mut self.body).poll_frame(cx) {
                    Poll::Pending => break,
                    Poll::Ready(None) => self.end()?,
                    Poll::Ready(Some(Err(e))) => {
                        return Poll::Ready(Err(UploadError::Client(e.into())))
                    }
                    Poll::Ready(Some(Ok(frame))) => {
                        // `ReqBody` yields no trailers (they are never forwarded).
                        if let Ok(data) = frame.into_data() {
                            self.take_frame(data)?;
                        }
                    }
                }
            }
            if self.queue.is_empty() {
                // TLS records may wait in rustls: out with them before waiting.
                ready!(Pin::new(&mut *io).poll_flush(cx)).map_err(|e| self.io_error(e))?;
                return if self.read_all {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                };
            }
            let mut slices = [IoSlice::new(&[]); SLICES];
            let mut count = 0;
            for (slot, piece) in slices.iter_mut().zip(&self.queue) {
                *slot = IoSlice::new(piece);
                count += 1;
            }
            let written = match ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))
            {
                Ok(0) => return Poll::Ready(Err(self.io_error(io::ErrorKind::WriteZero.into()))),
                Ok(n) => n,
                Err(e) => return Poll::Ready(Err(self.io_error(e))),
            };
            self.sent_any = true;
            self.consume(written);
        }
    }

    fn io_error(&self, error: io::Error) -> UploadError {
        UploadError::Io {
            error,
            sent_any: self.sent_any,
        }
    }

    fn consume(&mut self, mut n: usize) {
        self.queued -= n;
        while n > 0 {
            let Some(front) = self.queue.front_mut() else {
                return;
            };
            if front.len() > n {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.queue.pop_front();
        }
    }
}

/// Sends the rest of `upload` on `io` from a task of its own, the response having come
/// first; a failure only ends the upload (the response goes on; its connection is not
/// reused).
pub(super) fn spawn_rest(mut upload: Upload, mut io: WriteHalf<Stream>) {
    tokio::spawn(async move {
        if let Err(e) = poll_fn(|cx| upload.poll_send(&mut io, cx)).await {
            tracing::debug!(error = ?e, "request body not sent whole after an early response");
        }
    });
}
