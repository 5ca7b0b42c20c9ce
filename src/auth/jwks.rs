//! A provider's signing keys: parsing a JWKS into ready-to-use `DecodingKey`s (once per
//! fetch), looking a key up for a token, and the per-provider cache with TTL from
//! `Cache-Control`, rate-limited and coalesced refetches, and stale-if-error.
//!
//! Keys come only from the provider's `jwks_uri`: this module must never take a key from a
//! token (`jwk`, `jku`, `x5u`, `x5c`), never accept symmetric (`oct`) keys, and never make
//! a request wait on a refresh while it holds keys that still verify its token.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use thiserror::Error;

use crate::idp::observe::{IdpCall, ProviderObserver};
use crate::idp::{HttpError, IdpClient};

mod keys;
pub use keys::{asymmetric_alg, Candidates, KeyKind, KeyMiss, KeySet, VerifyKey, MAX_CANDIDATES};

/// TTL when the JWKS response has no usable `Cache-Control: max-age`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// Shortest TTL honoured (protects the IdP from `max-age=0`).
pub const MIN_TTL: Duration = Duration::from_secs(60);
/// Longest TTL honoured (rotation must be noticed within a day).
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// `max-age` from `Cache-Control`, clamped to [`MIN_TTL`, `MAX_TTL`]; `no-cache`/`no-store`
/// mean the minimum; absent or unparsable means [`DEFAULT_TTL`].
pub fn ttl_from_cache_control(value: Option<&str>) -> Duration {
    let Some(value) = value else {
        return DEFAULT_TTL;
    };
    let mut ttl = None;
    for directive in value.split(',').map(str::trim) {
        let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return MIN_TTL;
        }
        if name.eq_ignore_ascii_case("max-age") {
            ttl = arg
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    ttl.map_or(DEFAULT_TTL, |t| t.clamp(MIN_TTL, MAX_TTL))
}

/// Why keys could not be obtained.
#[derive(Debug, Clone, Error)]
pub enum JwksError {
    /// The JWKS could not be fetched.
    #[error("fetching JWKS: {0}")]
    Fetch(String),
    /// The JWKS document is unusable.
    #[error("parsing JWKS: {0}")]
    Parse(String),
    /// No keys yet and the last attempt failed less than the refetch interval ago.
    #[error("no JWKS yet; last fetch failed recently")]
    NotYet,
}

impl From<HttpError> for JwksError {
    fn from(e: HttpError) -> Self {
        JwksError::Fetch(e.to_string())
    }
}

/// Counters for metrics and tests (monotonic).
#[derive(Debug, Default)]
pub struct JwksStats {
    /// Successful fetches.
    pub fetch_ok: AtomicU64,
    /// Failed fetches (the previous keys, if any, stayed in use).
    pub fetch_failed: AtomicU64,
    /// Refetches refused by the rate limit.
    pub rate_limited: AtomicU64,
}

struct Snapshot {
    keys: Arc<KeySet>,
    expires_at: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// Periodic refresh or warm-up: not rate-limited.
    Forced,
    /// Missing/expired keys or unknown kid: at most once per refetch interval.
    Lazy,
}

struct Inner {
    provider: Arc<str>,
    client: IdpClient,
    uri: ArcSwap<String>,
    current: ArcSwapOption<Snapshot>,
    /// Serialises fetches; holds the time of the last attempt (for the rate limit).
    fetch_lock: tokio::sync::Mutex<Option<Instant>>,
    /// Bumped after every attempt, so callers that waited on the lock reuse its result.
    attempts: AtomicU64,
    refreshing: AtomicBool,
    refetch_interval: Duration,
    observer: Arc<dyn ProviderObserver>,
    stats: JwksStats,
}

/// The per-provider JWKS cache. Cheap to clone (shared state).
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

impl JwksCache {
    /// A cache for `jwks_uri`, empty until the first fetch.
    pub fn new(
        provider: Arc<str>,
        client: IdpClient,
        jwks_uri: String,
        refetch_interval: Duration,
        observer: Arc<dyn ProviderObserver>,
    ) -> Self {
        JwksCache {
            inner: Arc::new(Inner {
                provider,
                client,
                uri: ArcSwap::from_pointee(jwks_uri),
                current: ArcSwapOption::empty(),
                fetch_lock: tokio::sync::Mutex::new(None),
                attempts: AtomicU64::new(0),
                refreshing: AtomicBool::new(false),
                refetch_interval,
                observer,
                stats: JwksStats::default(),
            }),
        }
    }

    /// Points the cache at a new `jwks_uri` (after re-discovery); keys stay until refreshed.
    pub fn set_uri(&self, jwks_uri: &str) -> bool {
        if self.inner.uri.load().as_str() == jwks_uri {
            return false;
        }
        self.inner.uri.store(Arc::new(jwks_uri.to_owned()));
        true
    }

    /// Counters.
    pub fn stats(&self) -> &JwksStats {
        &self.inner.stats
    }

    /// Whether keys were ever loaded.
    pub fn has_keys(&self) -> bool {
        self.inner.current.load().is_some()
    }

    /// The current keys. Fetches (coalesced, rate-limited) when there are none; when they
    /// are past their TTL, returns them at once and refreshes in the background.
    pub async fn keys(&self) -> Result<Arc<KeySet>, JwksError> {
        if let Some(snap) = self.inner.current.load_full() {
            if Instant::now() >= snap.expires_at {
                self.refresh_in_background();
            }
            return Ok(snap.keys.clone());
        }
        self.inner.fetch(Trigger::Lazy).await
    }

    /// Refetch because a token names a key we do not have: at most once per refetch
    /// interval per provider; concurrent callers share one request. Returns the keys to
    /// retry with (possibly unchanged).
    pub async fn refetch_for_unknown_key(&self) -> Result<Arc<KeySet>, JwksError> {
        self.inner.fetch(Trigger::Lazy).await
    }

    /// Unconditional refresh (warm-up, periodic task); coalesced with concurrent fetches.
    pub async fn refresh(&self) -> Result<Arc<KeySet>, JwksError> {
        self.inner.fetch(Trigger::Forced).await
    }

    /// Whether the keys are past their TTL (the periodic task refreshes them then).
    pub fn is_stale(&self) -> bool {
        self.inner
            .current
            .load()
            .as_ref()
            .is_none_or(|s| Instant::now() >= s.expires_at)
    }

    fn refresh_in_background(&self) {
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            // Errors are logged and counted inside; stale keys keep serving meanwhile.
            let _ = inner.fetch(Trigger::Lazy).await;
            inner.refreshing.store(false, Ordering::Release);
        });
    }

    /// Test hook: makes the current keys look expired.
    #[cfg(test)]
    pub(crate) fn expire_now(&self) {
        if let Some(snap) = self.inner.current.load_full() {
            self.inner.current.store(Some(Arc::new(Snapshot {
                keys: snap.keys.clone(),
                expires_at: Instant::now(),
            })));
        }
    }
}

