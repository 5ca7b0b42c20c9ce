//! RFC 8693 token exchange toward an upstream: the caller's access token is traded at
//! the provider's token endpoint for one scoped to the upstream (`audience`, `scope`),
//! cached per subject token until shortly before the new one expires, with concurrent
//! exchanges of one token coalesced into one call.
//!
//! The cache key is a SHA-256 of the subject token (the route fixes audience and scope);
//! tokens never reach a log line or a metric label. IdP trouble (unreachable, 5xx,
//! timeouts, garbage) is `Unavailable` (503) and never cached; a refusal (400
//! `invalid_grant`…, 401, 403) is `Refused` (403).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderValue;
use serde::Deserialize;

use super::provider::ProviderRuntime;
use super::tokens::is_usable_token_type;
use crate::auth::credentials::TokenHash;
use crate::config::TokenExchangeConfig;
use crate::idp::client_auth::ClientAuthenticator;

/// `grant_type` of RFC 8693 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type of an access token (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The token type of a JWT (RFC 8693 §3); an access token may be issued as one.
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Cached exchanged tokens per route.
const CACHE_SIZE: u64 = 10_000;
/// Cache life of an issued token that states no lifetime (`expires_in` nor JWT `exp`).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// Longest cache life, whatever the token says.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// Longest margin before expiry at which a cached token is replaced.
const MAX_MARGIN: Duration = Duration::from_secs(30);

/// Why no exchanged token can be sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExchangeError {
    /// The provider could not give an answer (503, retried by the next request).
    #[error("token exchange unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the exchange (403).
    #[error("token exchange refused: {0}")]
    Refused(String),
}

pub use crate::metrics::ExchangeMetrics;

/// An issued token, ready to send, and how long it may be reused.
#[derive(Clone)]
struct Exchanged {
    authorization: HeaderValue,
    ttl: Duration,
}

struct UntilNearExpiry;

impl moka::Expiry<[u8; 32], Exchanged> for UntilNearExpiry {
    fn expire_after_create(&self, _: &[u8; 32], v: &Exchanged, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
}

/// One route's token exchange.
pub struct TokenExchanger {
    provider: Arc<ProviderRuntime>,
    auth: ClientAuthenticator,
    audience: Option<String>,
    scope: Option<String>,
    cache: moka::future::Cache<[u8; 32], Exchanged>,
    metrics: ExchangeMetrics,
}

impl TokenExchanger {
    /// The exchange of `cfg` at `provider` (its client authentication is prepared here).
    pub fn new(
        cfg: &TokenExchangeConfig,
        provider: Arc<ProviderRuntime>,
        metrics: ExchangeMetrics,
    ) -> Result<Self, crate::idp::client_auth::ClientAuthError> {
        let auth = ClientAuthenticator::new(provider.config())?;
        Ok(TokenExchanger {
            provider,
            auth,
            audience: cfg.audience.clone(),
            scope: cfg.scope.clone(),
            cache: moka::future::Cache::builder()
                .max_capacity(CACHE_SIZE)
                .expire_after(UntilNearExpiry)
                .build(),
            metrics,
        })
    }

    /// `Bearer <exchanged token>` for `subject` (the caller's access token).
    pub async fn authorization(&self, subject: &str) -> Result<HeaderValue, ExchangeError> {
        let key = TokenHash::of(subject).0;
        let mut called = false;
        let result = self
            .cache
            .try_get_with_by_ref(&key, async {
                called = true;
                self.call(subject).await
            })
            .await;
        let counter = match &result {
            Ok(_) if called => &self.metrics.exchanged,
            Ok(_) => &self.metrics.cache_hit,
            Err(e) => match **e {
                ExchangeError::Refused(_) => &self.metrics.refused,
                ExchangeError::Unavailable(_) => &self.metrics.unavailable,
            },
        };
        counter.inc();
        result.map(|e| e.authorization).map_err(|e| (*e).clone())
    }

    async fn call(&self, subject: &str) -> Result<Exchanged, ExchangeError> {
        let name = self.provider.name();
        let meta = self.provider.metadata().ok_or_else(|| {
            ExchangeError::Unavailable(format!("provider `{name}` not discovered yet"))
        })?;
        let endpoint = meta.token_endpoint.as_deref().ok_or_else(|| {
            ExchangeError::Unavailable(format!("provider `{name}` has no token endpoint"))
        })?;
        let applied = self
            .auth
            .apply(endpoint)
            .map_err(|e| ExchangeError::Unavailable(e.to_string()))?;
        let mut fields = vec![
            ("grant_type", GRANT_TYPE),
            ("subject_token", subject),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("requested_token_type", ACCESS_TOKEN_TYPE),
        ];
        if let Some(a) = &self.audience {
            fields.push(("audience", a));
        }
        if let Some(s) = &self.scope {
            fields.push(("scope", s));
        }
        let form = applied.with_fields(&fields);
        let resp = self
            .provider
            .client()
            .post_form(endpoint, &form, applied.basic_pair())
            .await
            .map_err(|e| ExchangeError::Unavailable(format!("provider `{name}`: {e}")))?;
        let result = parse(resp.status.as_u16(), &resp.body, crate::session::unix_now());
        if let Err(e) = &result {
            tracing::warn!(provider = name, error = %e, token = %TokenHash::of(subject).short(), "token exchange failed");
        }
        result
    }
}

#[derive(Deserialize)]
struct Issued {
    access_token: String,
    #[serde(default)]
    issued_token_type: Option<String>,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Reads a token endpoint answer (RFC 8693 §2.2) received at `now` (Unix seconds).
fn parse(status: u16, body: &[u8], now: u64) -> Result<Exchanged, ExchangeError> {
    let unavailable = |why: &str| Err(ExchangeError::Unavailable(why.to_owned()));
    match status {
        200 => {}
        400 | 401 | 403 => {
            let code = serde_json::from_slice::<ErrorBody>(body)
                .map(|b| {
                    b.error
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .take(64)
                        .collect()
                })
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(ExchangeError::Refused(code));
        }
        _ => return Err(ExchangeError::Unavailable(format!("HTTP {status}"))),
    }
    let Ok(issued) = serde_json::from_slice::<Issued>(body) else {
        return unavailable("token response is not valid JSON");
    };
    if !is_usable_token_type(&issued.token_type) {
        return unavailable("issued token_type is not Bearer");
    }
    if let Some(t) = issued.issued_token_type.as_deref() {
        if t != ACCESS_TOKEN_TYPE && t != JWT_TYPE {
            return unavailable("issued_token_type is not an access token");
        }
    }
    let token = issued.access_token.trim();
    let Ok(mut authorization) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return unavailable("issued access_token cannot travel in a header");
    };
    if token.is_empty() {
        return unavailable("issued access_token is empty");
    }
    authorization.set_sensitive(true);
    let lifetime = issued
        .expires_in
        .map(Duration::from_secs)
        .or_else(|| jwt_exp(token).map(|exp| Duration::from_secs(exp.saturating_sub(now))))
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_LIFETIME);
    let margin = (lifetime / 10).min(MAX_MARGIN);
    Ok(Exchanged {
        authorization,
        ttl: lifetime.saturating_sub(margin),
    })
}

/// The `exp` of a JWT-shaped token, read without verification: only to bound how long
/// a token the provider just handed over is reused.
fn jwt_exp(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_u64()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
