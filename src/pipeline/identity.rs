//! Phase 7: identity. Sets the route's verified identity headers from the principal
//! (client-sent ones were already stripped by hygiene), decides whether the client's
//! Authorization header travels on (or the session's access token, or a token exchanged
//! for the upstream, replaces it), adds the signed identity assertion, and removes the
//! gateway's own cookies so they never reach the upstream.

use crate::transport::upstream::{Added, ReqBody};
use http::header::AUTHORIZATION;
use http::{HeaderName, HeaderValue, Request};

use super::authenticate::Authenticated;
use crate::auth::credentials;
use crate::config::AuthMode;
use crate::error::GatewayError;
use crate::oidc::exchange::ExchangeError;
use crate::runtime::{RouteRuntime, Runtime};
use crate::session::cookie::strip_own_cookies;

/// What the upstream gets besides headers copied from the principal: a token exchanged
/// for its audience (an `Authorization` value) and a signed assertion (field, value).
#[derive(Default)]
pub struct Minted {
    exchanged: Option<HeaderValue>,
    assertion: Option<(HeaderName, HeaderValue)>,
}

/// Whether the route mints anything for its upstream (see [`mint`]); when it does not,
/// [`apply_minted`] with nothing minted is the whole phase.
pub fn mints(route: &RouteRuntime) -> bool {
    route.exchange.is_some() || route.assertion.is_some()
}

/// [`mint`] when nothing needs to wait: no token exchange, and the principal's assertion
/// for this route still served (kept with the principal). `None`: [`mint`].
pub fn mint_now(
    rt: &Runtime,
    route: &RouteRuntime,
    auth: Option<&Authenticated>,
) -> Option<Minted> {
    if route.exchange.is_some() {
        return None;
    }
    let assertion = match (&route.assertion, &rt.signing, auth) {
        (Some(assertion), Some(_), Some(a)) => {
            let now = crate::session::unix_now();
            let value = assertion.cached_now(&a.principal, now)?;
            Some((assertion.header().clone(), value))
        }
        _ => None,
    };
    Some(Minted {
        exchanged: None,
        assertion,
    })
}

/// The exchanged token and the assertion. Both may wait (an IdP call, a signature), so
/// they run before any header changes.
pub async fn mint(
    rt: &Runtime,
    route: &RouteRuntime,
    auth: Option<&Authenticated>,
    req: &Request<ReqBody>,
) -> Result<Minted, GatewayError> {
    let exchanged = match (&route.exchange, auth) {
        (Some(exchange), Some(a)) => {
            let subject = subject_token(rt, route, a, req)?;
            Some(exchange.authorization(subject).await.map_err(|e| match e {
                ExchangeError::Unavailable(why) => GatewayError::Unavailable(why),
                ExchangeError::Refused(_) => GatewayError::Forbidden("token exchange refused"),
            })?)
        }
        _ => None,
    };
    let assertion = match (&route.assertion, &rt.signing, auth) {
        (Some(assertion), Some(ring), Some(a)) => {
            let p = &a.principal;
            let idp = rt.providers.get(p.provider).map_or("", |p| p.name());
            let now = crate::session::unix_now();
            let value = assertion.value(ring, p, idp, now).await.map_err(|e| {
                GatewayError::Internal(format!("identity assertion of route {}: {e}", route.name))
            })?;
            Some((assertion.header(), value))
        }
        _ => None,
    };
    Ok(Minted {
        exchanged,
        assertion: assertion.map(|(name, value)| (name.clone(), value)),
    })
}

/// Sets the identity headers, the Authorization the upstream gets, what was minted, and
/// strips what must not travel on. Never waits. Identity headers and the assertion (names
/// hygiene stripped from the request) go to `added`; Authorization, which the request
/// may still carry, is replaced in the map.
pub fn apply_minted(
    rt: &Runtime,
    route: &RouteRuntime,
    auth: Option<&Authenticated>,
    req: &mut Request<ReqBody>,
    added: &mut Added,
    minted: Minted,
) -> Result<(), GatewayError> {
    let Minted {
        exchanged,
        assertion,
    } = minted;
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
        return Ok(());
    };
    route.identity.add(&a.principal, added);
    if route.config.pass_access_token {
        if let Some(token) = &a.session_access_token {
            if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {token}")) {
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
        }
    }
    // The upstream's own token replaces every Authorization the client sent.
    if let Some(v) = exchanged {
        headers.insert(AUTHORIZATION, v);
    }
    if let Some((name, value)) = assertion {
        added.push(name, value);
    }
    Ok(())
}

/// The caller's access token to exchange: the session's, else the bearer token the
/// request was authenticated with.
fn subject_token<'r>(
    rt: &Runtime,
    route: &RouteRuntime,
    a: &'r Authenticated,
    req: &'r Request<ReqBody>,
) -> Result<&'r str, GatewayError> {
    if let Some(token) = a.session_access_token.as_deref() {
        return Ok(token);
    }
    credentials::from_headers(req.headers(), rt.accepted_schemes(route))
        .map(|c| c.token)
        .map_err(|_| GatewayError::Forbidden("no access token to exchange"))
}
