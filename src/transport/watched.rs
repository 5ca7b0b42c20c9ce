//! The client stream as hyper's HTTP/1 server sees it: it hands out input read before
//! hyper took the stream, and notes in the connection's [`ConnState`] what hyper does
//! with it (reads that would block, bytes read, writes, flushes), so the connection
//! loop can tell when hyper is idle and may be finished for parking. It never invents
//! input or an end of stream: hyper's connection is only ever ended through its own
//! `graceful_shutdown`, and handed back through `into_parts` (documented hyper API).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::conn_state::ConnState;

/// A client stream that can wait for input without a read buffer (parking).
pub trait Parkable: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Resolves when a read would not block (data, end of stream or an error).
    fn ready(&self) -> impl Future<Output = io::Result<()>> + Send + '_;
}

impl Parkable for TcpStream {
    fn ready(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        self.readable()
    }
}

impl Parkable for tokio_rustls::server::TlsStream<TcpStream> {
    fn ready(&self) -> impl Future<Output = io::Result<()>> + Send + '_ {
        let (tcp, tls) = self.get_ref();
        // Decrypted input (or a close_notify) already buffered by rustls: readable now.
        let buffered = !tls.wants_read();
        async move {
            if buffered {
                Ok(())
            } else {
                tcp.readable().await
            }
        }
    }
}

/// The stream handed to hyper; see the module doc.
pub struct Watched<I> {
    /// The client stream.
    pub io: I,
    /// Input read before hyper took the stream (the start of the next request), as
    /// much of it as hyper has not read yet.
    pub prefix: Bytes,
    state: Arc<ConnState>,
}

impl<I> Watched<I> {
    /// Wraps `io`; `prefix` is handed out before the stream is read.
    pub fn new(io: I, prefix: Bytes, state: Arc<ConnState>) -> Watched<I> {
        Watched { io, prefix, state }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            this.state.read_some();
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => {
                this.state.read_would_block();
                Poll::Pending
            }
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.state.read_some();
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.state.wrote(written.is_pending());
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.state.wrote(written.is_pending());
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // hyper empties its own buffer before it flushes the stream, so a flush that
        // completes means nothing hyper wrote is left unsent.
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.io).poll_flush(cx);
        this.state.flushed(matches!(flushed, Poll::Ready(Ok(()))));
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.state.parking() {
            // hyper has flushed; the socket stays open for the next request.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
