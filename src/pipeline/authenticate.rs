//! Phase 5: authentication. Decides, per the route's `auth` mode (and `accept`) and
//! public paths, which credential to read (API key, bearer or DPoP token, session
//! cookie) and turns it into a `Principal`. A missing session on a browser navigation becomes a login redirect. It
//! never sets request headers and never decides a status code.

use std::sync::Arc;
use std::time::Instant;

use crate::transport::upstream::ReqBody;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};

use super::machine::{self, RequestView};
use super::session;
use crate::auth::principal::Principal;
use crate::auth::wanted::stands_for_no_user;
use crate::auth::AuthError;
use crate::auth::{credentials, token_params};
use crate::config::{AuthMode, UserinfoMode};
use crate::error::GatewayError;
use crate::idp::form_encode;
use crate::metrics::Metrics;
use crate::oidc::provider::ProviderRuntime;
use crate::routing::table::is_public;
use crate::runtime::{RouteRuntime, Runtime};

/// Request-scoped inputs and outputs of authentication.
pub struct AuthContext<'a> {
    /// Metrics registry.
    pub metrics: &'a Metrics,
    /// The request is a browser navigation (may be redirected to the login).
    pub navigation: bool,
    /// `Set-Cookie` values for the response (session updates and deletions).
    pub set_cookies: &'a mut Vec<HeaderValue>,
    /// The query string of the request being authenticated (for forward-auth, the
    /// original request's): a request authenticated by its `Authorization` header must
    /// not carry a second token in it.
    pub query: Option<&'a str>,
    /// The request a front proxy asks about (forward-auth; DPoP proofs describe it);
    /// `None`: the request itself.
    pub original: Option<RequestView<'a>>,
    /// The client's connection is TLS (what a DPoP proof of the request itself names
    /// when no trusted proxy said otherwise).
    pub tls: bool,
}

/// Who the request is, and how.
pub struct Authenticated {
    /// The principal (shared with the token cache entry it was built for, if any).
    pub principal: Arc<Principal>,
    /// The session's access token (session authentication only), shared with the
    /// session cache.
    pub session_access_token: Option<Arc<str>>,
    /// Authenticated by the `Authorization` header (a bearer token), not a session: the
    /// body must then not carry a second token (`form_token`).
    pub by_bearer_token: bool,
}

