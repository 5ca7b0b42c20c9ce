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
    // An API key never travels on; on a public path of a route that checks tokens, a
    // token of its schemes was never checked, yet the upstream may trust the route to
    // have checked every one it sees.
    super::machine::strip_credentials(rt, route, headers, auth.is_some());
    let Some(a) = auth else {
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
