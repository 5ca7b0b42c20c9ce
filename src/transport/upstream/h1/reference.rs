//! Test support, not used by the gateway: the framing decision for an upstream response,
//! stated again from RFC 9112 (§2.2 line ends, §5 fields, §6.1 `Transfer-Encoding`, §6.3
//! the message-body-length table, §7.1 chunked coding and trailers) as plainly as
//! possible, whole-buffer and without sharing any code with the codec but httparse for
//! the head. The differential test (`differential.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/upstream_response.rs`) assert that the codec decides as this does.
//!
//! Where RFC 9112 lets a recipient choose, this states the gateway's policy, each time
//! the stricter reading: a bare LF is no line end (§2.2 "MAY recognize"); framing by
//! both `Transfer-Encoding` and `Content-Length` is refused (§6.3 rule 3 "ought to be
//! handled as an error"); the codings must be exactly one `chunked` (no other coding is
//! supported, chunked twice is invalid, §6.1); `Content-Length` must be one field of 1 to
//! 18 digits (even two equal fields are refused); whitespace after a chunk size is taken
//! only before an extension or the line end, extensions are skipped but may hold no
//! control character; the limits are the codec's (`super::MAX_*`).

use http::Method;

use super::{MAX_CHUNK_LINE, MAX_HEAD, MAX_HEADERS, MAX_TRAILERS, MAX_TRAILER_FIELDS};

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// None (HEAD, 204, 304).
    NoBody,
    /// The connection became a tunnel (101, 2xx to CONNECT).
    Tunnel,
    /// This many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the connection closes.
    Close,
}

/// A field: lower-case name, value as sent (without surrounding whitespace).
pub type Field = (String, Vec<u8>);

/// What the head of a response stream decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadDecision {
    /// The stream ends before a final head does.
    Incomplete,
    /// Refused: the connection cannot be trusted.
    Refused,
    /// A final head.
    Final {
        /// Where the body starts in the stream.
        body_at: usize,
        /// The status code.
        status: u16,
        /// The body's framing.
        framing: Framing,
        /// Whether the connection may carry another exchange afterwards.
        keep_alive: bool,
        /// The end-to-end fields forwarded, in order.
        fields: Vec<Field>,
    },
}

/// What the body decides, for a stream that ends where `body` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyDecision {
    /// Malformed, or cut short by the end of the stream.
    Refused,
    /// The body ended.
    Done {
        /// Its bytes, decoded.
        data: Vec<u8>,
        /// The trailer fields forwarded.
        trailers: Vec<Field>,
        /// How many bytes of `body` it took.
        used: usize,
    },
}

/// Hop-by-hop fields (RFC 9110 §7.6.1 and the de-facto ones), never forwarded.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "upgrade",
    "expect",
    "http2-settings",
];

/// Fields a recipient must not take from trailers (RFC 9110 §6.5.1), or that the gateway
/// sets itself.
const NOT_IN_TRAILERS: [&str; 11] = [
    "authorization",
    "cache-control",
    "content-encoding",
    "content-length",
    "content-range",
    "content-type",
    "host",
    "max-forwards",
    "set-cookie",
    "trailer",
    "x-request-id",
];

/// The decision for the response heads at the start of `wire`, sent to a `method`
/// request.
pub fn decide_head(wire: &[u8], method: &Method) -> HeadDecision {
    let mut at = 0;
    loop {
        let rest = &wire[at..];
        let mut slots = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut slots);
        let len = match resp.parse(rest) {
            Err(_) => return HeadDecision::Refused,
            Ok(httparse::Status::Partial) if rest.len() > MAX_HEAD => return HeadDecision::Refused,
            Ok(httparse::Status::Partial) => return HeadDecision::Incomplete,
            Ok(httparse::Status::Complete(len)) => len,
        };
        let lines_ok = (0..len).all(|i| rest[i] != b'\n' || (i > 0 && rest[i - 1] == b'\r'));
        let status = resp.code.unwrap_or(0);
        if len > MAX_HEAD || !lines_ok || status < 100 {
            return HeadDecision::Refused;
        }
        if (100..200).contains(&status) && status != 101 {
            at += len;
            continue;
        }
        let all: Vec<Field> = resp
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
            .collect();
        let http11 = resp.version == Some(1);
        let Some((framing, framed)) = framing(&all, status, method, http11) else {
            return HeadDecision::Refused;
        };
        let close = values(&all, "connection").any(|t| t.eq_ignore_ascii_case(b"close"));
        let listed: Vec<String> = values(&all, "connection")
            .filter_map(|t| std::str::from_utf8(t).ok())
            .map(str::to_ascii_lowercase)
            .filter(|t| t != "host")
            .collect();
        let fields = all
            .into_iter()
            .filter(|(n, _)| !HOP_BY_HOP.contains(&n.as_str()) && n != "x-request-id")
            .filter(|(n, _)| !listed.contains(n))
            .collect();
        return HeadDecision::Final {
            body_at: at + len,
            status,
            framing,
            keep_alive: http11 && framed && !close,
            fields,
        };
    }
}

