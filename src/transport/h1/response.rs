//! The response side of the own HTTP/1 server: the head of a response, written as
//! hyper's server writes it, and the framing of its body (see `super`).

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TE, TRAILER, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, Response, StatusCode, Version};
use hyper::ext::ReasonPhrase;

use super::Meta;
use crate::transport::upstream::h1::{content_length, has_token};

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
    out.extend_from_slice(itoa_status(parts_status).as_bytes());
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
        let n = content_length(value.as_bytes())?;
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
    fn as_bytes(&self) -> &[u8] {
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
