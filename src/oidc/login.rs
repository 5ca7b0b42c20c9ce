//! The authorization code flow: `start` (PKCE S256, state, nonce, login attempt cookie,
//! redirect to the provider) and `callback` (no repeated parameter, attempt lookup,
//! RFC 9207 `iss` check, code exchange with the configured client authentication, ID
//! token validation, userinfo, fresh session). Every failure is a `GatewayError`; nothing here picks a status code.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use super::provider::ProviderRuntime;
use super::sso::Sso;
use super::tokens::{self, TokenError};
use super::urlenc::{query_get, repeated_name};
use crate::auth::principal::Principal;
use crate::auth::{AuthError, Claims};
use crate::config::{ProviderConfig, UserinfoMode};
use crate::error::GatewayError;
use crate::idp::client_auth::{pkce_challenge, random_token};
use crate::idp::form_encode;
use crate::session::codec::SessionData;
use crate::session::cookie::RequestCookies;
use crate::session::login::{clear_login, finish_login, start_login, LoginAttempt};
use crate::session::store::SaveKind;
use crate::session::{unix_now, SessionError};

/// A 302 with `Set-Cookie`s, never cached.
pub fn redirect(
    location: &str,
    cookies: Vec<HeaderValue>,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::FOUND;
    let loc = HeaderValue::from_str(location)
        .map_err(|_| GatewayError::Internal("redirect target is not a header value".into()))?;
    let h = resp.headers_mut();
    h.insert(LOCATION, loc);
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies {
        h.append(SET_COOKIE, c);
    }
    Ok(resp)
}

/// Starts a login at `provider`: remembers the attempt in its own encrypted cookie and
/// redirects to the authorization endpoint.
pub fn start(
    sso: &Sso,
    provider: &ProviderRuntime,
    headers: &HeaderMap,
    redirect_uri: &str,
    return_to: String,
    login_hint: Option<&str>,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    let meta = provider
        .metadata()
        .ok_or_else(|| GatewayError::Unavailable("provider not discovered yet".into()))?;
    let endpoint = meta
        .authorization_endpoint
        .as_deref()
        .ok_or_else(|| GatewayError::Internal("provider has no authorization_endpoint".into()))?;
    let cfg = provider.config();
    let random =
        || random_token().ok_or_else(|| GatewayError::Internal("no randomness for a login".into()));
    let attempt = LoginAttempt {
        state: random()?,
        nonce: random()?,
        pkce_verifier: random()?,
        return_to,
        provider: cfg.name.clone(),
        created_at: unix_now(),
    };
    let cookies = RequestCookies::from_headers(headers);
    let set = start_login(
        &attempt,
        &cookies,
        &sso.names,
        &sso.keys,
        attempt.created_at,
    )
    .map_err(|e| GatewayError::Internal(format!("login cookie: {e}")))?;
    let url = authorization_url(endpoint, cfg, redirect_uri, &attempt, login_hint);
    redirect(&url, set)
}

fn authorization_url(
    endpoint: &str,
    cfg: &ProviderConfig,
    redirect_uri: &str,
    attempt: &LoginAttempt,
    login_hint: Option<&str>,
) -> String {
    let scope = cfg.scopes.join(" ");
    let challenge = pkce_challenge(&attempt.pkce_verifier);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &cfg.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &scope),
        ("state", &attempt.state),
        ("nonce", &attempt.nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in &cfg.auth_params {
        params.push((k, v));
    }
    if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 256) {
        params.push(("login_hint", hint));
    }
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    format!("{endpoint}{sep}{}", form_encode(&params))
}

