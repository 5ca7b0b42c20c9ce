//! Signed identity assertions: what lets an upstream *prove* a request came through the
//! gateway and who it was for. Owns the signing keys (`keys.rs`), their rotation across
//! time and reloads (`ring.rs`), the per-route assertion and its cache (`sign.rs`) and
//! the public JWKS document.
//!
//! Must never publish or log a private key, never sign with a key before it was
//! published for its overlap (unless no other key exists), and never let a client's own
//! copy of the assertion header through (hygiene strips it; see `IdentityHeaderSet`).

pub mod keys;
pub mod ring;
pub mod sign;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response};
use http_body_util::Full;

pub use ring::KeyRing;
pub use sign::{AssertionError, AssertionMetrics, RouteAssertion};

/// Where the JWKS is served besides `<proxy_prefix>/jwks` (outside the prefix, so
/// verifiers find it at a fixed place).
pub const WELL_KNOWN_JWKS: &str = "/.well-known/portcullis/jwks.json";

/// The JWKS response: the published keys, cacheable for the ring's max-age.
pub fn jwks_response(ring: &KeyRing, now: u64) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(ring.jwks(now))));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let cache = format!("public, max-age={}", ring.max_age());
    if let Ok(v) = HeaderValue::from_str(&cache) {
        h.insert(CACHE_CONTROL, v);
    }
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
