//! The own HTTP/1.1 server codec for the common request: a head without a body.
//!
//! [`parse_request`] takes a request head out of the read buffer (httparse, the parser
//! hyper uses) when it is one the gateway serves itself: a complete, valid HTTP/1.0 or
//! 1.1 head with neither `Content-Length` nor `Transfer-Encoding` (so no body: RFC 9112
//! §6.3), no `Expect`, no `Upgrade` and not CONNECT. Every other head — a body, an
//! upgrade, `100-continue`, anything malformed or too large — is left in the buffer
//! untouched ([`Parsed::Handoff`]) and hyper's server serves it from the same bytes,
//! with its own checks and error responses (400, 414, 431). So the own parser never
//! decides how long a body is, which is where request smuggling lives.
//!
//! [`encode_head`] writes a response head as hyper's server does (RFC 9112 §6.1–6.3):
//! the body's framing from its size (`Content-Length`, else chunked, else — HTTP/1.0 —
//! until close), none for HEAD, 204 and 304, `Connection: close` / `keep-alive` as the
//! connection's fate needs, a cached `Date`.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, TE};
use http::Version;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};

use crate::transport::upstream::h1::{has_token, record_spans, span_of, Span};
use crate::transport::upstream::ReqBody;

/// The most header fields in a request head (hyper's limit; more is hyper's 431).
const MAX_HEADERS: usize = 100;

/// Fields the gateway usually adds to a request (see `build`).
const ADDED_FIELDS: usize = 5;

/// What [`parse_request`] found at the start of the buffer.
// Taken apart at once by its one caller: boxing the request would cost an allocation
// per request for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// A request the own server serves; its head has been taken out of the buffer.
    Request(Request<ReqBody>, Meta),
    /// Not a whole head yet.
    Partial,
    /// A head for hyper's server (see the module docs); the buffer is as it was.
    Handoff,
}

/// What the response needs to know about its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The client lets the connection carry another request.
    pub keep_alive: bool,
    /// A HEAD request: the response has no body whatever its fields say.
    pub head: bool,
    /// The client accepts trailer fields in a chunked response (`TE: trailers`).
    pub trailers: bool,
}

/// Takes the next request head out of `buf` if the own server serves it. `spans` is
/// scratch space the connection keeps. A head longer than `max_head` is hyper's to
/// refuse (431), however it arrived.
pub fn parse_request(buf: &mut BytesMut, spans: &mut Vec<Span>, max_head: usize) -> Parsed {
    if buf.is_empty() {
        return Parsed::Partial;
    }
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let (len, method, target, version) = match httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(&mut req, buf, &mut slots)
    {
        Ok(httparse::Status::Complete(len)) => {
            let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version)
            else {
                return Parsed::Handoff;
            };
            let Ok(method) = Method::from_bytes(method.as_bytes()) else {
                return Parsed::Handoff;
            };
            let Some(target) = span_of(buf, target.as_bytes()) else {
                return Parsed::Handoff;
            };
            if !record_spans(buf, req.headers, spans) {
                return Parsed::Handoff;
            }
            (len, method, target, version)
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Handoff,
    };
    if method == Method::CONNECT || len > max_head {
        return Parsed::Handoff;
    }
    // Decided on the raw bytes, before the head leaves the buffer.
    for &(ns, ne, vs, ve) in spans.iter() {
        let name = &buf[ns..ne];
        if name.eq_ignore_ascii_case(b"content-length")
            || name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"upgrade")
            || (name.eq_ignore_ascii_case(b"connection") && has_token(&buf[vs..ve], b"upgrade"))
        {
            return Parsed::Handoff;
        }
    }
    let head = buf.split_to(len).freeze();
    match build(&head, method, target, version, spans) {
        Some(parsed) => parsed,
        None => {
            // A name or value `http` refuses (httparse is more lenient in places):
            // hyper's server answers it from the same bytes.
            let mut whole = BytesMut::with_capacity(head.len() + buf.len());
            whole.extend_from_slice(&head);
            whole.extend_from_slice(buf);
            *buf = whole;
            Parsed::Handoff
        }
    }
}

/// The request of a head already checked by [`parse_request`].
fn build(
    head: &Bytes,
    method: Method,
    target: (usize, usize),
    version: u8,
    spans: &[Span],
) -> Option<Parsed> {
    let uri = Uri::from_maybe_shared(head.slice(target.0..target.1)).ok()?;
    let http11 = version == 1;
    let mut keep_alive = http11;
    let mut close = false;
    let mut trailers = false;
    // Room for what the gateway adds before forwarding (X-Forwarded-For/-Proto/-Host,
    // X-Request-Id, identity headers): growing the map rehashes every field.
    let mut headers = HeaderMap::with_capacity(spans.len() + ADDED_FIELDS);
    for &(ns, ne, vs, ve) in spans {
        let name = HeaderName::from_bytes(&head[ns..ne]).ok()?;
        let value = HeaderValue::from_maybe_shared(head.slice(vs..ve)).ok()?;
        if name == CONNECTION {
            // Once a `Connection` asks to close, a later `keep-alive` does not undo it.
            close |= has_token(value.as_bytes(), b"close");
            keep_alive |= has_token(value.as_bytes(), b"keep-alive");
        } else if name == TE {
            trailers |= has_token(value.as_bytes(), b"trailers");
        }
        headers.append(name, value);
    }
    let meta = Meta {
        version: if http11 {
            Version::HTTP_11
        } else {
            Version::HTTP_10
        },
        keep_alive: keep_alive && !close,
        head: method == Method::HEAD,
        trailers,
    };
    let mut req = Request::new(ReqBody::Empty);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = meta.version;
    *req.headers_mut() = headers;
    Some(Parsed::Request(req, meta))
}

mod response;
pub use response::{encode_chunk_size, encode_chunked_end, encode_head, Framing, Size};

#[cfg(test)]
mod tests;
