//! Phase 2: request hygiene. Enforces header limits, strips hop-by-hop headers, every
//! identity header name the gateway may set (in every spelling), and client forwarding
//! metadata from untrusted peers; then sets fresh X-Forwarded-* and X-Request-Id.
//! It runs before anything reads a header, and never consults the route.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::transport::upstream::{Added, ReqBody};
use http::header::HOST;
use http::{HeaderValue, Request, Version};

use super::request_id::X_REQUEST_ID;
use super::ConnInfo;
use crate::error::GatewayError;
use crate::proxy::headers::{
    canonical_content_length, remove_hop_by_hop, set_forwarded, trusted, upgrade_protocol,
};
use crate::routing::{self, PathError};
use crate::runtime::Runtime;
use crate::transport::framing::MalformedFraming;

/// Whether the TCP peer is one of `server.trusted_proxies`.
pub fn peer_trusted(rt: &Runtime, peer: IpAddr) -> bool {
    trusted(peer, &rt.config.server.trusted_proxies)
}

/// 400 for a request whose framing fields the transport refused
/// (`transport::framing`): the connection ends after the answer.
pub fn check_framing<B>(req: &Request<B>) -> Result<(), GatewayError> {
    match req.extensions().get::<MalformedFraming>() {
        Some(m) => Err(GatewayError::BadRequest(m.0)),
        None => Ok(()),
    }
}

/// 431 past `max_header_bytes` (counted like HTTP/2's header list size: name + value +
/// 32 per field), so HTTP/1 and HTTP/2 get the same limit.
pub fn check_limits<B>(req: &Request<B>, max_header_bytes: usize) -> Result<(), GatewayError> {
    let mut total = 0usize;
    for (name, value) in req.headers() {
        total += name.as_str().len() + value.len() + 32;
        if total > max_header_bytes {
            return Err(GatewayError::HeadersTooLarge);
        }
    }
    Ok(())
}

/// Methods never forwarded (405, as nginx answers): TRACE and TRACK, which an upstream
/// answers by echoing the request as it received it, identity headers and credentials
/// the gateway added included (cross-site tracing); and CONNECT, which would turn a
/// pooled upstream connection into a tunnel (the gateway is no forward proxy).
pub fn check_method<B>(req: &Request<B>) -> Result<(), GatewayError> {
    match req.method().as_str() {
        "TRACE" => Err(GatewayError::MethodNotAllowed("TRACE")),
        "TRACK" => Err(GatewayError::MethodNotAllowed("TRACK")),
        "CONNECT" => Err(GatewayError::MethodNotAllowed("CONNECT")),
        _ => Ok(()),
    }
}

/// One Host, well formed, and the same host everywhere (RFC 9112 §3.2, RFC 9113
/// §8.3.1): 400 for an HTTP/1.1 request without Host, for several Host headers and for
/// a Host that is not `host[:port]`. A request that names its target's authority
/// (absolute form, HTTP/2 `:authority`) gets that authority as its Host, whatever Host
/// it sent: routing, `X-Forwarded-Host` and a `preserve_host` upstream all see the
/// same host, so a route chosen for one host can never reach the upstream as another.
pub fn check_host<B>(req: &mut Request<B>) -> Result<(), GatewayError> {
    let mut hosts = req.headers().get_all(HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(GatewayError::BadRequest("more than one Host header"));
    }
    if first.is_some_and(|h| !valid_host(h.as_bytes())) {
        return Err(GatewayError::BadRequest("invalid Host header"));
    }
    let named = match req.uri().authority() {
        Some(a) if !valid_host(a.as_str().as_bytes()) => {
            return Err(GatewayError::BadRequest("invalid request target authority"));
        }
        Some(a)
            if first.is_none_or(|h| !h.as_bytes().eq_ignore_ascii_case(a.as_str().as_bytes())) =>
        {
            HeaderValue::from_str(a.as_str()).ok()
        }
        Some(_) => None,
        None if first.is_none() && req.version() == Version::HTTP_11 => {
            return Err(GatewayError::BadRequest("missing Host header"));
        }
        None => None,
    };
    if let Some(host) = named {
        req.headers_mut().insert(HOST, host);
    }
    Ok(())
}

/// `uri-host [":" port]` with a reg-name of letters, digits, `-`, `.`, `_`, `~` or an
/// IP literal in brackets, and a numeric port; empty is allowed (RFC 9112 §3.2). No
/// userinfo, path, whitespace or percent-encoding.
fn valid_host(host: &[u8]) -> bool {
    let (name, port) = match host.first() {
        Some(b'[') => match host.iter().position(|&b| b == b']') {
            Some(end) => {
                let literal = &host[1..end];
                if literal.is_empty()
                    || !literal
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                {
                    return false;
                }
                match &host[end + 1..] {
                    [] => return true,
                    [b':', port @ ..] => (&[][..], port),
                    _ => return false,
                }
            }
            None => return false,
        },
        _ => match host.iter().position(|&b| b == b':') {
            Some(colon) => (&host[..colon], &host[colon + 1..]),
            None => (host, &[][..]),
        },
    };
    name.iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        && port.iter().all(u8::is_ascii_digit)
}

