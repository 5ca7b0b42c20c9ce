//! Header hygiene at the trust boundary: hop-by-hop removal, identity-header stripping and
//! fresh forwarding metadata (`X-Forwarded-*`).
//!
//! Owns the header-name constants and the policy of which client headers are dropped or
//! rewritten. Pure functions over `http::HeaderMap`; must never decide a status code, never
//! log header values (they may hold credentials), and never allocate when there is nothing
//! to remove.

use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::config::model::RouteConfig;

pub use http::header::{FORWARDED, HOST, TRAILER};

pub use crate::transport::hop::{
    clean_response, hop_by_hop_index, is_hop_by_hop, names_other_headers, remove_hop_by_hop,
    CONNECTION, CONNECTION_INDEX, HOP_BY_HOP, HOP_BY_HOP_COUNT, KEEP_ALIVE, PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION, PROXY_CONNECTION, TE, TRANSFER_ENCODING, TRANSFER_ENCODING_INDEX, UPGRADE,
    UPGRADE_INDEX, X_REQUEST_ID,
};
/// `X-Forwarded-For`: client address chain.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`: scheme the client used.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Host`: Host the client asked for.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Real-IP`: single client address (nginx convention).
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
/// `X-Auth-User`: default identity header (username).
pub const X_AUTH_USER: HeaderName = HeaderName::from_static("x-auth-user");
/// `X-Auth-Email`: default identity header (email).
pub const X_AUTH_EMAIL: HeaderName = HeaderName::from_static("x-auth-email");
/// `X-Auth-Groups`: default identity header (groups, comma-joined).
pub const X_AUTH_GROUPS: HeaderName = HeaderName::from_static("x-auth-groups");
/// `X-Auth-Subject`: default identity header (`sub`).
pub const X_AUTH_SUBJECT: HeaderName = HeaderName::from_static("x-auth-subject");

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
pub use forwarded::{client_ip, set_forwarded, trusted};

mod length;
pub use length::{canonical_content_length, InvalidContentLength};

mod lookalike;

#[cfg(test)]
mod tests;
