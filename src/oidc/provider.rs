//! One configured identity provider at run time: its HTTP client, discovered metadata,
//! JWKS cache, verified-token cache, introspector and userinfo cache, plus the background
//! task that discovers it (with backoff) and keeps it fresh.
//!
//! This is the one entry point for "is this token good for this provider?". It must never
//! let a token of one provider pass as another's (every cache here is per provider), never
//! answer for a provider it has not discovered (that is a 503, not a 401), and never log a
//! token.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use thiserror::Error;

use super::discovery::{DiscoveryError, ProviderMetadata};
use super::metadata::EndpointSources;
use super::ProviderObserver;
use crate::auth::introspect::{IntrospectionRules, Introspector};
use crate::auth::jwks::JwksCache;
use crate::auth::jwt::{JwtValidator, VerifiedCache};
use crate::auth::token_key::TokenHashing;
use crate::config::ProviderConfig;
use crate::idp::client_auth::{ClientAuthError, ClientAuthenticator};
use crate::idp::limit::CallLimiter;
use crate::idp::observe::HitCounter;
use crate::idp::{HttpError, IdpClient};

/// Timeout of every call to an identity provider.
pub const IDP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often discovery is refreshed once it succeeded.
pub const DISCOVERY_REFRESH: Duration = Duration::from_secs(3600);
/// How often the background task wakes to refresh stale keys.
const TICK: Duration = Duration::from_secs(60);
/// First and last delay of the start-up retry backoff.
const BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));
/// Userinfo answers are reused this long (per token).
const USERINFO_TTL: Duration = Duration::from_secs(60);
const USERINFO_CACHE_SIZE: u64 = 10_000;

/// A provider could not be set up or discovered.
#[derive(Debug, Error)]
pub enum ProviderError {
    /// The HTTP client (TLS roots / CA file) could not be built.
    #[error("provider `{provider}`: {source}")]
    Client {
        /// Provider name.
        provider: String,
        /// Cause.
        source: HttpError,
    },
    /// The introspection client's key is unusable.
    #[error("provider `{provider}`: tokens.introspection: {source}")]
    ClientAuth {
        /// Provider name.
        provider: String,
        /// Cause.
        source: ClientAuthError,
    },
    /// Discovery failed.
    #[error("provider `{provider}`: {source}")]
    Discovery {
        /// Provider name.
        provider: String,
        /// Cause.
        source: DiscoveryError,
    },
}

struct Discovered {
    metadata: Arc<ProviderMetadata>,
    sources: EndpointSources,
    validator: JwtValidator,
    at: Instant,
}

/// The runtime of one provider. Shared (`Arc`) by every snapshot that uses it.
pub struct ProviderRuntime {
    cfg: ProviderConfig,
    name: Arc<str>,
    client: IdpClient,
    observer: Arc<dyn ProviderObserver>,
    verified_hits: HitCounter,
    discovered: ArcSwapOption<Discovered>,
    jwks: JwksCache,
    verified: VerifiedCache,
    introspector: Option<Introspector>,
    /// Userinfo answers by access token (compared whole on a hit).
    userinfo: moka::future::Cache<String, UserinfoAnswer, TokenHashing>,
    userinfo_limiter: CallLimiter,
    backoff: (Duration, Duration),
}

