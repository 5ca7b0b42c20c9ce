//! One upstream connection: its stream (plain TCP or TLS over it) and what has been
//! read from it but not yet used (nothing, between exchanges).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_rustls::client::TlsStream;

use super::h1;

/// The stream of an upstream connection.
pub(super) enum Stream {
    /// Plain http.
    Tcp(TcpStream),
    /// https, HTTP/1.1 chosen by ALPN (boxed: a TLS session is large, and a connection
    /// moves with every request).
    Tls(Box<TlsStream<TcpStream>>),
    /// The read side of a connection whose request body is still being sent by a task
    /// of its own (`upload.rs`): its response came first, so it is never reused.
    Reading(ReadHalf<Stream>),
}

impl Stream {
    fn pinned(&mut self) -> Pin<&mut Self> {
        Pin::new(self)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
            Stream::Reading(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

/// A write on the read side of a split connection: never done (nothing writes there).
fn read_side() -> io::Error {
    io::Error::other("the write side of this connection is uploading")
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
            Stream::Reading(_) => Poll::Ready(Err(read_side())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
            Stream::Reading(_) => Poll::Ready(Err(read_side())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
            Stream::Reading(_) => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
            Stream::Reading(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
            Stream::Reading(_) => Poll::Ready(Ok(())),
        }
    }
}

/// An upstream connection: the stream and what has been read from it but not yet used
/// (nothing, between exchanges).
pub(super) struct Conn {
    pub(super) io: Stream,
    pub(super) buf: BytesMut,
    /// The request head being written (kept: no allocation per request).
    pub(super) out: Vec<u8>,
    /// Scratch space for parsing response heads.
    pub(super) spans: Vec<h1::Span>,
    /// The response deadline of the exchange under way, made on the first one and
    /// moved by each later one: pushing a registered timer later is one atomic store in
    /// tokio (no timer-wheel work), where a timer per request is registered and
    /// removed every time.
    pub(super) timer: Option<Pin<Box<Sleep>>>,
}

impl Conn {
    pub(super) fn new(io: Stream) -> Conn {
        Conn {
            io,
            buf: BytesMut::new(),
            out: Vec::new(),
            spans: Vec::new(),
            timer: None,
        }
    }

    /// Whether the connection is idle and still open: nothing unread, and the stream
    /// holds neither an end nor a stray byte. Costs no system call unless the reactor
    /// has seen the socket become readable. A TLS stream is polled once (with a waker
    /// that does nothing: no task waits on an idle connection), so that what the
    /// server may send an idle client (session tickets, key updates) is taken in by
    /// rustls, and only application data or an end counts.
    pub(super) fn reusable(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        match &mut self.io {
            Stream::Tcp(s) => {
                matches!(s.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
            Stream::Tls(_) => {
                let mut cx = Context::from_waker(Waker::noop());
                let mut probe = ReadBuf::new(&mut probe);
                self.io.pinned().poll_read(&mut cx, &mut probe).is_pending()
            }
            Stream::Reading(_) => false,
        }
    }

    /// The connection split: itself reading (never reused), and the write side, for a
    /// request body still on its way when the response came (`upload::spawn_rest`).
    pub(super) fn split(self) -> (Conn, WriteHalf<Stream>) {
        let Conn {
            io,
            buf,
            out,
            spans,
            timer,
        } = self;
        let (reading, writing) = tokio::io::split(io);
        let conn = Conn {
            io: Stream::Reading(reading),
            buf,
            out,
            spans,
            timer,
        };
        (conn, writing)
    }

    /// Whether writes must be flushed to reach the socket (TLS records).
    pub(super) fn buffers_writes(&self) -> bool {
        matches!(self.io, Stream::Tls(_))
    }
}
