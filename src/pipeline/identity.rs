//! Phase 7: identity headers. Sets the route's verified identity headers from the
//! principal (client-sent ones were already stripped by hygiene) and decides whether the
//! client's Authorization header travels on.

use http::header::AUTHORIZATION;
use http::Request;
use hyper::body::Incoming;

use crate::auth::principal::Principal;
use crate::config::AuthMode;
use crate::runtime::RouteRuntime;

/// Applies the route's identity policy to the outgoing request.
pub fn apply(route: &RouteRuntime, principal: Option<&Principal>, req: &mut Request<Incoming>) {
    if route.config.auth != AuthMode::None && !route.config.forward_authorization {
        req.headers_mut().remove(AUTHORIZATION);
    }
    if let Some(p) = principal {
        route.identity.apply(p, req.headers_mut());
    }
}
