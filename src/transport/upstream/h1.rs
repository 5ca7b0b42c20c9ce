//! The gateway's one HTTP/1.1 client codec, for every HTTP/1 exchange with an upstream
//! (plain http or TLS, with or without a request body, websocket upgrades): the request
//! head and body framing written upstream (`encode.rs`), the response head parsed
//! (httparse) into an `http` head with every end-to-end field in its `HeaderMap`
//! (`head.rs`), and the response body's framing decoded (RFC 9112 §6–7, `decode.rs`).
//! Pure functions over buffers, so every rule is tested without sockets (`h1_tests.rs`),
//! against an independent statement of the RFC's framing table (`reference.rs`,
//! `differential.rs`) and fuzzed (`fuzz/fuzz_targets/upstream_response.rs`).
//!
//! It is strict where a lenient reading could desynchronise a pooled connection and so
//! hand one client's response to another (response splitting): a response framed by
//! both `Transfer-Encoding` and `Content-Length`, several or malformed `Content-Length`
//! fields, a transfer coding other than exactly one `chunked`, `Transfer-Encoding` in
//! HTTP/1.0, folded or malformed header lines, bare CR or LF line ends, malformed chunk
//! lines and oversized heads or trailer sections are refused (a 502), as nginx refuses
//! most of them. A connection is reused only when its response ended exactly at the end
//! of what was read (`Conn::reusable`, checked when the body hands it back); anything
//! after it means the two sides disagree on the framing. Hop-by-hop fields and the
//! upstream's `X-Request-Id` are left out of the head as it is taken in. What it writes
//! upstream is framed by exactly one of `Content-Length` (canonical decimal) or
//! `Transfer-Encoding: chunked`, whatever framing fields the request carried.

use std::fmt;

mod decode;
mod encode;
mod head;
#[doc(hidden)]
pub mod reference;

pub use decode::{Body, Chunk, Decoded};
pub use encode::{encode_chunk_size, encode_head, ReqFraming, LAST_CHUNK};
pub use head::{parse_head, Head};

/// The largest response head taken (status line and fields); nginx's default is 4–8 KiB,
/// hyper's about 400 KiB. Large enough for long `Set-Cookie` and CSP headers.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most header fields in a response head (hyper's limit).
pub const MAX_HEADERS: usize = 100;
/// The longest chunk-size line, its extensions and CRLF included.
pub const MAX_CHUNK_LINE: usize = 4096;
/// The most bytes of a trailer section, its final empty line included.
pub const MAX_TRAILERS: usize = 16 * 1024;
/// The most trailer fields (dropped ones included).
pub const MAX_TRAILER_FIELDS: usize = 32;

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

/// Where one field sits in a head: name start and end, value start and end.
pub type Span = (usize, usize, usize, usize);

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

#[cfg(test)]
mod differential;
