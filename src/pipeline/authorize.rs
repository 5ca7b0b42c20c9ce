//! Phase 6: authorization. Applies the route's `allow` rules to the principal and maps a
//! refusal to the matching `GatewayError` (403, or 403 insufficient_scope).

use crate::auth::policy::{self, Denied};
use crate::auth::principal::Principal;
use crate::error::GatewayError;
use crate::runtime::RouteRuntime;

/// `Ok` when the route's policy admits the principal.
pub fn authorize(route: &RouteRuntime, principal: &Principal) -> Result<(), GatewayError> {
    policy::authorize(&route.config.allow, principal).map_err(|d| match d {
        Denied::InsufficientScope(scopes) => GatewayError::InsufficientScope(scopes),
        Denied::Forbidden(rule) => GatewayError::Forbidden(rule),
    })
}
