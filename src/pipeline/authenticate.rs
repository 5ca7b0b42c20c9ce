//! Phase 5: authentication. Decides, per the route's `auth` mode and public paths,
//! which credential to read and turns it into a `Principal`. It never sets headers and
//! never decides a status code.

use http::Request;
use hyper::body::Incoming;

use crate::auth::principal::Principal;
use crate::auth::AuthError;
use crate::config::AuthMode;
use crate::error::GatewayError;
use crate::routing::table::is_public;
use crate::runtime::{RouteRuntime, Runtime};

/// The principal of the request, `None` for unauthenticated routes and public paths.
pub async fn authenticate(
    _rt: &Runtime,
    route: &RouteRuntime,
    path: &str,
    _req: &Request<Incoming>,
) -> Result<Option<Principal>, GatewayError> {
    if route.config.auth == AuthMode::None || is_public(&route.config.public_paths, path) {
        return Ok(None);
    }
    Err(GatewayError::Auth(AuthError::Missing))
}
