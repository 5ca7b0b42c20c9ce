//! Phase 7: identity headers. Sets the route's verified identity headers from the
//! principal (client-sent ones were already stripped by hygiene), decides whether the
//! client's Authorization header travels on (or the session's access token replaces it),
//! and removes the gateway's own cookies so they never reach the upstream.

use crate::transport::upstream::ReqBody;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};

use super::authenticate::Authenticated;
use crate::config::AuthMode;
use crate::runtime::{RouteRuntime, Runtime};
use crate::session::cookie::strip_own_cookies;

/// Applies the route's identity policy to the outgoing request.
pub fn apply(
    rt: &Runtime,
    route: &RouteRuntime,
    auth: Option<&Authenticated>,
    req: &mut Request<ReqBody>,
) {
    let headers = req.headers_mut();
    if let Some(sso) = &rt.sso {
        strip_own_cookies(headers, sso.names.base());
    }
    if route.config.auth != AuthMode::None && !route.config.forward_authorization {
        headers.remove(AUTHORIZATION);
    }
    let Some(a) = auth else {
        // A public path of a route that checks bearer tokens: a token of its schemes
        // passed on here was never checked, yet the upstream may trust the route to
        // have checked every one it sees.
        if matches!(route.config.auth, AuthMode::Bearer | AuthMode::Any) {
            remove_token_credentials(headers, rt.accepted_schemes(route));
        }
        return;
    };
    route.identity.apply(&a.principal, headers);
    if route.config.pass_access_token {
        if let Some(token) = &a.session_access_token {
            if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}")) {
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
        }
    }
}

/// Removes `Authorization` values whose scheme is one of `schemes` (any case).
fn remove_token_credentials(headers: &mut http::HeaderMap, schemes: &[String]) {
    let is_token = |v: &HeaderValue| {
        let scheme = v.as_bytes().trim_ascii_start();
        // The scheme ends at any whitespace: upstreams that split on it read
        // `Bearer<TAB>token` as a bearer token too.
        let scheme = scheme
            .split(|&b| b == b' ' || b == b'\t')
            .next()
            .unwrap_or_default();
        schemes
            .iter()
            .any(|s| s.as_bytes().eq_ignore_ascii_case(scheme))
    };
    if headers.get_all(AUTHORIZATION).iter().any(is_token) {
        headers.remove(AUTHORIZATION);
    }
}
