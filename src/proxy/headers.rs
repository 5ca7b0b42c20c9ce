//! Header hygiene at the trust boundary: hop-by-hop removal, identity-header stripping and
//! fresh forwarding metadata (`X-Forwarded-*`).
//!
//! Owns the header-name constants and the policy of which client headers are dropped or
//! rewritten. Pure functions over `http::HeaderMap`; must never decide a status code, never
//! log header values (they may hold credentials), and never allocate when there is nothing
//! to remove.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::model::RouteConfig;

pub use http::header::{
    CONNECTION, FORWARDED, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE,
};

/// `Keep-Alive` (RFC 9112 §9.3; not in `http::header`).
pub const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// `Proxy-Connection`: non-standard, still sent by old clients.
pub const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// `X-Forwarded-For`: client address chain.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: scheme the client used.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: Host the client asked for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Real-IP`: single client address (nginx convention).
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
/// `X-Request-Id`: correlation id on every request and response.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-Auth-User`: default identity header (username).
pub const X_AUTH_USER: HeaderName = HeaderName::from_static("x-auth-user");
/// `X-Auth-Email`: default identity header (email).
pub const X_AUTH_EMAIL: HeaderName = HeaderName::from_static("x-auth-email");
/// `X-Auth-Groups`: default identity header (groups, comma-joined).
pub const X_AUTH_GROUPS: HeaderName = HeaderName::from_static("x-auth-groups");
/// `X-Auth-Subject`: default identity header (`sub`).
pub const X_AUTH_SUBJECT: HeaderName = HeaderName::from_static("x-auth-subject");

/// How many names [`HOP_BY_HOP`] holds.
pub const HOP_BY_HOP_COUNT: usize = 11;

/// Hop-by-hop headers (RFC 9110 §7.6.1 plus de-facto ones); never forwarded either way.
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
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
    http::header::EXPECT,
    HTTP2_SETTINGS,
];

/// The settings of an `h2c` upgrade: connection-specific (RFC 7540 §3.2.1), never
/// forwarded.
const HTTP2_SETTINGS: HeaderName = HeaderName::from_static("http2-settings");

/// Identity header names stripped on every request even when no route sets them: ours
/// plus those of oauth2-proxy and other SSO gateways and cloud front ends (AWS ALB,
/// Google IAP, Azure App Service, Pomerium, Apache), which upstreams moved behind
/// portcullis often still trust; and the path overrides IIS and Symfony honour
/// (`X-Original-URL`, `X-Rewrite-URL`), which would defeat path-based routes; and the
/// gateway's own identity assertion under its default name.
pub const WELL_KNOWN_IDENTITY_HEADERS: [&str; 31] = [
    "x-auth-user",
    "x-auth-email",
    "x-auth-groups",
    "x-auth-subject",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-auth-request-preferred-username",
    "x-auth-request-access-token",
    "remote-user",
    "x-remote-user",
    "x-webauth-user",
    "x-authenticated-user",
    "x-amzn-oidc-identity",
    "x-amzn-oidc-data",
    "x-amzn-oidc-accesstoken",
    "x-goog-authenticated-user-email",
    "x-goog-authenticated-user-id",
    "x-goog-iap-jwt-assertion",
    "x-ms-client-principal",
    "x-ms-client-principal-id",
    "x-ms-client-principal-name",
    "x-pomerium-jwt-assertion",
    "x-original-url",
    "x-rewrite-url",
    "x-portcullis-assertion",
];

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
    "trailer",
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

/// Where `Transfer-Encoding` stands in [`HOP_BY_HOP`].
pub const TRANSFER_ENCODING_INDEX: usize = 7;

/// The `Upgrade` value when the request asks for a switch to WebSocket (`Connection` holds
/// the `upgrade` token and exactly one `Upgrade` header names `websocket`, any case, RFC
/// 6455 §4.1). Read it BEFORE [`remove_hop_by_hop`], then re-add `Connection: upgrade`
/// and `Upgrade: <value>`. Any other protocol is no upgrade: the request goes on as a
/// plain one without the fields. A tunnel of another protocol would carry requests the
/// gateway never sees: `h2c` (HTTP/2 streams to any path of the upstream, past routing
/// and authentication: the h2c smuggling of Traefik and YARP advisories).
pub fn upgrade_protocol(headers: &HeaderMap) -> Option<HeaderValue> {
    if !connection_tokens(headers).any(|t| t.eq_ignore_ascii_case(b"upgrade")) {
        return None;
    }
    let mut values = headers.get_all(UPGRADE).iter();
    match (values.next(), values.next()) {
        (Some(v), None) if v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"websocket") => {
            Some(v.clone())
        }
        _ => None,
    }
}