/// The comma-separated elements of every `name` field, trimmed.
fn values<'a>(all: &'a [Field], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    all.iter()
        .filter(move |(n, _)| n == name)
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .map(|t| t.trim_ascii())
}

/// RFC 9112 §6.3, in its order; `None`: refused. Also whether the body ends on its own.
fn framing(all: &[Field], status: u16, method: &Method, http11: bool) -> Option<(Framing, bool)> {
    if status == 101 || (method == Method::CONNECT && (200..300).contains(&status)) {
        return Some((Framing::Tunnel, false));
    }
    if method == Method::HEAD || status == 204 || status == 304 {
        return Some((Framing::NoBody, true));
    }
    let lengths: Vec<&Vec<u8>> = all
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v)
        .collect();
    if all.iter().any(|(n, _)| n == "transfer-encoding") {
        let codings: Vec<&[u8]> = values(all, "transfer-encoding").collect();
        let only_chunked = codings.len() == 1 && codings[0].eq_ignore_ascii_case(b"chunked");
        return (lengths.is_empty() && http11 && only_chunked).then_some((Framing::Chunked, true));
    }
    match lengths.as_slice() {
        [] => Some((Framing::Close, false)),
        [digits] if (1..=18).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) => {
            let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
            Some((Framing::Length(n), true))
        }
        _ => None,
    }
}

/// The decision for a body of `framing` in `body` (everything up to the end of the
/// stream).
pub fn decide_body(framing: Framing, body: &[u8]) -> BodyDecision {
    let done = |data: &[u8], used| BodyDecision::Done {
        data: data.to_vec(),
        trailers: Vec::new(),
        used,
    };
    match framing {
        Framing::NoBody | Framing::Tunnel => done(&[], 0),
        Framing::Close => done(body, body.len()),
        Framing::Length(n) => match usize::try_from(n) {
            Ok(n) if n <= body.len() => done(&body[..n], n),
            _ => BodyDecision::Refused,
        },
        Framing::Chunked => chunked(body).unwrap_or(BodyDecision::Refused),
    }
}

/// The next line of `body` from `at`, without its CRLF, and where the one after starts;
/// `None` for a bare LF, a bare CR, or no line end within `max` bytes (CRLF included).
fn line(body: &[u8], at: usize, max: usize) -> Option<(&[u8], usize)> {
    let rest = &body[at..];
    let lf = rest.iter().position(|&b| b == b'\n')?;
    let line = rest[..lf].strip_suffix(b"\r")?;
    (lf < max && !line.contains(&b'\r')).then_some((line, at + lf + 1))
}

/// `value` without leading and trailing spaces and tabs (RFC 9110 §5.5 OWS).
fn ows_trimmed(value: &[u8]) -> &[u8] {
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    &value[start..end]
}

/// RFC 9112 §7.1: `*chunk last-chunk trailer-section CRLF`.
fn chunked(body: &[u8]) -> Option<BodyDecision> {
    let (mut at, mut data) = (0, Vec::new());
    loop {
        let (size_line, next) = line(body, at, MAX_CHUNK_LINE)?;
        let digits = size_line
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        let after = &size_line[digits..];
        let ext = after.trim_ascii_start();
        let ctl = |b: &u8| (*b < 0x20 && *b != b'\t') || *b == 0x7f;
        if digits == 0 || !(ext.is_empty() || ext[0] == b';') || after.iter().any(ctl) {
            return None;
        }
        let significant = size_line[..digits].iter().skip_while(|&&b| b == b'0');
        let hex: String = significant.map(|&b| char::from(b)).collect();
        if hex.len() > 16 {
            return None;
        }
        let size = if hex.is_empty() {
            0
        } else {
            usize::try_from(u64::from_str_radix(&hex, 16).ok()?).ok()?
        };
        at = next;
        if size == 0 {
            break;
        }
        let end = at.checked_add(size)?;
        if body.len() < end + 2 || &body[end..end + 2] != b"\r\n" {
            return None;
        }
        data.extend_from_slice(&body[at..end]);
        at = end + 2;
    }
    let section = at;
    let mut trailers = Vec::new();
    let mut count = 0;
    loop {
        let (field, next) = line(body, at, MAX_TRAILERS - (at - section))?;
        at = next;
        if field.is_empty() {
            break;
        }
        count += 1;
        let colon = field.iter().position(|&b| b == b':')?;
        let (name, value) = (&field[..colon], ows_trimmed(&field[colon + 1..]));
        let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
        let vchar = |b: &u8| *b == b'\t' || (*b >= 0x20 && *b != 0x7f);
        if count > MAX_TRAILER_FIELDS
            || name.is_empty()
            || !name.iter().all(tchar)
            || !value.iter().all(vchar)
        {
            return None;
        }
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        if !HOP_BY_HOP.contains(&name.as_str()) && !NOT_IN_TRAILERS.contains(&name.as_str()) {
            trailers.push((name, value.to_vec()));
        }
    }
    Some(BodyDecision::Done {
        data,
        trailers,
        used: at,
    })
}