/// Finishes a login: on success a fresh session cookie and a redirect to where the user
/// was going. Once the attempt is found, its cookie is cleared (into `set_cookies`,
/// which every response carries) whatever the outcome: a refused or failed callback
/// cannot be replayed with the same attempt.
pub async fn callback(
    sso: &Sso,
    providers: &[std::sync::Arc<ProviderRuntime>],
    headers: &HeaderMap,
    query: Option<&str>,
    redirect_uri: &str,
    set_cookies: &mut Vec<HeaderValue>,
) -> Result<Response<Full<Bytes>>, GatewayError> {
    // RFC 6749 §3.1: a repeated parameter (`code`, `state`, `iss`, `error`…) makes the
    // response ambiguous; which value a reader takes is how mix-up and injection
    // attacks slip through. Refused before anything else, the token request included.
    if repeated_name(query).is_some() {
        return Err(GatewayError::BadRequest(
            "callback repeats a parameter (RFC 6749 §3.1)",
        ));
    }
    let now = unix_now();
    let cookies = RequestCookies::from_headers(headers);
    let state = query_get(query, "state").unwrap_or_default();
    // No attempt cookie for this state: login CSRF, a replayed callback or an expired
    // attempt. Refuse before any token request.
    let attempt = finish_login(&cookies, &sso.names, &sso.keys, &state, now)
        .ok_or(GatewayError::BadRequest("unknown or expired login attempt"))?;
    set_cookies.extend(clear_login(&sso.names, &attempt.state));
    let (index, provider) = providers
        .iter()
        .enumerate()
        .find(|(_, p)| p.name() == attempt.provider)
        .ok_or(GatewayError::BadRequest(
            "login attempt names an unknown provider",
        ))?;
    let cfg = provider.config();
    match query_get(query, "iss") {
        Some(iss) if iss != cfg.issuer => {
            return Err(GatewayError::BadRequest(
                "iss parameter does not match the provider",
            ))
        }
        None if provider.metadata().is_some_and(|m| m.requires_iss()) => {
            return Err(GatewayError::BadRequest(
                "iss parameter missing from a provider that always sends it",
            ))
        }
        _ => {}
    }
    if query_get(query, "error").is_some() {
        return Err(GatewayError::LoginRefused);
    }
    let code = query_get(query, "code")
        .filter(|c| !c.is_empty())
        .ok_or(GatewayError::BadRequest("callback without code"))?;
    let meta = provider
        .metadata()
        .ok_or_else(|| GatewayError::Unavailable("provider not discovered yet".into()))?;
    let token_endpoint = meta
        .token_endpoint
        .as_deref()
        .ok_or_else(|| GatewayError::Internal("provider has no token_endpoint".into()))?;
    let client = sso
        .clients
        .get(index)
        .ok_or_else(|| GatewayError::Internal("no client for provider".into()))?;
    let tokens = tokens::exchange_code(
        provider.client(),
        client,
        token_endpoint,
        &code,
        redirect_uri,
        &attempt.pkce_verifier,
    )
    .await
    .map_err(token_error)?;
    let id_token = tokens
        .id_token
        .as_deref()
        .ok_or(GatewayError::LoginFailed("token response without id_token"))?;
    let claims = provider
        .validate_id_token(id_token, Some(&attempt.nonce), cfg.tokens.leeway)
        .await
        .map_err(login_auth_error)?;
    let mut principal = Principal::from_claims(std::sync::Arc::new(claims), &cfg.claims, index)
        .map_err(login_auth_error)?;
    let wanted = match cfg.userinfo {
        UserinfoMode::Always => true,
        UserinfoMode::Auto => principal.needs_userinfo(&cfg.claims),
        UserinfoMode::Never => false,
    };
    if wanted && meta.userinfo_endpoint.is_some() {
        match provider.userinfo(&tokens.access_token).await {
            Ok(info) => principal
                .merge_userinfo((*info).clone(), &cfg.claims)
                .map_err(login_auth_error)?,
            Err(e) if cfg.userinfo == UserinfoMode::Auto => {
                tracing::debug!(provider = provider.name(), error = %e, "userinfo skipped");
            }
            Err(e) => return Err(login_auth_error(e)),
        }
    }
    let data = session_from(sso, &principal, cfg, &tokens, id_token, now);
    let set = sso
        .store
        .save(&data, SaveKind::NewLogin, &cookies, now)
        .await
        .map_err(|e| match e {
            // Redis unreachable: 503 + Retry-After, not a gateway bug.
            SessionError::Unavailable(why) => GatewayError::Unavailable(why),
            e @ SessionError::TooLarge { .. } => GatewayError::Internal(format!(
                "session save: {e}: the session does not fit in cookies under \
                 server.limits.max_header_bytes; use session.store: redis, or raise the limit"
            )),
            e => GatewayError::Internal(format!("session save: {e}")),
        })?;
    tracing::info!(
        provider = provider.name(),
        user = principal.username.as_deref().unwrap_or(&principal.subject),
        "login succeeded"
    );
    redirect(&attempt.return_to, set)
}

fn session_from(
    sso: &Sso,
    p: &Principal,
    cfg: &ProviderConfig,
    tokens: &tokens::TokenResponse,
    id_token: &str,
    now: u64,
) -> SessionData {
    let claims: Claims = p
        .claims
        .iter()
        .filter(|(k, _)| sso.kept_claims.iter().any(|c| c == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    SessionData {
        subject: p.subject.clone(),
        username: p.username.clone(),
        email: p.email.clone(),
        groups: p.groups.clone(),
        claims,
        id_token: Some(id_token.to_owned()),
        access_token: Some(tokens.access_token.clone()),
        access_token_expires_at: tokens.expires_in.map(|s| now.saturating_add(s)),
        refresh_token: tokens.refresh_token.clone(),
        provider: cfg.name.clone(),
        sid: p
            .claims
            .get("sid")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        created_at: now,
        last_seen_at: now,
    }
}

fn token_error(e: TokenError) -> GatewayError {
    match e {
        TokenError::Unavailable(why) => GatewayError::Unavailable(why),
        TokenError::Refused(_) => GatewayError::LoginFailed("the provider refused the code"),
        TokenError::ClientAuth(e) => GatewayError::Internal(e.to_string()),
        e @ TokenError::TokenType(_) => {
            tracing::warn!(error = %e, "login refused");
            GatewayError::LoginFailed("the provider issued a token type this gateway cannot use")
        }
    }
}

fn login_auth_error(e: AuthError) -> GatewayError {
    match e {
        AuthError::IdpUnavailable(why) => GatewayError::Unavailable(why),
        other => {
            tracing::warn!(error = %other, "login refused");
            GatewayError::LoginFailed("the identity token was not acceptable")
        }
    }
}