/// Every header name the gateway may set as identity, normalised (lower-case, `_` → `-`),
/// with its skeleton (letters and digits, see `lookalike`), so [`strip`](Self::strip)
/// removes client-forged copies in any spelling a CGI/PHP/lighttpd upstream reads as
/// the same name (`X_Auth_User`, `X.Auth.User`, `x~auth~user`, `XAuthUser`).
#[derive(Debug, Clone)]
pub struct IdentityHeaderSet {
    names: Vec<HeaderName>,
    skeletons: Vec<Box<[u8]>>,
    /// `lookalike::length_mask` of the skeletons.
    lengths: u64,
}

impl IdentityHeaderSet {
    /// The set of `names` plus [`WELL_KNOWN_IDENTITY_HEADERS`]. Pass every identity header
    /// any route may set (and the assertion header, if any).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a HeaderName>) -> Self {
        let mut set: Vec<HeaderName> = Vec::new();
        let well_known = WELL_KNOWN_IDENTITY_HEADERS.iter().map(|s| s.as_bytes());
        for raw in well_known.chain(names.into_iter().map(|n| n.as_str().as_bytes())) {
            let mapped: Vec<u8> = raw
                .iter()
                .map(|&b| if b == b'_' { b'-' } else { b })
                .collect();
            if let Ok(name) = HeaderName::from_bytes(&mapped) {
                if !set.contains(&name) {
                    set.push(name);
                }
            }
        }
        let mut skeletons: Vec<Box<[u8]>> = Vec::new();
        for name in &set {
            let skel = lookalike::skeleton(name.as_str().as_bytes());
            // An empty skeleton (a name of separators only) would match every such name.
            if !skel.is_empty() && !skeletons.contains(&skel) {
                skeletons.push(skel);
            }
        }
        let lens: Vec<usize> = skeletons.iter().map(|s| s.len()).collect();
        IdentityHeaderSet {
            names: set,
            lengths: lookalike::length_mask(&lens),
            skeletons,
        }
    }

    /// The set for a whole configuration: every route's `identity_headers` names and
    /// identity-assertion header.
    pub fn for_routes(routes: &[RouteConfig]) -> Self {
        Self::new(routes.iter().flat_map(|r| {
            let assertion = r.identity_assertion.as_ref().map(|a| &a.header);
            r.identity_headers.iter().map(|(n, _)| n).chain(assertion)
        }))
    }

    /// Whether `name` reads as an identity header (same skeleton: any case, any bytes
    /// between its letters and digits).
    pub fn contains(&self, name: &str) -> bool {
        let name = name.as_bytes();
        self.contains_skeleton(name, lookalike::skeleton_len(name))
    }

    fn contains_skeleton(&self, name: &[u8], len: usize) -> bool {
        lookalike::may_hold(self.lengths, len)
            && self
                .skeletons
                .iter()
                .any(|s| s.len() == len && lookalike::skeleton_eq(name, s))
    }

    /// Removes every identity header in any spelling (`X-Auth-User`, `x_auth_user`,
    /// `X.Auth.User`), and every look-alike of a name the gateway controls
    /// (`Content_Length`, `X.Forwarded.For`, see `lookalike`). Call before the verified
    /// identity headers are set.
    pub fn strip(&self, headers: &mut HeaderMap) {
        // One pass over the names present (usually a handful), one count of each name's
        // letters and digits, and mostly a bit test per set; a forged name is rare, so
        // collect only on a hit.
        let mut forged: Vec<HeaderName> = Vec::new();
        for key in headers.keys() {
            let k = key.as_str().as_bytes();
            let len = lookalike::skeleton_len(k);
            if self.contains_skeleton(k, len) || lookalike::is_controlled_lookalike(k, len) {
                forged.push(key.clone());
            }
        }
        for name in forged {
            headers.remove(name);
        }
    }

    /// The normalised names in the set.
    pub fn names(&self) -> &[HeaderName] {
        &self.names
    }
}

mod forwarded;
#[cfg(test)]
use forwarded::write_ipv4;
pub use forwarded::{set_forwarded, trusted};

mod length;
pub use length::{canonical_content_length, InvalidContentLength};

mod lookalike;

#[cfg(test)]
mod tests;
