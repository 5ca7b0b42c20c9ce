//! A websocket tunnel: after a 101, the upstream connection (its stream, and whatever
//! the codec read past the 101's head) is joined to the client's upgraded connection,
//! bytes copied both ways until either side ends. The tunnel counts as load on its
//! worker while it lasts (`workers::Busy`). Which protocols may be tunnelled is the
//! pipeline's decision (only websocket: `proxy::headers::upgrade_protocol`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, BytesMut};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::conn::{Conn, Stream};
use crate::transport::workers;

/// The upstream side of a tunnel.
pub struct Tunnel {
    /// Read past the 101's head: the upstream's first tunnelled bytes.
    early: BytesMut,
    io: Stream,
}

impl Tunnel {
    pub(super) fn from_conn(conn: Conn) -> Tunnel {
        let Conn { io, buf, .. } = conn;
        Tunnel { early: buf, io }
    }

    /// Joins this tunnel to the client's side once hyper's server has sent the 101, on a
    /// task of its own (the client connection's task ends with the upgrade).
    pub fn spawn(mut self, client: OnUpgrade) {
        let busy = workers::Busy::current();
        tokio::spawn(async move {
            let _busy = busy;
            match client.await {
                Ok(client) => {
                    let mut client = TokioIo::new(client);
                    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut self).await {
                        tracing::debug!(error = %e, "upgraded tunnel closed with an error");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "upgrade failed"),
            }
        });
    }
}

impl AsyncRead for Tunnel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.early.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let n = this.early.len().min(buf.remaining());
        buf.put_slice(&this.early[..n]);
        this.early.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