/// The authenticated identity, `None` for unauthenticated routes and public paths.
pub async fn authenticate(
    rt: &Runtime,
    route: &RouteRuntime,
    path: &str,
    req: &Request<ReqBody>,
    ctx: &mut AuthContext<'_>,
) -> Result<Option<Authenticated>, GatewayError> {
    let mode = route.config.auth;
    if mode == AuthMode::None || is_public(&route.config.public_paths, path) {
        return Ok(None);
    }
    let accept = route.config.accept;
    // An API key wins when one is presented (it needs no identity provider); then a
    // token when one is presented (`any`), else the session.
    let key = if accept.api_key {
        machine::presented_api_key(rt, route, req.headers())
    } else {
        Ok(None)
    };
    let method = match &key {
        Ok(Some(_)) | Err(_) => "api_key",
        Ok(None)
            if accept.bearer && (!accept.session || req.headers().contains_key(AUTHORIZATION)) =>
        {
            "bearer"
        }
        Ok(None) if accept.session => "session",
        Ok(None) => "api_key",
    };
    let provider = || {
        let index = route
            .config
            .provider
            .ok_or_else(|| GatewayError::Internal("authenticated route without provider".into()))?;
        let provider = rt
            .providers
            .get(index)
            .ok_or_else(|| GatewayError::Internal("provider index out of range".into()))?;
        Ok::<_, GatewayError>((index, provider))
    };
    let result = match method {
        "api_key" => key
            .and_then(|k| k.ok_or(AuthError::Missing))
            .and_then(|k| {
                second_token_in_query(ctx.query)?;
                machine::api_key(rt, k)
            })
            .map(|principal| Authenticated {
                principal,
                session_access_token: None,
                by_bearer_token: true,
            }),
        "bearer" => {
            let (provider_index, provider) = provider()?;
            let (original, tls) = (ctx.original, ctx.tls);
            let view = || original.unwrap_or_else(|| RequestView::of(req, tls));
            bearer(rt, provider, provider_index, route, req, view, ctx.query)
                .await
                .map(|principal| Authenticated {
                    principal,
                    session_access_token: None,
                    by_bearer_token: true,
                })
        }
        _ => match rt.sso.as_ref() {
            Some(sso) => {
                let allowed = &route.config.providers;
                let now = session::authenticate_now(rt, sso, allowed, req.headers());
                match now {
                    Some(done) => done,
                    // Boxed: the session future (store read, refresh, re-seal: several
                    // kB) would size every authenticated request's future.
                    None => {
                        Box::pin(session::authenticate(
                            rt,
                            sso,
                            allowed,
                            req.headers(),
                            ctx.set_cookies,
                        ))
                        .await
                    }
                }
                .map(|s| Authenticated {
                    principal: s.principal,
                    session_access_token: s.access_token,
                    by_bearer_token: false,
                })
            }
            None => Err(AuthError::Missing),
        },
    };
    let outcome = match &result {
        Ok(_) => "ok",
        Err(AuthError::Missing) => "missing",
        Err(AuthError::Malformed(_)) => "malformed",
        Err(AuthError::InvalidToken(_) | AuthError::Dpop(_)) => "invalid",
        Err(AuthError::IdpUnavailable(_)) => "idp_unavailable",
        Err(AuthError::IdpThrottled(_)) => "idp_throttled",
    };
    ctx.metrics
        .count_auth(&route.metrics, &route.name, method, outcome);
    match result {
        Ok(a) => Ok(Some(a)),
        Err(AuthError::Missing) if method == "session" && ctx.navigation && rt.sso.is_some() => {
            Err(GatewayError::LoginRequired(login_url(rt, req)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `<prefix>/start?rd=<the request's path and query>`, with the navigation's own
/// `login_hint` (it may pick the provider of a route with several).
fn login_url(rt: &Runtime, req: &Request<ReqBody>) -> String {
    let rd = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let hint = crate::oidc::urlenc::query_get(req.uri().query(), "login_hint");
    let mut params = vec![("rd", rd)];
    if let Some(hint) = hint.as_deref().and_then(crate::oidc::chooser::usable_hint) {
        params.push(("login_hint", hint));
    }
    format!(
        "{}/start?{}",
        rt.config.server.proxy_prefix,
        form_encode(&params)
    )
}

/// RFC 6750 §2: one method per request. A request authenticated by its `Authorization`
/// header that also carries a token in the query is refused before any validation (400
/// `invalid_request`); a token in the query alone is no credential here (the usual 401
/// challenge), and is never validated.
fn second_token_in_query(query: Option<&str>) -> Result<(), AuthError> {
    if query.is_some_and(|q| token_params::carries_access_token(q.as_bytes())) {
        return Err(AuthError::Malformed(
            "access token in the query as well as in the Authorization header",
        ));
    }
    Ok(())
}

/// `Authorization: <scheme> <token>` → validated claims (+ DPoP) → principal (+ userinfo).
async fn bearer<'v>(
    rt: &Runtime,
    provider: &ProviderRuntime,
    provider_index: usize,
    route: &RouteRuntime,
    req: &Request<ReqBody>,
    view: impl FnOnce() -> RequestView<'v>,
    query: Option<&str>,
) -> Result<Arc<Principal>, AuthError> {
    let cfg = provider.config();
    let presented = credentials::presented(req.headers(), &route.machine.token_schemes)?;
    // A token byte-equal to one verified before passed the token's checks then: a hit
    // skips them (two scans of a token that is often 1 kB or more).
    let cached = provider.cached(presented.token());
    let checked = match cached {
        Some(_) => None,
        None => Some(presented.check()?),
    };
    second_token_in_query(query)?;
    let verified = match (cached, checked) {
        (Some(hit), _) => hit?,
        // Boxed, here and below: the awaits a cache hit never reaches (a signature
        // check with a JWKS fetch, an introspection call, userinfo) would otherwise size
        // this future, which every bearer request builds; a hit allocates nothing.
        (None, Some(creds)) => Box::pin(provider.authenticate_uncached(creds.token)).await?,
        // Not reached: nothing cached means checked above.
        (None, None) => Box::pin(provider.authenticate_uncached(presented.check()?.token)).await?,
    };
    machine::check_dpop(rt, route, view, req.headers(), presented, &verified.claims).await?;
    let principal = verified.principal(&cfg.claims, provider_index)?;
    let wanted = match cfg.userinfo {
        UserinfoMode::Always => true,
        // Only for a user, and only for a claim this route reads: a client-credentials
        // token would cost an IdP round trip ending in 401 on every new token. Decided
        // once per token and route.
        UserinfoMode::Auto => verified.userinfo_wanted(route.wanted.key(), || {
            !stands_for_no_user(&principal.claims)
                && route.wanted.missing_in(&principal, &cfg.claims)
        }),
        UserinfoMode::Never => false,
    };
    if !wanted {
        return Ok(principal);
    }
    // Completed from an answer the userinfo cache still serves: no lookup, no merge.
    if let Some(done) = verified.fresh_completion(&principal, Instant::now()) {
        return Ok(done);
    }
    // The token is visible ASCII: checked now, or verified before.
    let token = match checked {
        Some(creds) => creds.token,
        None => presented.check()?.token,
    };
    match Box::pin(provider.userinfo_for_bearer(token)).await {
        // The principal completed from this answer, shared while the answer is cached.
        Ok(info) => verified.completed(&principal, &info.claims, info.until, &cfg.claims),
        // `auto` is best effort: the token alone was already valid.
        Err(e) if cfg.userinfo == UserinfoMode::Auto => {
            tracing::debug!(provider = provider.name(), error = %e, "userinfo completion skipped");
            Ok(principal)
        }
        Err(e) => Err(e),
    }
}
