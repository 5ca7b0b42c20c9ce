//! The HTTP/1.1 client codec of the own pool: the request head written upstream, the
//! response head parsed (httparse) and the response body's framing decoded (RFC 9112
//! §6–7, `decode.rs`). Pure functions over buffers, so every rule is tested without
//! sockets (`h1_tests.rs`) and fuzzed (`fuzz/fuzz_targets/upstream_response.rs`).
//!
//! It is strict where a lenient reading could desynchronise a pooled connection and so
//! hand one client's response to another (response splitting): a response framed by
//! both `Transfer-Encoding` and `Content-Length`, several or malformed `Content-Length`
//! fields, a transfer coding other than exactly `chunked`, folded or malformed header
//! lines, bare-LF chunk lines and oversized heads are refused (a 502), as nginx refuses
//! them. A connection is reused only when its response ended exactly at the end of what
//! was read (`Conn::reusable`, checked when the body hands it back); anything after it
//! means the two sides disagree on the framing. Hop-by-hop fields are left out of the
//! head as it is taken in.

use std::fmt;
use std::mem::MaybeUninit;

use bytes::{Buf as _, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use hyper::ext::ReasonPhrase;

use crate::proxy::headers::{
    hop_by_hop_index, is_hop_by_hop, names_other_headers, remove_hop_by_hop, CONNECTION_INDEX,
    TRANSFER_ENCODING_INDEX, X_REQUEST_ID,
};

mod decode;
mod fields;
pub use decode::{Body, Chunk, Decoded};
pub use fields::{Kind, RawFields};

/// The largest response head taken (status line and fields); nginx's default is 4–8 KiB,
/// hyper's about 400 KiB. Large enough for long `Set-Cookie` and CSP headers.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most header fields in a response head (hyper's limit).
const MAX_HEADERS: usize = 100;

/// A response the codec refuses; the text is safe to log (it never quotes the upstream's
/// bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtoError(pub &'static str);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ProtoError {}

/// Writes the head of a request without a body: request line in origin form, every
/// field (already valid: `http` refuses CR, LF and NUL in names and values), blank line.
/// No framing field but `Content-Length: 0` is written: no body follows.
pub fn encode_head(parts: &http::request::Parts, out: &mut Vec<u8>) {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        if name == TRANSFER_ENCODING || (name == CONTENT_LENGTH && value != "0") {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    /// The final status.
    pub status: StatusCode,
    /// The reason phrase, when not the standard one for the status.
    pub reason: Option<ReasonPhrase>,
    /// Its end-to-end fields as the upstream sent them: the hop-by-hop ones (RFC 9110
    /// §7.6.1) and the upstream's `X-Request-Id` are left out.
    pub raw: RawFields,
    /// Empty, unless `Connection` named other fields to leave out: then it holds the
    /// end-to-end fields instead of `raw`.
    pub headers: HeaderMap,
    /// How its body is framed.
    pub body: Body,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
}

/// Where one field sits in a head: name start and end, value start and end.
pub type Span = (usize, usize, usize, usize);

/// Takes the next final response head out of `buf` (informational 1xx heads before it
/// are skipped); `None` until `buf` holds all of it. `method` is the request's: a HEAD
/// response has no body whatever its fields say, a 2xx to CONNECT turns the connection
/// into a tunnel (the gateway refuses CONNECT before it gets here; this is the second
/// guard). `spans` is scratch space kept by the connection.
pub fn parse_head(
    buf: &mut BytesMut,
    method: &Method,
    spans: &mut Vec<Span>,
) -> Result<Option<Head>, ProtoError> {
    loop {
        if buf.is_empty() {
            return Ok(None);
        }
        let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut res, buf, &mut slots);
        let (len, code, version, reason) = match parsed {
            Ok(httparse::Status::Complete(len)) => {
                // Offsets into the head, so the values can share its bytes once it is
                // frozen.
                // httparse hands back slices of `buf`, except a reason phrase that is
                // not UTF-8, which it reports as a static "" (found by fuzzing): every
                // slice is located with a bounds check, never by bare subtraction.
                let reason = res.reason.and_then(|r| span_of(buf, r.as_bytes()));
                if !record_spans(buf, res.headers, spans) {
                    return Err(ProtoError("malformed response head"));
                }
                (len, res.code.unwrap_or(0), res.version.unwrap_or(1), reason)
            }
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                return Err(ProtoError("response head too large"))
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ProtoError("too many response header fields"))
            }
            Err(_) => return Err(ProtoError("malformed response head")),
        };
        if len > MAX_HEAD {
            return Err(ProtoError("response head too large"));
        }
        let status =
            StatusCode::from_u16(code).map_err(|_| ProtoError("invalid response status"))?;
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            // 100 Continue, 103 Early Hints: nothing the client asked for on this leg.
            buf.advance(len);
            continue;
        }
        let head = buf.split_to(len).freeze();
        // One pass over the names as sent: the framing and connection fields are read,
        // never forwarded; the others are kept where they lie.
        let mut fields = Fields::default();
        let mut raw = RawFields::with_capacity(head.clone(), spans.len());
        for &(ns, ne, vs, ve) in spans.iter() {
            let value = &head[vs..ve];
            let kind = match classify(&head[ns..ne]) {
                Class::HopByHop(i) => {
                    if i == TRANSFER_ENCODING_INDEX {
                        fields.te.push(value);
                    } else if i == CONNECTION_INDEX {
                        fields.close |= has_token(value, b"close");
                        fields.names_others |= names_other_headers(value);
                    }
                    continue;
                }
                // The gateway answers every request with its own (`pipeline::handle`
                // replaces the upstream's).
                Class::RequestId => continue,
                Class::ContentLength => {
                    fields.cl.push(value);
                    Kind::ContentLength
                }
                Class::Date => Kind::Date,
                Class::Plain => Kind::Plain,
            };
            if !raw.push((ns, ne), (vs, ve), kind) {
                return Err(ProtoError("malformed response head"));
            }
        }
        // A `Connection` that names other fields (rare): they go too, which takes the
        // names as `HeaderName`s.
        let headers = if fields.names_others {
            let map = header_map(&head, spans)?;
            raw = RawFields::with_capacity(head.clone(), 0);
            map
        } else {
            HeaderMap::new()
        };
        let http11 = version == 1;
        let (body, framed) = framing(&fields, status, method, http11)?;
        let keep_alive = http11 && framed && !fields.close;
        // A reason phrase other than the standard one (or none) is passed on as sent.
        let reason = reason
            .filter(|&(from, to)| {
                to > from && status.canonical_reason().map(str::as_bytes) != Some(&head[from..to])
            })
            .and_then(|(from, to)| ReasonPhrase::try_from(head.slice(from..to)).ok());
        return Ok(Some(Head {
            status,
            reason,
            headers,
            raw,
            body,
            keep_alive,
        }));
    }
}