impl Inner {
    fn current_keys(&self) -> Option<Arc<KeySet>> {
        self.current.load().as_ref().map(|s| s.keys.clone())
    }

    async fn fetch(&self, trigger: Trigger) -> Result<Arc<KeySet>, JwksError> {
        let seen = self.attempts.load(Ordering::Acquire);
        let mut last_attempt = self.fetch_lock.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            // Someone fetched while we queued: their result is as fresh as ours would be.
            return self.current_keys().ok_or(JwksError::NotYet);
        }
        if trigger == Trigger::Lazy
            && last_attempt.is_some_and(|t| t.elapsed() < self.refetch_interval)
        {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            return self.current_keys().ok_or(JwksError::NotYet);
        }
        *last_attempt = Some(Instant::now());
        let started = Instant::now();
        let result = self.fetch_once().await;
        self.attempts.fetch_add(1, Ordering::AcqRel);
        let ok = result.is_ok();
        self.observer
            .idp_call(&self.provider, IdpCall::Jwks, started.elapsed(), ok);
        self.observer.jwks_fetch(&self.provider, ok);
        match result {
            Ok((keys, ttl)) => {
                self.stats.fetch_ok.fetch_add(1, Ordering::Relaxed);
                let keys = Arc::new(keys);
                self.current.store(Some(Arc::new(Snapshot {
                    keys: keys.clone(),
                    expires_at: Instant::now() + ttl,
                })));
                tracing::debug!(provider = %self.provider, keys = keys.len(), ttl_s = ttl.as_secs(), "JWKS loaded");
                Ok(keys)
            }
            Err(e) => {
                self.stats.fetch_failed.fetch_add(1, Ordering::Relaxed);
                let stale = self.current_keys();
                tracing::warn!(provider = %self.provider, error = %e, serving_stale = stale.is_some(), "JWKS fetch failed");
                stale.ok_or(e)
            }
        }
    }

    async fn fetch_once(&self) -> Result<(KeySet, Duration), JwksError> {
        let uri = self.uri.load_full();
        let response = self
            .client
            .get(&uri, "application/jwk-set+json, application/json")
            .await?
            .success()?;
        let cache_control = response
            .headers
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok());
        let ttl = ttl_from_cache_control(cache_control);
        Ok((KeySet::from_json(&response.body)?, ttl))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
