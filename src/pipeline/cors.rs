//! CORS for routes with `cors`: the preflight answer (phase 4b: after routing, before
//! authentication, never forwarded) and the fields every other response of the route
//! carries (applied by the response phase, `respond::finish`).
//!
//! The gateway owns the Access-Control-* fields of such a route: the upstream's are
//! removed, never merged. It never reflects an origin `CorsConfig::allows_origin` has not
//! matched, and a refused preflight carries no CORS field at all. Status codes come from
//! `error::respond` (`GatewayError::CorsRefused` → 403).

use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, RETRY_AFTER, VARY,
    WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;

use super::ResBody;
use crate::config::model::cors::CorsConfig;
use crate::error::{GatewayError, GRPC_MESSAGE, GRPC_STATUS};
use crate::metrics::Metrics;

/// Private Network Access: the preflight asks for access to a more private network.
pub const ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");
/// Private Network Access: the answer that grants it.
pub const ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");
/// IETF RateLimit fields (set by the rate limiter on 429s), exposed on denials.
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// IETF RateLimit-Policy field, exposed on denials.
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Upstream fields the gateway replaces on a route with `cors`.
const OWNED: [HeaderName; 7] = [
    ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_ALLOW_CREDENTIALS,
    ACCESS_CONTROL_EXPOSE_HEADERS,
    ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK,
];
/// Fields of the gateway's own denials that say why; a page may read them.
const DENIAL_FIELDS: [HeaderName; 6] = [
    WWW_AUTHENTICATE,
    RETRY_AFTER,
    GRPC_STATUS,
    GRPC_MESSAGE,
    RATELIMIT,
    RATELIMIT_POLICY,
];
/// More requested header names than any real page sends: refused, bounding the work.
const MAX_REQUESTED_HEADERS: usize = 64;
/// What a preflight answer varies with.
const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
/// The same, for routes that answer Private Network Access preflights.
const PREFLIGHT_VARY_PNA: &str = "Origin, Access-Control-Request-Method, \
     Access-Control-Request-Headers, Access-Control-Request-Private-Network";

/// Marks a response whose CORS fields are final (a preflight answer, allowed or
/// refused): the response phase adds none.
#[derive(Debug, Clone, Copy)]
pub struct Answered;

/// `OPTIONS` with `Origin` and `Access-Control-Request-Method` (Fetch §4.8).
pub fn is_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(ORIGIN)
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// Answers a preflight for `route`: 204 with the CORS fields, or `CorsRefused` (403,
/// no CORS field). Counted per route and result.
pub fn preflight(
    metrics: &Metrics,
    route: &str,
    cors: &CorsConfig,
    headers: &HeaderMap,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    let result = answer(cors, headers);
    let label = if result.is_ok() { "allowed" } else { "refused" };
    metrics
        .cors_preflights
        .with_label_values(&[route, label])
        .inc();
    result
}

fn answer(cors: &CorsConfig, headers: &HeaderMap) -> Result<Response<Full<Bytes>>, GatewayError> {
    let origin = headers
        .get(ORIGIN)
        .filter(|o| cors.allows_origin(o.as_bytes()))
        .ok_or(GatewayError::CorsRefused("origin"))?;
    let method_ok = headers
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .is_some_and(|m| cors.allows_method(m.as_bytes()));
    if !method_ok {
        return Err(GatewayError::CorsRefused("method"));
    }
    let requested = requested_headers(cors, headers).ok_or(GatewayError::CorsRefused("headers"))?;
    let private_network = headers
        .get(ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    if private_network && !cors.allow_private_network {
        return Err(GatewayError::CorsRefused("private_network"));
    }
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp.extensions_mut().insert(Answered);
    let h = resp.headers_mut();
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, cors.allow_origin_value(origin));
    if cors.allow_credentials {
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, cors.methods_value.clone());
    if let Some(names) = requested {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, names);
    }
    if let Some(age) = &cors.max_age_value {
        h.insert(ACCESS_CONTROL_MAX_AGE, age.clone());
    }
    if private_network {
        h.insert(
            ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK,
            HeaderValue::from_static("true"),
        );
    }
    let vary = if cors.allow_private_network {
        PREFLIGHT_VARY_PNA
    } else {
        PREFLIGHT_VARY
    };
    h.insert(VARY, HeaderValue::from_static(vary));
    Ok(resp)
}

