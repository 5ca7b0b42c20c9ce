//! Phase 2: request hygiene. Enforces header limits, strips hop-by-hop headers, every
//! identity header name the gateway may set (in every spelling), and client forwarding
//! metadata from untrusted peers; then sets fresh X-Forwarded-* and X-Request-Id.
//! It runs before anything reads a header, and never consults the route.

use std::net::IpAddr;

use http::{HeaderValue, Request};
use hyper::body::Incoming;

use super::request_id::X_REQUEST_ID;
use super::ConnInfo;
use crate::error::GatewayError;
use crate::proxy::headers::{remove_hop_by_hop, set_forwarded, trusted, upgrade_protocol};
use crate::runtime::Runtime;

/// Whether the TCP peer is one of `server.trusted_proxies`.
pub fn peer_trusted(rt: &Runtime, peer: IpAddr) -> bool {
    trusted(peer, &rt.config.server.trusted_proxies)
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

/// Strips what a client must not control and sets the forwarding metadata. Returns the
/// requested upgrade protocol (websocket…), which the forwarder re-adds for the upstream.
pub fn clean_request(
    rt: &Runtime,
    conn: &ConnInfo,
    peer_trusted: bool,
    request_id: &HeaderValue,
    req: &mut Request<Incoming>,
) -> Option<HeaderValue> {
    let host = request_authority(req);
    let headers = req.headers_mut();
    let upgrade = upgrade_protocol(headers);
    // hyper's server has already dropped a Content-Length sent beside Transfer-Encoding.
    remove_hop_by_hop(headers);
    rt.identity_strip.strip(headers);
    let proto = if conn.tls { "https" } else { "http" };
    // Room for X-Forwarded-For/-Proto/-Host and X-Request-Id: hyper sizes the map for
    // the headers it parsed, so these would otherwise grow it one step at a time.
    headers.reserve(4);
    set_forwarded(headers, conn.peer.ip(), peer_trusted, proto, host.as_ref());
    headers.insert(X_REQUEST_ID, request_id.clone());
    upgrade
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
    use http::Method;
    if !(req.method() == Method::GET || req.method() == Method::HEAD) {
        return false;
    }
    let h = req.headers();
    if h.get("x-requested-with")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"xmlhttprequest"))
    {
        return false;
    }
    match h.get("sec-fetch-mode") {
        Some(mode) => mode.as_bytes() == b"navigate",
        None => h
            .get_all(http::header::ACCEPT)
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.contains("text/html"))),
    }
}
