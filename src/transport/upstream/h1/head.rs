//! A response head, taken in: status, reason, every end-to-end field in a `HeaderMap`
//! (in the order sent, values sharing the head's bytes), and the body's framing by the
//! table of RFC 9112 §6.3. See the parent module for what is refused.

use std::mem::MaybeUninit;

use bytes::{Buf as _, Bytes, BytesMut};
use http::header::{CONNECTION, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use hyper::ext::ReasonPhrase;

use super::{content_length, has_token, record_spans, span_of, Body, Chunk, ProtoError, Span};
use super::{MAX_HEAD, MAX_HEADERS};
use crate::transport::hop::{
    hop_by_hop_index, names_other_headers, CONNECTION_INDEX, TRANSFER_ENCODING_INDEX,
    UPGRADE_INDEX, X_REQUEST_ID,
};

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    /// The final status.
    pub status: StatusCode,
    /// The reason phrase, when not the standard one for the status.
    pub reason: Option<ReasonPhrase>,
    /// Its end-to-end fields as the upstream sent them, in order: the hop-by-hop ones
    /// (RFC 9110 §7.6.1), those `Connection` names and the upstream's `X-Request-Id`
    /// are left out.
    pub headers: HeaderMap,
    /// How its body is framed.
    pub body: Body,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
    /// A 101's `Upgrade`: the protocol the connection switched to.
    pub upgrade: Option<HeaderValue>,
}

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
        // httparse takes a bare LF for a line end (RFC 9112 §2.2 allows it); the
        // chunked framing does not, and neither does the head: one reading of lines.
        if bare_lf(&buf[..len]) {
            return Err(ProtoError("bare LF in the response head"));
        }
        let status =
            StatusCode::from_u16(code).map_err(|_| ProtoError("invalid response status"))?;
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            // 100 Continue, 103 Early Hints: nothing the client asked for on this leg.
            buf.advance(len);
            continue;
        }
        let head = buf.split_to(len).freeze();
        let mut fields = Fields::default();
        let headers = fields.take(&head, spans, status)?;
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
            body,
            keep_alive,
            upgrade: fields.upgrade,
        }));
    }
}

/// Room in a response's map for the fields the gateway's response phase adds: the
/// request id, and on a CORS route `Vary` and three `Access-Control-*` fields. A map
/// that fills up grows by rehashing every field it holds.
const RESPONSE_PHASE_ROOM: usize = 5;

/// Whether a line of `head` ends with a LF that no CR precedes.
fn bare_lf(head: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', head).any(|lf| lf == 0 || head[lf - 1] != b'\r')
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
    /// A 101's `Upgrade`.
    upgrade: Option<HeaderValue>,
}

impl<'a> Fields<'a> {
    /// One pass over the fields as sent: the framing and connection fields are noted,
    /// never forwarded; the others go into the map in order. httparse has checked every
    /// name (a token) and value (no control character but HTAB): `http` takes the same
    /// sets, so its checks here only guard that agreement (the fuzz target asserts it).
    fn take(
        &mut self,
        head: &'a Bytes,
        spans: &[Span],
        status: StatusCode,
    ) -> Result<HeaderMap, ProtoError> {
        let mut headers = HeaderMap::with_capacity(spans.len() + RESPONSE_PHASE_ROOM);
        for &(ns, ne, vs, ve) in spans {
            let (raw, value) = (&head[ns..ne], &head[vs..ve]);
            if let Some(i) = hop_by_hop_index(raw) {
                if i == TRANSFER_ENCODING_INDEX {
                    self.te.push(value);
                } else if i == CONNECTION_INDEX {
                    self.close |= has_token(value, b"close");
                    self.names_others |= names_other_headers(value);
                } else if i == UPGRADE_INDEX && status == StatusCode::SWITCHING_PROTOCOLS {
                    self.upgrade = HeaderValue::from_maybe_shared(head.slice(vs..ve)).ok();
                }
                continue;
            }
            let name = HeaderName::from_bytes(raw)
                .map_err(|_| ProtoError("invalid response header name"))?;
            if name == http::header::CONTENT_LENGTH {
                self.cl.push(value);
            } else if name == X_REQUEST_ID {
                // The gateway answers every request with its own (`pipeline::handle`).
                continue;
            }
            let value = HeaderValue::from_maybe_shared(head.slice(vs..ve))
                .map_err(|_| ProtoError("invalid response header value"))?;
            headers.append(name, value);
        }
        if self.names_others {
            remove_listed(&mut headers, head, spans);
        }
        Ok(headers)
    }
}

/// Removes the fields a `Connection` of the head names (rare), `Host` excepted. The map
/// is built again: `HeaderMap::remove` would move its last field into the gap.
fn remove_listed(headers: &mut HeaderMap, head: &[u8], spans: &[Span]) {
    let listed: Vec<HeaderName> = spans
        .iter()
        .filter(|&&(ns, ne, ..)| head[ns..ne].eq_ignore_ascii_case(CONNECTION.as_str().as_bytes()))
        .flat_map(|&(.., vs, ve)| head[vs..ve].split(|&b| b == b','))
        .filter_map(|token| HeaderName::from_bytes(token.trim_ascii()).ok())
        .filter(|name| name != HOST)
        .collect();
    let all = std::mem::replace(headers, HeaderMap::with_capacity(spans.len()));
    let mut name = None;
    for (next, value) in all {
        // `None`: another value of the name before.
        if next.is_some() {
            name = next;
        }
        if let Some(name) = name.as_ref().filter(|n| !listed.contains(n)) {
            headers.append(name.clone(), value);
        }
    }
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
        // A tunnel: the connection is never reused.
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
        // Exactly one field naming exactly one coding, chunked: chunked applied twice,
        // or after another coding, or not last, is refused (RFC 9112 §6.1).
        if fields.te.count > 1 || !coding.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            return Err(ProtoError("unsupported Transfer-Encoding"));
        }
        return Ok((Body::Chunked(Chunk::Size), true));
    }
    let Some(digits) = fields.cl.first else {
        return Ok((Body::Close, false));
    };
    // Even equal values: one field, one length.
    if fields.cl.count > 1 {
        return Err(ProtoError("several Content-Length fields"));
    }
    let len = content_length(digits).ok_or(ProtoError("invalid Content-Length"))?;
    Ok((Body::Length(len), true))
}
