//! OpenID Connect Back-Channel Logout 1.0: `POST <prefix>/backchannel_logout` with a
//! form-encoded `logout_token`, sent by the provider (not the browser) when a user's
//! provider session ends.
//!
//! The token is a JWS from the provider named by its `iss`, checked against that
//! provider's JWKS (same cache, refetch on unknown `kid`, allowlisted algorithms; `typ`
//! may be `logout+jwt`), with `aud` containing our client id, a recent `iat`, `exp` when
//! present, the back-channel logout event, `sid` and/or `sub`, no `nonce`, and a `jti`
//! never seen before within the token's lifetime (remembered in Redis, shared by all
//! replicas). Then every session with that `sid` (else every session of that `sub`) is
//! deleted from Redis. Answers 200 (`Cache-Control: no-store`), or 400 with
//! `{"error":"invalid_request"}` for any unacceptable token (never a 5xx for a bad token;
//! 503 only when Redis or the provider's keys cannot be reached, so the provider may
//! retry). With the cookie store there is nothing server-side to delete: 501.
//!
//! Must never log the token, and never end a session on a token that failed any check.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::header::CACHE_CONTROL;
use http::{HeaderValue, Method, Request, Response};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use super::provider::ProviderRuntime;
use super::sso::Sso;
use super::urlenc::query_get;
use crate::auth::jwks::KeyMiss;
use crate::auth::jwt::{verify_signature, vet_header, JwtError};
use crate::auth::Claims;
use crate::error::GatewayError;

/// The event member a logout token's `events` claim must contain.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Largest request body read (a logout token is a few kB).
pub const MAX_BODY: usize = 64 * 1024;
/// A logout token whose `iat` is older than this (plus leeway) is refused: it bounds how
/// long its `jti` must be remembered when it has no `exp`.
pub const MAX_AGE: Duration = Duration::from_secs(300);

/// A bad request: the client sees only `invalid_request`; [`handle`] logs the reason
/// once, and only when the request is refused. Building one logs nothing, so an
/// eagerly built error (`ok_or(bad(…))`) on the success path says nothing either.
fn bad(reason: &'static str) -> GatewayError {
    GatewayError::BadRequest(reason)
}

/// Serves the endpoint. `req`'s body is consumed.
pub async fn handle<B>(
    sso: &Sso,
    providers: &[Arc<ProviderRuntime>],
    req: &mut Request<B>,
) -> Result<Response<Full<Bytes>>, GatewayError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let outcome = serve(sso, providers, req).await;
    log_refusal(&outcome);
    outcome
}

/// Logs "refused" with its reason when, and only when, `outcome` refuses a bad request
/// (a store or provider outage is not a refusal: the access log has it).
pub fn log_refusal<T>(outcome: &Result<T, GatewayError>) {
    if let Err(GatewayError::BadRequest(reason)) = outcome {
        tracing::info!(reason, "back-channel logout refused");
    }
}

async fn serve<B>(
    sso: &Sso,
    providers: &[Arc<ProviderRuntime>],
    req: &mut Request<B>,
) -> Result<Response<Full<Bytes>>, GatewayError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let Some(redis) = sso.redis.as_ref() else {
        return Err(GatewayError::NotImplemented(
            "back-channel logout needs session.store: redis",
        ));
    };
    if req.method() != Method::POST {
        return Err(bad("back-channel logout must be a POST"));
    }
    let body = read_body(req.body_mut()).await?;
    let form = std::str::from_utf8(&body).map_err(|_| bad("body is not UTF-8"))?;
    let token =
        query_get(Some(form), "logout_token").ok_or(bad("logout_token parameter missing"))?;
    let verified = verify(providers, &token).await?;
    let ttl = verified.replay_window();
    let provider = verified.provider.name();
    let first = redis
        .first_use_of_jti(provider, &verified.jti, ttl)
        .await
        .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
    if !first {
        return Err(bad("logout token replayed (jti seen before)"));
    }
    let ended = redis
        .end_sessions(provider, verified.sid.as_deref(), verified.sub.as_deref())
        .await
        .map_err(|e| GatewayError::Unavailable(e.to_string()))?;
    tracing::info!(provider, sessions = ended, "back-channel logout");
    let mut resp = Response::new(Full::new(Bytes::new()));
    resp.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn read_body<B>(body: &mut B) -> Result<BytesMut, GatewayError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| bad("request body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > MAX_BODY {
                return Err(bad("request body too large"));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// A logout token that passed every check.
pub struct LogoutToken<'p> {
    /// Its provider.
    pub provider: &'p ProviderRuntime,
    /// `jti`.
    pub jti: String,
    /// `sid`, when present.
    pub sid: Option<String>,
    /// `sub`, when present.
    pub sub: Option<String>,
    /// `exp`, when present (unix seconds).
    pub exp: Option<f64>,
    /// `iat` (unix seconds).
    pub iat: f64,
    leeway: f64,
}

impl LogoutToken<'_> {
    /// How long its `jti` must be remembered: until it can no longer be accepted.
    pub fn replay_window(&self) -> Duration {
        let now = crate::auth::jwt::unix_now();
        let until = match self.exp {
            Some(exp) => exp + self.leeway,
            None => self.iat + MAX_AGE.as_secs_f64() + self.leeway,
        };
        // At most an hour: the token is refused anyway once its `iat` is older than
        // `MAX_AGE` (plus leeway, at most five minutes), whatever its `exp` says.
        crate::auth::jwt::bounded_secs(until - now, Duration::from_secs(3600))
            .max(Duration::from_secs(60))
    }
}