/// The end-to-end fields of a head whose `Connection` names others, as a `HeaderMap`
/// with those removed.
fn header_map(head: &Bytes, spans: &[Span]) -> Result<HeaderMap, ProtoError> {
    let mut headers = HeaderMap::with_capacity(spans.len());
    for &(ns, ne, vs, ve) in spans {
        let name = HeaderName::from_bytes(&head[ns..ne])
            .map_err(|_| ProtoError("invalid response header name"))?;
        // `Connection` stays for `remove_hop_by_hop` to remove the fields it names.
        if (is_hop_by_hop(name.as_str()) && name != CONNECTION) || name == X_REQUEST_ID {
            continue;
        }
        let value = HeaderValue::from_maybe_shared(head.slice(vs..ve))
            .map_err(|_| ProtoError("invalid response header value"))?;
        headers.append(name, value);
    }
    remove_hop_by_hop(&mut headers);
    Ok(headers)
}

/// What the codec does with a field, by its name in any case.
enum Class {
    /// Hop-by-hop: its position in `HOP_BY_HOP`.
    HopByHop(usize),
    ContentLength,
    Date,
    RequestId,
    Plain,
}

fn classify(name: &[u8]) -> Class {
    if let Some(i) = hop_by_hop_index(name) {
        Class::HopByHop(i)
    } else if name.eq_ignore_ascii_case(b"content-length") {
        Class::ContentLength
    } else if name.eq_ignore_ascii_case(b"date") {
        Class::Date
    } else if name.eq_ignore_ascii_case(b"x-request-id") {
        Class::RequestId
    } else {
        Class::Plain
    }
}