impl ProviderRuntime {
    /// Builds the runtime (nothing is fetched yet; see [`ProviderRuntime::discover`] and
    /// [`ProviderRuntime::spawn_refresh`]).
    pub fn new(
        cfg: ProviderConfig,
        observer: Arc<dyn ProviderObserver>,
    ) -> Result<Self, ProviderError> {
        let name: Arc<str> = cfg.name.as_str().into();
        let client = IdpClient::new(cfg.ca_file.as_deref(), IDP_TIMEOUT)
            .map_err(|source| ProviderError::Client {
                provider: cfg.name.clone(),
                source,
            })?
            .for_provider(name.clone());
        let jwks = JwksCache::new(
            name.clone(),
            client.for_call("jwks"),
            String::new(),
            cfg.tokens.jwks_refetch_interval,
            observer.clone(),
        );
        let introspector = match cfg.tokens.introspection.clone() {
            None => None,
            Some(icfg) => {
                let auth = ClientAuthenticator::for_introspection(&icfg).map_err(|source| {
                    ProviderError::ClientAuth {
                        provider: cfg.name.clone(),
                        source,
                    }
                })?;
                let rules = IntrospectionRules {
                    issuer: cfg.issuer.clone(),
                    audiences: cfg.tokens.audiences.clone(),
                    leeway: cfg.tokens.leeway,
                };
                let client = client.for_call("introspection");
                Some(Introspector::new(
                    name.clone(),
                    icfg,
                    rules,
                    client,
                    auth,
                    observer.clone(),
                ))
            }
        };
        Ok(ProviderRuntime {
            verified: VerifiedCache::new(cfg.tokens.verified_cache_size),
            userinfo: moka::future::Cache::builder()
                .max_capacity(USERINFO_CACHE_SIZE)
                .time_to_live(USERINFO_TTL)
                .build_with_hasher(TokenHashing::default()),
            userinfo_limiter: CallLimiter::new(cfg.tokens.userinfo_rate_limit),
            cfg,
            name,
            client,
            observer,
            verified_hits: HitCounter::default(),
            discovered: ArcSwapOption::empty(),
            jwks,
            introspector,
            backoff: BACKOFF,
        })
    }

    /// The provider's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its validated config.
    pub fn config(&self) -> &ProviderConfig {
        &self.cfg
    }

    /// Its HTTP client (for the login flow's token-endpoint calls).
    pub fn client(&self) -> &IdpClient {
        &self.client
    }

    /// The discovered metadata, once discovery succeeded.
    pub fn metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.discovered.load().as_ref().map(|d| d.metadata.clone())
    }

    /// Whether discovery has succeeded at least once (`/readyz`).
    pub fn is_ready(&self) -> bool {
        self.discovered.load().is_some()
    }

    /// The JWKS cache and the allowed signing algorithms, once discovered: for tokens
    /// with rules of their own (back-channel logout tokens).
    pub fn signing_keys(&self) -> Option<(&JwksCache, Vec<jsonwebtoken::Algorithm>)> {
        let discovered = self.discovered.load();
        let algs = discovered.as_ref()?.validator.algs().to_vec();
        Some((&self.jwks, algs))
    }

    /// JWKS counters (fetches, failures, rate-limited refetches).
    pub fn jwks_stats(&self) -> &crate::auth::jwks::JwksStats {
        self.jwks.stats()
    }

    /// Starts the background task: discovery retried with exponential backoff (1 s → 60 s)
    /// until it succeeds, then discovery refreshed hourly and stale JWKS refreshed. The task
    /// ends on `shutdown` or when the runtime is dropped (it holds only a weak reference,
    /// so a provider replaced by a reload does not linger).
    pub fn spawn_refresh<S>(self: &Arc<Self>, shutdown: S) -> tokio::task::JoinHandle<()>
    where
        S: Future<Output = ()> + Send + 'static,
    {
        let weak: Weak<Self> = Arc::downgrade(self);
        let (first, cap) = self.backoff;
        tokio::spawn(async move {
            tokio::pin!(shutdown);
            let mut delay = first;
            loop {
                let wait = {
                    let Some(this) = weak.upgrade() else { return };
                    let work = this.refresh_once();
                    tokio::select! {
                        _ = &mut shutdown => return,
                        ok = work => if ok {
                            delay = first;
                            TICK
                        } else {
                            let wait = delay;
                            delay = (delay * 2).min(cap);
                            wait
                        },
                    }
                };
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        })
    }

    /// One pass of the background task; `false` = still undiscovered (back off).
    async fn refresh_once(&self) -> bool {
        let due = self
            .discovered
            .load()
            .as_ref()
            .is_none_or(|d| d.at.elapsed() >= DISCOVERY_REFRESH);
        if due {
            if let Err(e) = self.discover().await {
                tracing::warn!(error = %e, "discovery failed");
                return self.is_ready();
            }
        } else if self.jwks.is_stale() {
            // Failures are logged and counted inside; stale keys keep serving.
            let _ = self.jwks.refresh().await;
        }
        true
    }

    #[cfg(test)]
    pub(crate) fn set_backoff(&mut self, first: Duration, cap: Duration) {
        self.backoff = (first, cap);
    }
}

mod bearer;
mod discover;
mod id_token;
mod reuse;
mod userinfo;
pub use userinfo::UserinfoAnswer;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
