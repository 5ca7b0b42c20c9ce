//! RFC 7662 token introspection for reference (opaque) tokens, with a bounded cache,
//! coalescing of concurrent lookups of one token, and a cap on uncached calls (a token
//! that cannot be one is refused unasked; past the cap, 503 without asking).
//!
//! Must never treat anything but `"active": true` (a JSON boolean) as active, never cache
//! an IdP failure (timeouts, non-200, non-JSON answers become 503s and are retried by the
//! next request), never let one provider's result serve another (the cache key binds
//! provider and endpoint), and never log the token or the client secret.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::credentials::TokenHash;
use super::jwt::unix_now;
use super::local::LocalFront;
use super::token_key::TokenHashing;
use super::verified::Verified;
use super::{AuthError, Claims};
use crate::config::IntrospectionConfig;
use crate::idp::client_auth::ClientAuthenticator;
use crate::idp::limit::{CallLimiter, Throttled};
use crate::idp::observe::{
    HitCounter, IdpCall, IntrospectionOutcome, ProviderObserver, TokenCache,
};
use crate::idp::{IdpClient, IdpResponse};

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
    /// When the verdict came (its life in the cache is `ttl` from about then).
    created: Instant,
    /// The endpoint that answered: a verdict serves only lookups at the same endpoint
    /// (discovery may move it).
    endpoint: Box<str>,
}

struct EntryTtl;

impl moka::Expiry<String, Arc<Entry>> for EntryTtl {
    fn expire_after_create(&self, _: &String, value: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The IdP could not give an answer; shared among coalesced waiters, never cached.
#[derive(Debug, Clone)]
struct IdpFailure(String);

/// Why a cache miss produced no entry (never cached).
#[derive(Debug, Clone)]
enum MissFailure {
    /// The IdP failed.
    Idp(IdpFailure),
    /// The cap refused the call.
    Throttled(Throttled),
}

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
    /// Verdicts by token (compared whole on a hit; the cache is this provider's own).
    cache: moka::sync::Cache<String, Arc<Entry>, TokenHashing>,
    /// In front of it, per worker thread, copies of the verdicts that thread served
    /// (`auth::local`): a hit writes no memory the other workers touch.
    local: LocalFront<Arc<Entry>>,
    /// Calls in flight, so concurrent misses of one token make one call.
    inflight: Inflight<Result<Arc<Entry>, MissFailure>>,
    observer: Arc<dyn ProviderObserver>,
    hits: HitCounter,
    limiter: CallLimiter,
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
        let cache = moka::sync::Cache::builder()
            .max_capacity(cfg.cache_size)
            .expire_after(EntryTtl)
            .build_with_hasher(TokenHashing::default());
        Introspector {
            limiter: CallLimiter::new(cfg.rate_limit),
            provider,
            cfg,
            rules,
            client,
            auth,
            cache,
            local: LocalFront::new(TokenHashing::default()),
            inflight: Inflight::new(),
            observer,
            hits: HitCounter::default(),
        }
    }

    /// Introspects `token` at `endpoint`, from cache when possible. Active → its claims;
    /// inactive or failing our checks → [`AuthError::InvalidToken`]; IdP trouble →
    /// [`AuthError::IdpUnavailable`]. Concurrent calls for one token make one request.
    pub async fn introspect(
        &self,
        endpoint: &str,
        token: &str,
    ) -> Result<Arc<Verified>, AuthError> {
        self.check_shape(token)?;
        let mut entry = self.lookup(endpoint, token).await?;
        if *entry.endpoint != *endpoint {
            // Answered by an endpoint discovery has since replaced: ask the current one.
            self.local.clear();
            self.cache.invalidate(token);
            entry = self.lookup(endpoint, token).await?;
        }
        self.as_now(&entry)
    }

    /// [`Self::introspect`] when the verdict is cached (from `endpoint`): no wait, no
    /// call; `None` otherwise. The token's shape passed `check_shape` when the
    /// verdict was cached, and a hit holds the same bytes.
    pub fn cached(&self, endpoint: &str, token: &str) -> Option<Result<Arc<Verified>, AuthError>> {
        let entry = self.cached_entry(token)?;
        if *entry.endpoint != *endpoint {
            return None;
        }
        self.hits
            .hit(&*self.observer, &self.provider, TokenCache::Introspection);
        Some(self.as_now(&entry))
    }

    /// A verdict as the request sees it now: active until `exp` (with leeway).
    fn as_now(&self, entry: &Entry) -> Result<Arc<Verified>, AuthError> {
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

    /// The cached verdict for `token`, or the one a (coalesced) call brings.
    async fn lookup(&self, endpoint: &str, token: &str) -> Result<Arc<Entry>, AuthError> {
        let (entry, called) = match self.cache.get(token) {
            Some(hit) => (Ok(hit), false),
            None => {
                self.inflight
                    .get(
                        token,
                        || self.cache.get(token).map(Ok),
                        || self.limited_call(endpoint, token),
                        |result| {
                            if let Ok(entry) = result {
                                self.cache.insert(token.to_owned(), entry.clone());
                            }
                        },
                    )
                    .await
            }
        };
        match entry {
            Ok(entry) => {
                // Answered without a call of its own: from the cache, or from another
                // request's call.
                if !called {
                    self.hits
                        .hit(&*self.observer, &self.provider, TokenCache::Introspection);
                }
                Ok(entry)
            }
            Err(failure) => Err(match failure {
                MissFailure::Idp(e) => AuthError::IdpUnavailable(e.0),
                MissFailure::Throttled(t) => AuthError::IdpThrottled(t.retry_after_secs()),
            }),
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
                Ok(Arc::new(Entry {
                    verdict,
                    ttl,
                    created: Instant::now(),
                    endpoint: endpoint.into(),
                }))
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
}

mod guards;
mod inflight;
mod local;
use inflight::Inflight;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
