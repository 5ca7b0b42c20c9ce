//! RFC 7662 token introspection for reference (opaque) tokens, with a bounded cache and
//! coalescing of concurrent lookups of one token.
//!
//! Must never treat anything but `"active": true` (a JSON boolean) as active, never cache
//! an IdP failure (timeouts, non-200, non-JSON answers become 503s and are retried by the
//! next request), never let one provider's result serve another (the cache key binds
//! provider and endpoint), and never log the token or the client secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use serde_json::Value;

use super::credentials::TokenHash;
use super::jwt::unix_now;
use super::verified::Verified;
use super::{AuthError, Claims};
use crate::config::IntrospectionConfig;
use crate::idp::{IdpClient, IdpResponse};
use crate::oidc::client_auth::ClientAuthenticator;
use crate::oidc::{IdpCall, IntrospectionOutcome, ProviderObserver};

/// A cached introspection verdict.
#[derive(Debug)]
enum Verdict {
    Active {
        verified: Arc<Verified>,
        exp: Option<f64>,
    },
    Inactive(&'static str),
}

#[derive(Debug)]
struct Entry {
    verdict: Verdict,
    ttl: Duration,
}

struct EntryTtl;

impl moka::Expiry<[u8; 32], Arc<Entry>> for EntryTtl {
    fn expire_after_create(
        &self,
        _: &[u8; 32],
        value: &Arc<Entry>,
        _: Instant,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The IdP could not give an answer; shared among coalesced waiters, never cached.
#[derive(Debug, Clone)]
struct IdpFailure(String);

/// What the introspector checks a response against.
#[derive(Debug, Clone)]
pub struct IntrospectionRules {
    /// Expected `iss` (when the response has one).
    pub issuer: String,
    /// Accepted `aud` values (the introspection client id is accepted too).
    pub audiences: Vec<String>,
    /// Clock skew tolerance for `exp`/`nbf`.
    pub leeway: Duration,
}

/// One provider's introspection client and cache.
pub struct Introspector {
    provider: Arc<str>,
    cfg: IntrospectionConfig,
    rules: IntrospectionRules,
    client: IdpClient,
    auth: ClientAuthenticator,
    cache: moka::future::Cache<[u8; 32], Arc<Entry>>,
    observer: Arc<dyn ProviderObserver>,
}

impl Introspector {
    /// An introspector for `provider` with its own bounded cache; `auth` is the
    /// introspection client's authentication
    /// ([`ClientAuthenticator::for_introspection`]).
    pub fn new(
        provider: Arc<str>,
        cfg: IntrospectionConfig,
        rules: IntrospectionRules,
        client: IdpClient,
        auth: ClientAuthenticator,
        observer: Arc<dyn ProviderObserver>,
    ) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(cfg.cache_size)
            .expire_after(EntryTtl)
            .build();
        Introspector {
            provider,
            cfg,
            rules,
            client,
            auth,
            cache,
            observer,
        }
    }

    /// Introspects `token` at `endpoint`, from cache when possible. Active → its claims;
    /// inactive or failing our checks → [`AuthError::InvalidToken`]; IdP trouble →
    /// [`AuthError::IdpUnavailable`]. Concurrent calls for one token make one request.
    pub async fn introspect(
        &self,
        endpoint: &str,
        token: &str,
        hash: &TokenHash,
    ) -> Result<Arc<Verified>, AuthError> {
        let key = cache_key(&self.provider, endpoint, hash);
        let entry = self
            .cache
            .entry(key)
            .or_try_insert_with(self.call(endpoint, token, hash))
            .await;
        let entry = match entry {
            Ok(entry) => {
                if !entry.is_fresh() {
                    self.observer
                        .introspection(&self.provider, IntrospectionOutcome::CacheHit);
                }
                entry.into_value()
            }
            Err(failure) => return Err(AuthError::IdpUnavailable(failure.0.clone())),
        };
        match &entry.verdict {
            Verdict::Active { verified, exp } => {
                let leeway = self.rules.leeway.as_secs_f64();
                if exp.is_some_and(|exp| unix_now() >= exp + leeway) {
                    return Err(AuthError::InvalidToken("expired (introspection)".into()));
                }
                Ok(verified.clone())
            }
            Verdict::Inactive(reason) => Err(AuthError::InvalidToken((*reason).into())),
        }
    }

    async fn call(
        &self,
        endpoint: &str,
        token: &str,
        hash: &TokenHash,
    ) -> Result<Arc<Entry>, IdpFailure> {
        let started = Instant::now();
        let result = self.post(endpoint, token).await;
        let verdict = match result {
            Err(e) => Err(IdpFailure(format!("introspection: {e}"))),
            Ok(r) if r.status != http::StatusCode::OK => Err(IdpFailure(format!(
                "introspection endpoint answered {}",
                r.status.as_u16()
            ))),
            Ok(r) => match serde_json::from_slice::<Claims>(&r.body) {
                Ok(body) => Ok(self.judge(body, unix_now())),
                Err(_) => Err(IdpFailure(
                    "introspection answer is not a JSON object".into(),
                )),
            },
        };
        self.observer.idp_call(
            &self.provider,
            IdpCall::Introspection,
            started.elapsed(),
            verdict.is_ok(),
        );
        let outcome = match &verdict {
            Ok(Verdict::Active { .. }) => IntrospectionOutcome::Active,
            Ok(Verdict::Inactive(_)) => IntrospectionOutcome::Inactive,
            Err(_) => IntrospectionOutcome::Error,
        };
        self.observer.introspection(&self.provider, outcome);
        match verdict {
            Ok(verdict) => {
                let ttl = self.ttl(&verdict);
                tracing::debug!(provider = %self.provider, token = %hash.short(), ?outcome, "introspected");
                Ok(Arc::new(Entry { verdict, ttl }))
            }
            Err(e) => {
                tracing::warn!(provider = %self.provider, token = %hash.short(), error = %e.0, "introspection failed");
                Err(e)
            }
        }
    }

    /// POSTs `token` with the configured client authentication (every token-endpoint
    /// method; a private_key_jwt assertion is signed per call, with a fresh `jti`).
    async fn post(&self, endpoint: &str, token: &str) -> Result<IdpResponse, String> {
        let applied = self.auth.apply(endpoint).map_err(|e| e.to_string())?;
        let form = applied.with_fields(&[("token", token), ("token_type_hint", "access_token")]);
        self.client
            .post_form(endpoint, &form, applied.basic_pair())
            .await
            .map_err(|e| e.to_string())
    }

    /// Positive: min(cache_ttl, exp − now); negative: negative_cache_ttl.
    fn ttl(&self, verdict: &Verdict) -> Duration {
        match verdict {
            Verdict::Active { exp: Some(exp), .. } => {
                crate::auth::jwt::bounded_secs(exp - unix_now(), self.cfg.cache_ttl)
            }
            Verdict::Active { exp: None, .. } => self.cfg.cache_ttl,
            Verdict::Inactive(_) => self.cfg.negative_cache_ttl,
        }
    }

    fn judge(&self, body: Claims, now: f64) -> Verdict {
        if body.get("active") != Some(&Value::Bool(true)) {
            return Verdict::Inactive("inactive (introspection)");
        }
        let leeway = self.rules.leeway.as_secs_f64();
        let exp = match number(&body, "exp") {
            Err(reason) => return Verdict::Inactive(reason),
            Ok(Some(exp)) if now >= exp + leeway => {
                return Verdict::Inactive("expired (introspection)")
            }
            Ok(exp) => exp,
        };
        match number(&body, "nbf") {
            Err(reason) => return Verdict::Inactive(reason),
            Ok(Some(nbf)) if nbf > now + leeway => {
                return Verdict::Inactive("not yet valid (introspection)")
            }
            Ok(_) => {}
        }
        match body.get("iss") {
            None => {}
            Some(Value::String(iss)) if *iss == self.rules.issuer => {}
            Some(_) => return Verdict::Inactive("wrong iss (introspection)"),
        }
        let ours = |a: &str| a == self.cfg.client_id || self.rules.audiences.iter().any(|x| x == a);
        let aud_ok = match body.get("aud") {
            None => true,
            Some(Value::String(a)) => ours(a),
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str().is_some_and(ours)),
            Some(_) => false,
        };
        if !aud_ok {
            return Verdict::Inactive("wrong aud (introspection)");
        }
        Verdict::Active {
            verified: Arc::new(Verified::new(body)),
            exp,
        }
    }
}

fn number(body: &Claims, name: &str) -> Result<Option<f64>, &'static str> {
    match body.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or("time claim is not a number (introspection)"),
    }
}

/// SHA-256 over provider, endpoint and token hash, length-prefixed so no two different
/// (provider, endpoint) pairs can collide by concatenation.
fn cache_key(provider: &str, endpoint: &str, token: &TokenHash) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in [provider.as_bytes(), endpoint.as_bytes(), &token.0[..]] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