/// The request's path in the one form it is routed on and forwarded in
/// ([`crate::routing::request_path`] under `server.escaped_slashes`): 414 past the length
/// cap, 400 for anything else it refuses.
pub fn request_path<'p>(rt: &Runtime, raw: &'p str) -> Result<Cow<'p, str>, GatewayError> {
    routing::request_path(raw, rt.config.server.escaped_slashes).map_err(|e| match e {
        PathError::TooLong => GatewayError::UriTooLong,
        PathError::EscapedSlash => GatewayError::BadRequest("escaped '/' or '\\' in the path"),
        _ => GatewayError::BadRequest("invalid request path"),
    })
}

/// Strips what a client must not control, writes `Content-Length` in its canonical form
/// (400 when it is no plain decimal) and sets the forwarding metadata and request id
/// (into `added` where the map does not hold the name). Returns the requested upgrade
/// protocol (websocket…), which the forwarder re-adds for the upstream.
pub fn clean_request(
    rt: &Runtime,
    conn: &ConnInfo,
    peer_trusted: bool,
    request_id: &HeaderValue,
    req: &mut Request<ReqBody>,
    added: &mut Added,
) -> Result<Option<HeaderValue>, GatewayError> {
    let host = request_authority(req);
    let headers = req.headers_mut();
    let upgrade = upgrade_protocol(headers);
    let te_trailers = crate::transport::hop::te_trailers(headers);
    // A Content-Length sent beside Transfer-Encoding never gets here: hyper's server
    // drops it, and the own server leaves every request with either to hyper's.
    remove_hop_by_hop(headers);
    // Identity headers and look-alikes of the fields the gateway controls, in one pass.
    rt.identity_strip.strip(headers);
    canonical_content_length(headers)
        .map_err(|_| GatewayError::BadRequest("invalid Content-Length"))?;
    let proto = if conn.tls { "https" } else { "http" };
    // Not inserted into the map (hyper sized it for the fields it parsed; an insert
    // grows it, a rehash of every field): added, and written after the client's.
    set_forwarded(
        headers,
        added,
        conn.peer.ip(),
        peer_trusted,
        proto,
        host.as_ref(),
    );
    if headers.contains_key(X_REQUEST_ID) {
        headers.insert(X_REQUEST_ID, request_id.clone());
    } else {
        added.push(X_REQUEST_ID, request_id.clone());
    }
    if te_trailers {
        req.extensions_mut()
            .insert(crate::transport::hop::TeTrailers);
    }
    Ok(upgrade)
}

/// The host the client asked for: the absolute-form/HTTP-2 authority, else `Host`.
pub fn request_host<B>(req: &Request<B>) -> Option<&str> {
    match req.uri().authority() {
        Some(a) => Some(a.as_str()),
        None => req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok()),
    }
}

fn request_authority<B>(req: &Request<B>) -> Option<HeaderValue> {
    match req.uri().authority() {
        Some(a) => HeaderValue::from_str(a.as_str()).ok(),
        None => req.headers().get(http::header::HOST).cloned(),
    }
}

/// Whether the request is a browser navigation that may be answered with a login
/// redirect or an HTML page: GET/HEAD with `Sec-Fetch-Mode: navigate`, or, from clients
/// that don't send fetch metadata, an `Accept` that names `text/html`. XHR never is.
pub fn is_navigation<B>(req: &Request<B>) -> bool {
    navigation(req.method(), req.headers())
}

