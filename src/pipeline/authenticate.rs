//! Phase 5: authentication. Decides, per the route's `auth` mode and public paths,
//! which credential to read and turns it into a `Principal`. It never sets headers and
//! never decides a status code.

use http::header::AUTHORIZATION;
use http::Request;
use hyper::body::Incoming;

use crate::auth::credentials;
use crate::auth::principal::Principal;
use crate::auth::AuthError;
use crate::config::{AuthMode, UserinfoMode};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::oidc::provider::ProviderRuntime;
use crate::routing::table::is_public;
use crate::runtime::{RouteRuntime, Runtime};

/// The principal of the request, `None` for unauthenticated routes and public paths.
pub async fn authenticate(
    rt: &Runtime,
    metrics: &Metrics,
    route: &RouteRuntime,
    path: &str,
    req: &Request<Incoming>,
) -> Result<Option<Principal>, GatewayError> {
    let mode = route.config.auth;
    if mode == AuthMode::None || is_public(&route.config.public_paths, path) {
        return Ok(None);
    }
    let provider_index = route
        .config
        .provider
        .ok_or_else(|| GatewayError::Internal("authenticated route without provider".into()))?;
    let provider = rt
        .providers
        .get(provider_index)
        .ok_or_else(|| GatewayError::Internal("provider index out of range".into()))?;
    // `any`: a bearer token wins when one is presented; sessions arrive with browser SSO.
    let result = match mode {
        AuthMode::Bearer => bearer(provider, provider_index, req).await,
        AuthMode::Any if req.headers().contains_key(AUTHORIZATION) => {
            bearer(provider, provider_index, req).await
        }
        _ => Err(AuthError::Missing),
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(AuthError::Missing) => "missing",
        Err(AuthError::Malformed(_)) => "malformed",
        Err(AuthError::InvalidToken(_)) => "invalid",
        Err(AuthError::IdpUnavailable(_)) => "idp_unavailable",
    };
    metrics
        .auth
        .with_label_values(&[&route.name, route.auth_method, outcome])
        .inc();
    Ok(Some(result?))
}

/// `Authorization: <scheme> <token>` → validated claims → principal (+ userinfo).
async fn bearer(
    provider: &ProviderRuntime,
    provider_index: usize,
    req: &Request<Incoming>,
) -> Result<Principal, AuthError> {
    let cfg = provider.config();
    let creds = credentials::from_headers(req.headers(), &cfg.tokens.schemes)?;
    let claims = provider.authenticate_token(creds.token).await?;
    let mut principal = Principal::from_claims((*claims).clone(), &cfg.claims, provider_index)?;
    let wanted = match cfg.userinfo {
        UserinfoMode::Always => true,
        UserinfoMode::Auto => principal.needs_userinfo(&cfg.claims),
        UserinfoMode::Never => false,
    };
    if wanted {
        match provider.userinfo(creds.token).await {
            Ok(info) => principal.merge_userinfo((*info).clone(), &cfg.claims)?,
            // `auto` is best effort: a token without a user behind it (client
            // credentials) has no userinfo, and the token alone was already valid.
            Err(e) if cfg.userinfo == UserinfoMode::Auto => {
                tracing::debug!(provider = provider.name(), error = %e, "userinfo completion skipped");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(principal)
}
