//! Hop-by-hop fields (RFC 9110 §7.6.1): the connection-level fields of HTTP/1 that
//! never travel past one hop, in either direction. Used by the upstream codec as it
//! takes a response head in, and by the gateway's forwarding rules (`proxy::headers`) as
//! it cleans a request; never by anything that decides what a request may do.

use http::header::{HeaderMap, HeaderName, HOST};

pub use http::header::{
    CONNECTION, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRANSFER_ENCODING, UPGRADE,
};

/// `Keep-Alive` (RFC 9112 §9.3; not in `http::header`).
pub const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// `Proxy-Connection`: non-standard, still sent by old clients.
pub const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// `X-Request-Id`: the gateway answers every request with its own (the upstream codec
/// leaves an upstream's out of heads and trailers).
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How many names [`HOP_BY_HOP`] holds.
pub const HOP_BY_HOP_COUNT: usize = 10;

/// Hop-by-hop headers (RFC 9110 §7.6.1 plus de-facto ones); never forwarded either way.
///
/// `Trailer` is not among them: it is end-to-end (RFC 9110 §6.6.2), and a response
/// that declares its trailer fields must keep it for an HTTP/1 client to get them
/// (hyper's server sends only declared trailers). Request trailers are never forwarded,
/// so the upstream request writers leave a request's `Trailer` out themselves.
///
/// `Expect` is among them: the gateway answers `100-continue` itself (hyper sends the
/// interim response when the body is first read) and streams the body upstream without
/// waiting. Forwarded, it would invite an upstream to answer early, skip the body and
/// read it as the next request on the connection.
pub static HOP_BY_HOP: [HeaderName; HOP_BY_HOP_COUNT] = [
    CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRANSFER_ENCODING,
    UPGRADE,
    http::header::EXPECT,
    HTTP2_SETTINGS,
];

/// The settings of an `h2c` upgrade: connection-specific (RFC 7540 §3.2.1), never
/// forwarded.
const HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Comma-separated tokens of every `Connection` header, trimmed, empty ones skipped.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

/// The position of a header name (any case, as it came off the wire) in [`HOP_BY_HOP`]:
/// only names of the same length are compared.
pub fn hop_by_hop_index(name: &[u8]) -> Option<usize> {
    HOP_BY_HOP_NAMES
        .iter()
        .position(|h| h.len() == name.len() && name.eq_ignore_ascii_case(h.as_bytes()))
}

/// The names of [`HOP_BY_HOP`], in its order.
const HOP_BY_HOP_NAMES: [&str; HOP_BY_HOP_COUNT] = [
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

/// `Connection`'s position in [`HOP_BY_HOP`].
pub const CONNECTION_INDEX: usize = 0;

/// Whether a (lower-case) header name is hop-by-hop ([`HOP_BY_HOP`]).
pub fn is_hop_by_hop(name: &str) -> bool {
    hop_by_hop_index(name.as_bytes()).is_some()
}

/// Whether a `Connection` value names a header beyond the hop-by-hop ones (and `close`),
/// which must then be removed too.
pub fn names_other_headers(connection: &[u8]) -> bool {
    connection
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .any(names_other)
}

/// Whether one trimmed `Connection` token names a header [`remove_hop_by_hop`] would not
/// remove anyway.
fn names_other(token: &[u8]) -> bool {
    !token.is_empty()
        && !token.eq_ignore_ascii_case(b"close")
        && !token.eq_ignore_ascii_case(b"keep-alive")
        && !HOP_BY_HOP
            .iter()
            .any(|h| token.eq_ignore_ascii_case(h.as_str().as_bytes()))
}

/// [`remove_hop_by_hop`] on an upstream response, refusing one framed by both
/// `Transfer-Encoding` and `Content-Length` (as nginx does): forwarded with its length it
/// would desynchronise the client connection (response splitting).
pub fn clean_response(headers: &mut HeaderMap) -> Result<(), &'static str> {
    if remove_hop_by_hop(headers) && headers.contains_key(http::header::CONTENT_LENGTH) {
        return Err("both Transfer-Encoding and Content-Length");
    }
    Ok(())
}

/// Removes hop-by-hop headers and every header named in `Connection` (case-insensitive;
/// invalid names ignored). Use on requests before anything is added, and on responses.
///
/// `Host` is never removed this way: it is end-to-end and `preserve_host` needs it.
///
/// Returns whether `Transfer-Encoding` was among them: it framed the message, so a
/// `Content-Length` beside it is a smuggling attempt, never to be forwarded (RFC 9112
/// §6.3); the caller decides what to do with such a message.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) -> bool {
    // One pass over the names present (usually a handful) notes which hop-by-hop names
    // occur; no allocation unless `Connection` lists a name beyond those (rare).
    let mut present = [false; HOP_BY_HOP_COUNT];
    let mut any = false;
    for key in headers.keys() {
        if let Some(i) = hop_by_hop_index(key.as_str().as_bytes()) {
            present[i] = true;
            any = true;
        }
    }
    if !any {
        return false;
    }
    let mut listed: Vec<HeaderName> = Vec::new();
    for token in connection_tokens(headers).filter(|t| names_other(t)) {
        if let Ok(name) = HeaderName::from_bytes(token) {
            if name != HOST {
                listed.push(name);
            }
        }
    }
    for (name, _) in HOP_BY_HOP.iter().zip(present).filter(|(_, p)| *p) {
        headers.remove(name);
    }
    for name in listed {
        headers.remove(name);
    }
    present[TRANSFER_ENCODING_INDEX]
}

/// A request extension: the client sent `TE: trailers`. TE is hop-by-hop and removed
/// with the rest, but "trailers" is the one value HTTP/2 allows (RFC 9113 §8.2.2), and
/// gRPC servers refuse a call without it: an HTTP/2 upstream request carries it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeTrailers;

/// Whether a `TE` field of `headers` lists the `trailers` token (any case, any place in
/// the list, parameters ignored).
pub fn te_trailers(headers: &HeaderMap) -> bool {
    headers
        .get_all(TE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| {
            let name = t.split(|&b| b == b';').next().unwrap_or_default();
            name.trim_ascii().eq_ignore_ascii_case(b"trailers")
        })
}

/// Where `Transfer-Encoding` stands in [`HOP_BY_HOP`].
pub const TRANSFER_ENCODING_INDEX: usize = 6;
/// Where `Upgrade` stands in [`HOP_BY_HOP`].
pub const UPGRADE_INDEX: usize = 7;

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn te_trailers_is_found_in_any_te_list() {
        let te = |values: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(TE, HeaderValue::from_static(v));
            }
            te_trailers(&h)
        };
        assert!(te(&["trailers"]));
        assert!(te(&["Trailers"]));
        assert!(te(&["gzip;q=0.5, trailers"]));
        assert!(te(&["deflate", " trailers ;q=1"]));
        assert!(!te(&[]));
        assert!(!te(&["gzip"]));
        assert!(!te(&["trailersx", "x-trailers", "trai lers"]));
        assert!(!te(&[""]));
    }
}