/// Records where each parsed field's name and value lie in `buf` (false: one does not
/// lie in it), so that they can share its bytes once it is frozen.
pub fn record_spans(buf: &[u8], fields: &[httparse::Header<'_>], spans: &mut Vec<Span>) -> bool {
    spans.clear();
    for h in fields {
        let (Some(name), Some(value)) = (span_of(buf, h.name.as_bytes()), span_of(buf, h.value))
        else {
            return false;
        };
        spans.push((name.0, name.1, value.0, value.1));
    }
    true
}

/// Where `part` lies in `buf` (start, end), if it is a slice of it. An empty `part`
/// from elsewhere is an empty span at the start.
pub fn span_of(buf: &[u8], part: &[u8]) -> Option<(usize, usize)> {
    let start = (part.as_ptr() as usize).checked_sub(buf.as_ptr() as usize);
    match start {
        Some(start) if start <= buf.len() && part.len() <= buf.len() - start => {
            Some((start, start + part.len()))
        }
        _ if part.is_empty() => Some((0, 0)),
        _ => None,
    }
}

/// The framing fields of a head, noted while its fields are taken in.
#[derive(Default)]
struct Fields<'a> {
    te: Seen<'a>,
    cl: Seen<'a>,
    /// `Connection: close`.
    close: bool,
    /// `Connection` names other fields, to be removed.
    names_others: bool,
}

/// A field's first value and how often it appeared.
#[derive(Default)]
struct Seen<'a> {
    first: Option<&'a [u8]>,
    count: usize,
}

impl<'a> Seen<'a> {
    fn push(&mut self, value: &'a [u8]) {
        self.first.get_or_insert(value);
        self.count += 1;
    }
}

/// The body's framing (RFC 9112 §6.3), and whether it ends on its own (not at EOF).
fn framing(
    fields: &Fields<'_>,
    status: StatusCode,
    method: &Method,
    http11: bool,
) -> Result<(Body, bool), ProtoError> {
    if status == StatusCode::SWITCHING_PROTOCOLS
        || (method == Method::CONNECT && status.is_success())
    {
        // A tunnel, never asked for on this leg: the connection is not reused.
        return Ok((Body::Length(0), false));
    }
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Body::Length(0), true));
    }
    if let Some(coding) = fields.te.first {
        if fields.cl.count > 0 {
            return Err(ProtoError("both Transfer-Encoding and Content-Length"));
        }
        if !http11 {
            return Err(ProtoError("Transfer-Encoding in an HTTP/1.0 response"));
        }
        if fields.te.count > 1 || !coding.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            return Err(ProtoError("unsupported Transfer-Encoding"));
        }
        return Ok((Body::Chunked(Chunk::Size), true));
    }
    let Some(digits) = fields.cl.first else {
        return Ok((Body::Close, false));
    };
    if fields.cl.count > 1 {
        return Err(ProtoError("several Content-Length fields"));
    }
    let len = content_length(digits).ok_or(ProtoError("invalid Content-Length"))?;
    Ok((Body::Length(len), true))
}

/// A `Content-Length` value: 1 to 18 digits, nothing else (no sign, no list).
pub fn content_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// Whether a comma-separated field value holds `token` (case-insensitive).
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    // The usual values (`keep-alive`, `close`, `trailers`), at once.
    value.eq_ignore_ascii_case(token)
        || value
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
