//! Writing a response of the own HTTP/1 server: the head (`h1::encode_head`) and the
//! body in its framing, streamed as it comes. Small frames are gathered with the head
//! into one write; a large one goes out directly. A write that makes no progress for
//! `stall` (the idle timeout) ends the connection: a client that stops reading does not
//! hold it, or the upstream connection behind it, for ever.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Response};
use http_body::{Body as _, Frame};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::conn::Buffers;
use super::h1::{self, Framing, Meta, Size};
use crate::pipeline::access::Tracked;

/// How a response body can fail.
type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Gathered output is written once it reaches this size.
const FLUSH_AT: usize = 16 * 1024;
/// A data frame at least this large is written as is rather than copied.
const DIRECT_AT: usize = 8 * 1024;

/// Sends `resp` to a request described by `meta`. `keep_alive` comes in as what the
/// connection allows and goes out false when the connection must close after this
/// response. An error means the response could not be sent whole: close.
pub(super) async fn send<I: AsyncRead + AsyncWrite + Unpin>(
    io: &mut I,
    bufs: &mut Buffers,
    resp: Response<Tracked>,
    meta: &Meta,
    keep_alive: &mut bool,
    stall: Duration,
) -> io::Result<()> {
    let Buffers {
        input, output: out, ..
    } = bufs;
    let size = if resp.body().is_end_stream() {
        Size::Empty
    } else {
        resp.body()
            .size_hint()
            .exact()
            .map_or(Size::Unknown, Size::Exact)
    };
    out.clear();
    let framing = h1::encode_head(&resp, size, meta, keep_alive, out);
    let mut body = resp.into_body();
    // Bytes still owed to a length; chunked, with the trailer names allowed.
    let (mut remaining, chunked, allowed) = match framing {
        // Dropping the body ends its access log record with what was sent.
        Framing::Empty => return write_all(io, out, stall).await,
        Framing::Length(0) if size == Size::Empty => return write_all(io, out, stall).await,
        Framing::Length(n) => (Some(n), false, None),
        Framing::Chunked(allowed) => (None, true, allowed),
        // `encode_head` has ended keep-alive: the body ends with the connection.
        Framing::Close => (None, false, None),
    };
    let mut trailers: Option<HeaderMap> = None;
    loop {
        // Frames that are ready go into the same write; the output is flushed before
        // waiting for more.
        let polled = poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await;
        let frame = match polled {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                write_all(io, out, stall).await?;
                next_frame(io, &mut body, input).await?
            }
        };
        let frame = match frame {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                // The upstream failed mid-body: what came so far goes out, and the
                // client sees the body cut short, never complete (no last chunk, no
                // more bytes of a length).
                write_all(io, out, stall).await?;
                return Err(io::Error::other(e));
            }
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Ok(fields) = frame.into_trailers() {
                    trailers = Some(fields);
                }
                continue;
            }
        };
        if data.is_empty() {
            continue;
        }
        let mut data = &data[..];
        let mut overflow = false;
        if let Some(left) = remaining.as_mut() {
            let take = usize::try_from(*left).map_or(data.len(), |l| l.min(data.len()));
            overflow = take < data.len();
            data = &data[..take];
            *left -= take as u64;
        }
        if chunked {
            h1::encode_chunk_size(data.len(), out);
        }
        if data.len() >= DIRECT_AT {
            write_all(io, out, stall).await?;
            write_slice(io, data, stall).await?;
        } else {
            out.extend_from_slice(data);
        }
        if chunked {
            out.extend_from_slice(b"\r\n");
        }
        if overflow {
            // More than the declared length: what fits is sent, then the connection
            // closes (the rest would be read as the next response).
            write_all(io, out, stall).await?;
            return Err(io::Error::other("response body longer than its length"));
        }
        if out.len() >= FLUSH_AT {
            write_all(io, out, stall).await?;
        }
    }
    match (remaining, chunked) {
        (Some(left), _) if left > 0 => {
            write_all(io, out, stall).await?;
            return Err(io::Error::other("response body shorter than its length"));
        }
        (_, true) => h1::encode_chunked_end(trailers.as_ref(), allowed.as_deref(), out),
        _ => {}
    }
    // `body` has ended: its access log record is written as it drops.
    drop(body);
    write_all(io, out, stall).await
}

/// Waits for the body's next frame while watching the client: a client that closes
/// ends the response (and the upstream exchange behind it) at once, as hyper's server
/// does. Input that arrives meanwhile is the next request, kept in `input`; from then
/// on the client is not watched (it may have half-closed after pipelining).
async fn next_frame<I: AsyncRead + Unpin>(
    io: &mut I,
    body: &mut Tracked,
    input: &mut BytesMut,
) -> io::Result<Option<Result<Frame<Bytes>, BodyError>>> {
    let mut watching = input.is_empty();
    loop {
        tokio::select! {
            biased;
            frame = body.frame() => return Ok(frame),
            read = io.read_buf(input), if watching => match read {
                Ok(n) if n > 0 => watching = false,
                Ok(_) => return Err(io::ErrorKind::ConnectionAborted.into()),
                Err(e) => return Err(e),
            },
        }
    }
}

/// Writes and clears `buf` (then flushes: TLS streams buffer), giving up when a write
/// makes no progress for `stall`.
async fn write_all<W: AsyncWrite + Unpin>(
    io: &mut W,
    buf: &mut Vec<u8>,
    stall: Duration,
) -> io::Result<()> {
    let result = write_slice(io, buf, stall).await;
    buf.clear();
    result
}

async fn write_slice<W: AsyncWrite + Unpin>(
    io: &mut W,
    mut buf: &[u8],
    stall: Duration,
) -> io::Result<()> {
    while !buf.is_empty() {
        let polled = poll_fn(|cx| Poll::Ready(Pin::new(&mut *io).poll_write(cx, buf))).await;
        let n = match polled {
            Poll::Ready(n) => n?,
            Poll::Pending => tokio::time::timeout(stall, io.write(buf))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??,
        };
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    let polled = poll_fn(|cx| Poll::Ready(Pin::new(&mut *io).poll_flush(cx))).await;
    match polled {
        Poll::Ready(r) => r,
        Poll::Pending => tokio::time::timeout(stall, io.flush())
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?,
    }
}

/// The longest a closing connection reads what its client still sends.
const LINGER: Duration = Duration::from_secs(2);
/// The most it reads then.
const LINGER_BYTES: usize = 64 * 1024;

/// Ends the connection after its last response: FIN (and TLS close_notify), bounded by
/// `stall`, then a lingering close (RFC 9112 §9.6, nginx's `lingering_close`): what the
/// client still sends (a pipelined request, the rest of a body) is read and dropped
/// until it closes its side, for at most [`LINGER`] and [`LINGER_BYTES`]. Closed with
/// unread input, the socket would answer with a reset, and a reset can destroy the
/// response the client has not read yet.
pub(super) async fn close<I: AsyncRead + AsyncWrite + Unpin>(
    io: &mut I,
    sink: &mut BytesMut,
    stall: Duration,
) {
    if !matches!(tokio::time::timeout(stall, io.shutdown()).await, Ok(Ok(()))) {
        return;
    }
    let drain = async {
        let mut read = 0;
        while read < LINGER_BYTES {
            sink.clear();
            sink.reserve(4096);
            match io.read_buf(sink).await {
                Ok(n) if n > 0 => read += n,
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER.min(stall), drain).await;
}