/// Validates `token` against the provider its `iss` names.
pub async fn verify<'p>(
    providers: &'p [Arc<ProviderRuntime>],
    token: &str,
) -> Result<LogoutToken<'p>, GatewayError> {
    // Only to pick the provider; everything is verified below.
    let unverified = parse_unverified(token)?;
    let iss = unverified
        .get("iss")
        .and_then(Value::as_str)
        .ok_or(bad("iss missing"))?;
    // Several providers may share an issuer (two clients of one realm): the token is for
    // the one its `aud` names (Back-Channel Logout 1.0 §2.6), checked again below.
    let mut same_issuer = providers.iter().filter(|p| p.config().issuer == iss);
    let first = same_issuer
        .next()
        .ok_or(bad("iss names no configured provider"))?;
    let provider = std::iter::once(first)
        .chain(same_issuer)
        .find(|p| names_audience(&unverified, &p.config().client_id))
        .unwrap_or(first);
    let (jwks, algs) = provider
        .signing_keys()
        .ok_or_else(|| GatewayError::Unavailable("provider not discovered yet".into()))?;
    let header = vet_header(token, &algs, &["logout+jwt", "jwt"]).map_err(|e| match e {
        JwtError::Invalid(reason) => bad(reason),
        JwtError::UnknownKey => bad("no matching key"),
    })?;
    let (alg, kid) = (header.alg, header.kid.as_deref());
    let unavailable = |e: crate::auth::jwks::JwksError| GatewayError::Unavailable(e.to_string());
    let mut keys = jwks.keys().await.map_err(unavailable)?;
    if let Err(KeyMiss::NotFound) = keys.find(kid, alg) {
        keys = jwks.refetch_for_unknown_key().await.map_err(unavailable)?;
    }
    let candidates = keys.find(kid, alg).map_err(|_| bad("no matching key"))?;
    verify_signature(token, alg, candidates).map_err(|e| match e {
        JwtError::Invalid(reason) => bad(reason),
        JwtError::UnknownKey => bad("no matching key"),
    })?;
    let cfg = provider.config();
    check_claims(&unverified, &cfg.client_id, cfg.tokens.leeway).map(|c| LogoutToken {
        provider,
        jti: c.jti,
        sid: c.sid,
        sub: c.sub,
        exp: c.exp,
        iat: c.iat,
        leeway: cfg.tokens.leeway.as_secs_f64(),
    })
}

/// The claims of a logout token's payload, NOT verified: the token must have the
/// shape of a compact JWS and its payload must be a JSON object. The untrusted-input
/// parser of this endpoint (fuzzed); the signature and claims are checked afterwards.
pub fn parse_unverified(token: &str) -> Result<Claims, GatewayError> {
    if !crate::auth::jwt::looks_like_jwt(token) {
        return Err(bad("logout_token is not a JWS"));
    }
    let payload = token
        .split('.')
        .nth(1)
        .ok_or(bad("logout_token is not a JWS"))?;
    decode_json(payload).ok_or(bad("payload is not a JSON object"))
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The checked claims of a logout token.
#[derive(Debug, PartialEq)]
pub struct Checked {
    /// `jti`.
    pub jti: String,
    /// `sid`.
    pub sid: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `exp`.
    pub exp: Option<f64>,
    /// `iat`.
    pub iat: f64,
}

/// The claim rules of Back-Channel Logout 1.0 §2.4/§2.6 (signature and `iss` are checked
/// by the caller).
pub fn check_claims(
    claims: &Claims,
    client_id: &str,
    leeway: Duration,
) -> Result<Checked, GatewayError> {
    check_claims_at(claims, client_id, leeway, crate::auth::jwt::unix_now())
}

/// Whether the token's `aud` (a string or an array) names `client_id`.
fn names_audience(claims: &Claims, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}

/// [`check_claims`] at time `now`.
pub fn check_claims_at(
    claims: &Claims,
    client_id: &str,
    leeway: Duration,
    now: f64,
) -> Result<Checked, GatewayError> {
    let leeway = leeway.as_secs_f64();
    if !names_audience(claims, client_id) {
        return Err(bad("aud does not contain the client id"));
    }
    let iat = number(claims, "iat")?.ok_or(bad("iat missing"))?;
    if iat > now + leeway {
        return Err(bad("iat in the future"));
    }
    if now - iat > MAX_AGE.as_secs_f64() + leeway {
        return Err(bad("iat too old"));
    }
    let exp = number(claims, "exp")?;
    if exp.is_some_and(|exp| now >= exp + leeway) {
        return Err(bad("expired"));
    }
    if number(claims, "nbf")?.is_some_and(|nbf| nbf > now + leeway) {
        return Err(bad("not yet valid (nbf)"));
    }
    match claims.get("events") {
        Some(Value::Object(events)) if events.get(LOGOUT_EVENT).is_some_and(Value::is_object) => {}
        _ => return Err(bad("events lacks the back-channel logout event")),
    }
    if claims.contains_key("nonce") {
        return Err(bad("nonce present"));
    }
    let text = |name: &str| -> Result<Option<String>, GatewayError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => Ok(Some(s.clone())),
            Some(_) => Err(bad("sid/sub/jti malformed")),
        }
    };
    let sid = text("sid")?;
    let sub = text("sub")?;
    if sid.is_none() && sub.is_none() {
        return Err(bad("neither sid nor sub"));
    }
    let jti = text("jti")?.ok_or(bad("jti missing"))?;
    Ok(Checked {
        jti,
        sid,
        sub,
        exp,
        iat,
    })
}

fn number(claims: &Claims, name: &'static str) -> Result<Option<f64>, GatewayError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or(bad("time claim out of range")),
        Some(_) => Err(bad("time claim is not a number")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