/// [`is_navigation`] for a request given as its method and fields (forward-auth applies
/// it to the original request a proxy describes).
pub fn navigation(method: &http::Method, headers: &http::HeaderMap) -> bool {
    if !(method == http::Method::GET || method == http::Method::HEAD) {
        return false;
    }
    // One pass over the fields, not a lookup (a name parse and a hash) per field name.
    let (mut requested_with, mut mode, mut html) = (None, None, false);
    for (name, value) in headers {
        if name == http::header::ACCEPT {
            html = html || value.to_str().is_ok_and(|s| s.contains("text/html"));
        } else if name == "sec-fetch-mode" {
            mode = mode.or(Some(value));
        } else if name == "x-requested-with" {
            requested_with = requested_with.or(Some(value));
        }
    }
    if requested_with.is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"xmlhttprequest")) {
        return false;
    }
    match mode {
        Some(mode) => mode.as_bytes() == b"navigate",
        None => html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: Version, uri: &str, hosts: &[&str]) -> Request<()> {
        let mut b = Request::builder().version(version).uri(uri);
        for h in hosts {
            b = b.header(HOST, *h);
        }
        b.body(()).expect("request")
    }

    fn hosts_after(mut r: Request<()>) -> Result<Vec<String>, GatewayError> {
        check_host(&mut r)?;
        Ok(r.headers()
            .get_all(HOST)
            .iter()
            .map(|h| h.to_str().unwrap_or("?").to_owned())
            .collect())
    }

    #[test]
    fn navigation_rule() {
        let nav = |method: &str, fields: &[(&str, &str)]| {
            let mut b = Request::builder().method(method).uri("/a");
            for (n, v) in fields {
                b = b.header(*n, *v);
            }
            b.body(()).is_ok_and(|r| is_navigation(&r))
        };
        let html = ("accept", "text/html,application/xhtml+xml");
        assert!(nav("GET", &[html]));
        assert!(nav("HEAD", &[("accept", "*/*"), html]), "any Accept line");
        assert!(!nav("GET", &[("accept", "application/json")]));
        assert!(!nav("GET", &[]));
        assert!(!nav("POST", &[html, ("sec-fetch-mode", "navigate")]));
        // Fetch metadata wins over Accept, either way; the first value counts.
        assert!(nav("GET", &[("sec-fetch-mode", "navigate")]));
        assert!(!nav("GET", &[html, ("sec-fetch-mode", "cors")]));
        assert!(!nav(
            "GET",
            &[("sec-fetch-mode", "cors"), ("sec-fetch-mode", "navigate")]
        ));
        assert!(!nav("GET", &[html, ("x-requested-with", "xmlhttprequest")]));
        assert!(!nav(
            "GET",
            &[
                ("sec-fetch-mode", "navigate"),
                ("X-Requested-With", "XMLHttpRequest")
            ]
        ));
        assert!(nav("GET", &[html, ("x-requested-with", "other")]));
    }

    #[test]
    fn well_formed_hosts_pass() {
        for h in [
            "example.com",
            "EXAMPLE.com:8080",
            "a-b.c_d~e",
            "127.0.0.1:80",
            "[::1]",
            "[2001:db8::1]:443",
            "host:",
            "",
        ] {
            assert!(valid_host(h.as_bytes()), "{h:?}");
        }
    }

    #[test]
    fn malformed_hosts_are_refused() {
        for h in [
            "a b",
            "x/y",
            "admin@pub",
            "pub:abc",
            "pub:80:80",
            "pub\\evil",
            "%70ub",
            "pub?x",
            "pub#x",
            "[::1",
            "[]",
            "[::1]x",
            "[::1]:8o",
            "[fe80::1%25eth0]",
            "ex\u{e4}mple",
        ] {
            assert!(!valid_host(h.as_bytes()), "{h:?}");
        }
    }

    #[test]
    fn one_valid_host_is_kept() {
        let r = req(Version::HTTP_11, "/a", &["pub.example"]);
        assert_eq!(hosts_after(r).ok(), Some(vec!["pub.example".to_owned()]));
    }

    #[test]
    fn several_hosts_a_bad_host_or_none_in_http_1_1_are_400() {
        for r in [
            req(Version::HTTP_11, "/a", &["pub.example", "admin.example"]),
            req(Version::HTTP_11, "/a", &["pub.example", "pub.example"]),
            req(Version::HTTP_11, "/a", &["admin@pub.example"]),
            req(Version::HTTP_11, "/a", &[]),
            req(Version::HTTP_11, "http://user@pub.example/a", &[]),
        ] {
            assert!(matches!(hosts_after(r), Err(GatewayError::BadRequest(_))));
        }
        // HTTP/1.0 may omit Host.
        assert_eq!(
            hosts_after(req(Version::HTTP_10, "/a", &[])).ok(),
            Some(vec![])
        );
    }

    #[test]
    fn the_target_authority_replaces_a_different_host() {
        // Absolute form (HTTP/1.1) and :authority (HTTP/2): the host the request is
        // routed on is the host the upstream gets.
        for version in [Version::HTTP_11, Version::HTTP_2] {
            let r = req(version, "http://pub.example/a", &["admin.example"]);
            assert_eq!(hosts_after(r).ok(), Some(vec!["pub.example".to_owned()]));
            let r = req(version, "http://pub.example/a", &[]);
            assert_eq!(hosts_after(r).ok(), Some(vec!["pub.example".to_owned()]));
            let r = req(version, "http://pub.example/a", &["PUB.example"]);
            assert_eq!(hosts_after(r).ok(), Some(vec!["PUB.example".to_owned()]));
        }
    }
}