/// The requested header names (every `Access-Control-Request-Headers` line), each
/// allowed: `Some(None)` when none were asked for, `Some(Some(names))` to name back,
/// `None` when one is not allowed, not a token, or there are too many.
fn requested_headers(cors: &CorsConfig, headers: &HeaderMap) -> Option<Option<HeaderValue>> {
    let mut names = String::new();
    let mut count = 0usize;
    for line in headers.get_all(ACCESS_CONTROL_REQUEST_HEADERS) {
        let line = line.to_str().ok()?;
        for name in line.split(',').map(|n| n.trim_matches([' ', '\t'])) {
            if name.is_empty() {
                continue;
            }
            count += 1;
            if count > MAX_REQUESTED_HEADERS || !is_token(name) || !cors.allows_header(name) {
                return None;
            }
            if !names.is_empty() {
                names.push_str(", ");
            }
            names.extend(name.chars().map(|c| c.to_ascii_lowercase()));
        }
    }
    if names.is_empty() {
        return Some(None);
    }
    HeaderValue::from_str(&names).ok().map(Some)
}

fn is_token(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The response side, for every response of a route with `cors` except preflight
/// answers: the upstream's Access-Control-* fields go, `Vary: Origin` is added, and an
/// allowed origin gets Allow-Origin, Allow-Credentials and Expose-Headers (on the
/// gateway's own denials also the fields that explain them).
pub fn apply(
    cors: &CorsConfig,
    origin: Option<&HeaderValue>,
    resp: &mut Response<ResBody>,
    from_upstream: bool,
) {
    if resp.extensions().get::<Answered>().is_some() {
        return;
    }
    let h = resp.headers_mut();
    // One pass over the names present (a remove per owned name would hash and probe
    // seven names on every response); most upstreams send none of them.
    if from_upstream && h.keys().any(|k| OWNED.contains(k)) {
        for name in OWNED {
            h.remove(name);
        }
    }
    add_vary_origin(h);
    let Some(origin) = origin.filter(|o| cors.allows_origin(o.as_bytes())) else {
        return;
    };
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, cors.allow_origin_value(origin));
    if cors.allow_credentials {
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    let expose = if from_upstream || cors.expose_headers.iter().any(|e| e == "*") {
        cors.expose_value.clone()
    } else {
        denial_expose(cors, h)
    };
    if let Some(expose) = expose {
        h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose);
    }
}

/// The configured names plus those of [`DENIAL_FIELDS`] the response carries.
fn denial_expose(cors: &CorsConfig, h: &HeaderMap) -> Option<HeaderValue> {
    let mut names: Vec<&str> = cors.expose_headers.iter().map(String::as_str).collect();
    let fields = DENIAL_FIELDS;
    for field in fields.iter().filter(|f| h.contains_key(*f)) {
        if !names.contains(&field.as_str()) {
            names.push(field.as_str());
        }
    }
    if names.is_empty() {
        return None;
    }
    HeaderValue::from_str(&names.join(", ")).ok()
}

/// Adds `Origin` to `Vary` unless a `Vary` line already names it (or `*`).
fn add_vary_origin(h: &mut HeaderMap) {
    let named = h.get_all(VARY).iter().any(|v| {
        v.as_bytes().split(|b| *b == b',').any(|item| {
            let item = item.trim_ascii();
            item.eq_ignore_ascii_case(b"origin") || item == b"*"
        })
    });
    if !named {
        h.append(VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests;
