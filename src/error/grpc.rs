//! gRPC-shaped denials: a gRPC client that the gateway refuses gets a gRPC answer it can
//! read (HTTP 200, trailers-only: `grpc-status` and `grpc-message` in the headers, empty
//! body), never an HTTP error page or a redirect its library would report as a protocol
//! failure. The HTTP status `respond()` chose is translated here, in one table; this file
//! never picks a status of its own and never puts a cause into `grpc-message`.
//!
//! gRPC-Web (`application/grpc-web*`) gets the same trailers-only answer: its protocol
//! allows trailers in the headers when there is no message (PROTOCOL-WEB.md), which also
//! works over HTTP/1.1 without trailer support.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use super::{challenge, ErrorContext, GatewayError};

/// The gRPC status field.
pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// The gRPC status message field (percent-encoded).
pub const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// Which gRPC protocol the client speaks (from its `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcKind {
    /// `application/grpc`, `application/grpc+proto`, … (HTTP/2, or HTTP/1.1 clients
    /// that manage without trailers).
    Grpc,
    /// `application/grpc-web`, `application/grpc-web+proto`, … (binary gRPC-Web).
    Web,
    /// `application/grpc-web-text`, … (base64 gRPC-Web).
    WebText,
}

impl GrpcKind {
    /// The kind named by the request's `Content-Type`, if it is a gRPC one (media type
    /// case-insensitive, parameters ignored; `application/grpcfoo` is not).
    pub fn detect(headers: &HeaderMap) -> Option<GrpcKind> {
        let value = headers.get(CONTENT_TYPE)?.as_bytes();
        let media = value.split(|b| *b == b';').next()?.trim_ascii();
        let rest = strip_prefix_ci(media, b"application/grpc")?;
        // `+proto`, `+json`…: the message encoding, not another protocol.
        let subtype_ends = |r: &[u8]| r.is_empty() || r[0] == b'+';
        if subtype_ends(rest) {
            return Some(GrpcKind::Grpc);
        }
        let rest = strip_prefix_ci(rest, b"-web")?;
        if subtype_ends(rest) {
            return Some(GrpcKind::Web);
        }
        let rest = strip_prefix_ci(rest, b"-text")?;
        subtype_ends(rest).then_some(GrpcKind::WebText)
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            GrpcKind::Grpc => "application/grpc",
            GrpcKind::Web => "application/grpc-web",
            GrpcKind::WebText => "application/grpc-web-text",
        })
    }
}

fn strip_prefix_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// A gRPC status code (grpc/doc/statuscodes.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrpcCode(pub u8);

impl GrpcCode {
    /// The code a denial with this HTTP status becomes.
    pub fn for_status(status: StatusCode) -> GrpcCode {
        GrpcCode(match status.as_u16() {
            400 | 414 => 3,        // INVALID_ARGUMENT: the request itself is wrong
            401 | 302 => 16,       // UNAUTHENTICATED (a login redirect included)
            403 => 7,              // PERMISSION_DENIED
            404 | 405 | 501 => 12, // UNIMPLEMENTED: nothing serves this method here
            429 | 431 => 8,        // RESOURCE_EXHAUSTED: rate or metadata size
            502 | 503 => 14,       // UNAVAILABLE: retryable
            504 => 4,              // DEADLINE_EXCEEDED
            500 => 13,             // INTERNAL
            _ => 2,                // UNKNOWN
        })
    }

    /// The canonical upper-case name (metric label).
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "OK",
            2 => "UNKNOWN",
            3 => "INVALID_ARGUMENT",
            4 => "DEADLINE_EXCEEDED",
            7 => "PERMISSION_DENIED",
            8 => "RESOURCE_EXHAUSTED",
            12 => "UNIMPLEMENTED",
            13 => "INTERNAL",
            14 => "UNAVAILABLE",
            16 => "UNAUTHENTICATED",
            _ => "OTHER",
        }
    }
}

/// The trailers-only gRPC answer for `err` (the status `respond()` would have sent,
/// translated; the same challenge, so clients can still read how to authenticate).
pub(super) fn respond(
    err: &GatewayError,
    ctx: &ErrorContext<'_>,
    kind: GrpcKind,
) -> Response<Full<Bytes>> {
    let code = GrpcCode::for_status(err.status());
    let mut resp = Response::new(Full::new(Bytes::new()));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, kind.content_type());
    h.insert(GRPC_STATUS, HeaderValue::from(u16::from(code.0)));
    if let Ok(message) = HeaderValue::from_str(&percent_encode(err.message())) {
        h.insert(GRPC_MESSAGE, message);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(challenge) = challenge(err, ctx.realm, ctx.schemes, ctx.resource_metadata) {
        h.insert(WWW_AUTHENTICATE, challenge);
    }
    // The message sends the client to Retry-After; gRPC libraries read these fields
    // as metadata (the same fields as the HTTP 429).
    if let GatewayError::RateLimited(limited) = err {
        limited.write_fields(h);
    }
    resp
}

/// gRPC's Percent-Encoded: every byte outside 0x20–0x7E, and `%`, as `%XX`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
