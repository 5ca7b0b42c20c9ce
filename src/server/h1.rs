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

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TE, TRAILER, TRANSFER_ENCODING};
use http::Version;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use hyper::ext::ReasonPhrase;

use crate::proxy::pool::h1::{has_token, span_of, Span};
use crate::proxy::pool::ReqBody;

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
            spans.clear();
            for h in req.headers.iter() {
                let (Some(name), Some(value)) =
                    (span_of(buf, h.name.as_bytes()), span_of(buf, h.value))
                else {
                    return Parsed::Handoff;
                };
                spans.push((name.0, name.1, value.0, value.1));
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

/// How a response body goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 204, 304, or an empty one with `Content-Length: 0`).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked; trailer fields are sent when the client accepts them and the response
    /// declared them in `Trailer` (these names).
    Chunked(Option<Vec<HeaderName>>),
    /// Until the connection closes (an HTTP/1.0 client, length unknown).
    Close,
}

/// The size of a response body as its framing needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The body has ended already.
    Empty,
    /// Exactly this many bytes.
    Exact(u64),
    /// Unknown.
    Unknown,
}

/// Writes the head of `resp` (answering a request described by `meta`) into `out` and
/// returns how its body goes. `keep_alive` comes in as what the connection allows and
/// goes out false when this response must be the last one.
pub fn encode_head<B>(
    resp: &Response<B>,
    size: Size,
    meta: &Meta,
    keep_alive: &mut bool,
    out: &mut Vec<u8>,
) -> Framing {
    let parts_status = resp.status();
    if parts_status.is_informational() {
        // Never produced by the pipeline (1xx are consumed upstream, a 101 needs an
        // upgrade, which hyper's server handles): hyper's answer to it.
        *keep_alive = false;
        out.extend_from_slice(status_line(meta.version));
        out.extend_from_slice(
            b"500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n",
        );
        push_date(out);
        out.extend_from_slice(b"\r\n");
        return Framing::Empty;
    }
    let headers = resp.headers();
    let no_body = meta.head
        || parts_status == StatusCode::NO_CONTENT
        || parts_status == StatusCode::NOT_MODIFIED;
    let framing = if no_body {
        Framing::Empty
    } else {
        match size {
            Size::Empty => Framing::Length(0),
            Size::Exact(n) => Framing::Length(n),
            Size::Unknown => match declared_length(headers) {
                Some(n) => Framing::Length(n),
                None if meta.version == Version::HTTP_11 => {
                    let allowed = meta.trailers.then(|| declared_trailers(headers));
                    Framing::Chunked(allowed.filter(|names| !names.is_empty()))
                }
                None => Framing::Close,
            },
        }
    };
    // The response's own `Connection` (none reaches here from an upstream: hygiene
    // removes it) can only end the connection; this layer writes the field.
    if framing == Framing::Close
        || headers
            .get_all(CONNECTION)
            .iter()
            .any(|v| has_token(v.as_bytes(), b"close"))
    {
        *keep_alive = false;
    }
    // HEAD: the length GET would have, when the response says or knows it.
    let head_length = match size {
        Size::Exact(n) if meta.head && n > 0 && !headers.contains_key(CONTENT_LENGTH) => Some(n),
        _ => None,
    };

    out.extend_from_slice(status_line(meta.version));
    let mut code = itoa_status(parts_status);
    out.extend_from_slice(code.as_bytes());
    out.push(b' ');
    match resp.extensions().get::<ReasonPhrase>() {
        Some(reason) => out.extend_from_slice(reason.as_bytes()),
        None => out.extend_from_slice(
            parts_status
                .canonical_reason()
                .unwrap_or("<none>")
                .as_bytes(),
        ),
    }
    out.extend_from_slice(b"\r\n");

    let mut date = false;
    for (name, value) in headers {
        if *name == CONTENT_LENGTH {
            // HEAD keeps the length of what GET would send; otherwise the framing
            // decided above writes it.
            if !meta.head {
                continue;
            }
        } else if *name == TRANSFER_ENCODING {
            continue;
        } else if *name == TRAILER {
            if !matches!(framing, Framing::Chunked(_)) {
                continue;
            }
        } else if *name == CONNECTION {
            continue;
        } else if *name == DATE {
            date = true;
        }
        push_field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    let length = match framing {
        Framing::Length(n) => Some(n),
        _ => head_length,
    };
    if let Some(n) = length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa_u64(n).as_bytes());
        out.extend_from_slice(b"\r\n");
    } else if matches!(framing, Framing::Chunked(_)) {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if meta.version == Version::HTTP_10 {
        // HTTP/1.0 closes unless both sides say keep-alive.
        if *keep_alive {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
    } else if !*keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    if !date {
        push_date(out);
    }
    out.extend_from_slice(b"\r\n");
    framing
}

fn status_line(version: Version) -> &'static [u8] {
    if version == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    }
}

fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A `Content-Length` the response carries (all its values equal and valid), for a
/// body whose size is unknown.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let mut found = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        let digits = value.as_bytes();
        if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if found.is_some_and(|f| f != n) {
            return None;
        }
        found = Some(n);
    }
    found
}

/// The field names a response declares in `Trailer`.
fn declared_trailers(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(TRAILER)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|name| HeaderName::from_bytes(name.trim_ascii()).ok())
        .collect()
}

/// Writes the end of a chunked body: the last chunk, the trailer fields `allowed`
/// names (the others are left out, as are framing fields), the blank line.
pub fn encode_chunked_end(
    trailers: Option<&HeaderMap>,
    allowed: Option<&[HeaderName]>,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"0\r\n");
    if let (Some(trailers), Some(allowed)) = (trailers, allowed) {
        for (name, value) in trailers {
            if allowed.contains(name) && trailer_allowed(name) {
                push_field(out, name.as_str().as_bytes(), value.as_bytes());
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether a field may be sent as a trailer: not one that frames, routes, authenticates
/// or describes the content (RFC 9110 §6.5.1; hyper's list).
fn trailer_allowed(name: &HeaderName) -> bool {
    use http::header::{
        AUTHORIZATION, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_RANGE, CONTENT_TYPE, HOST,
        MAX_FORWARDS, SET_COOKIE,
    };
    ![
        AUTHORIZATION,
        CACHE_CONTROL,
        CONTENT_ENCODING,
        CONTENT_LENGTH,
        CONTENT_RANGE,
        CONTENT_TYPE,
        HOST,
        MAX_FORWARDS,
        SET_COOKIE,
        TRAILER,
        TRANSFER_ENCODING,
        TE,
    ]
    .contains(name)
}

/// Writes the size line of a chunk of `len` bytes (`len` > 0).
pub fn encode_chunk_size(len: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 16];
    let mut n = len;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// Decimal digits of a number, without allocating.
struct Digits {
    buf: [u8; 20],
    at: usize,
}

impl Digits {
    fn as_bytes(&mut self) -> &[u8] {
        &self.buf[self.at..]
    }
}

fn itoa_u64(mut n: u64) -> Digits {
    let mut d = Digits {
        buf: [0; 20],
        at: 20,
    };
    loop {
        d.at -= 1;
        d.buf[d.at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return d;
        }
    }
}

fn itoa_status(status: StatusCode) -> Digits {
    itoa_u64(u64::from(status.as_u16()))
}

thread_local! {
    /// The `Date` field of this second, formatted once per second per thread.
    static DATE_CACHE: RefCell<(u64, Vec<u8>)> = const { RefCell::new((u64::MAX, Vec::new())) };
}

/// Writes a `Date` field line for now (RFC 9110 §6.6.1: an origin server with a clock
/// sends one; the gateway adds it to its own responses and to upstream responses that
/// lack it, as hyper's server does).
fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != secs {
            cache.1.clear();
            cache.1.extend_from_slice(b"date: ");
            cache
                .1
                .extend_from_slice(httpdate::fmt_http_date(now).as_bytes());
            cache.1.extend_from_slice(b"\r\n");
            cache.0 = secs;
        }
        out.extend_from_slice(&cache.1);
    });
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
