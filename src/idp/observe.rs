//! What identity-provider calls report for metrics: the call kinds, introspection
//! outcomes and the observer trait the metrics registry implements.

use std::sync::OnceLock;
use std::time::Duration;

use crate::transport::sharded::ShardedCounter;

/// Which identity-provider call an event concerns (metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdpCall {
    /// The discovery document.
    Discovery,
    /// The JWKS document.
    Jwks,
    /// RFC 7662 token introspection.
    Introspection,
    /// The userinfo endpoint.
    Userinfo,
}

impl IdpCall {
    /// A stable lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            IdpCall::Discovery => "discovery",
            IdpCall::Jwks => "jwks",
            IdpCall::Introspection => "introspection",
            IdpCall::Userinfo => "userinfo",
        }
    }
}

/// Outcome of an introspection lookup (metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntrospectionOutcome {
    /// Answered from the cache.
    CacheHit,
    /// Asked the IdP: token active.
    Active,
    /// Asked the IdP: token inactive or failing our checks.
    Inactive,
    /// The IdP could not be asked (not cached).
    Error,
}

/// Hooks for metrics. Every method has a no-op default, so the metrics module implements
/// only what it records. Called on the request path: implementations must be cheap and
/// must never block.
pub trait ProviderObserver: Send + Sync + 'static {
    /// One HTTP call to an identity provider finished (`ok` = usable answer).
    fn idp_call(&self, _provider: &str, _call: IdpCall, _elapsed: Duration, _ok: bool) {}
    /// A JWKS fetch finished; on failure the previous keys (if any) keep being served.
    fn jwks_fetch(&self, _provider: &str, _ok: bool) {}
    /// An introspection lookup finished.
    fn introspection(&self, _provider: &str, _outcome: IntrospectionOutcome) {}
    /// A verified-token cache lookup (hit = signature check skipped).
    fn verified_cache(&self, _provider: &str, _hit: bool) {}
    /// An uncached call was refused by the provider's cap (`idp::limit`).
    fn idp_throttled(&self, _provider: &str, _call: IdpCall) {}
    /// The counter of `provider`'s hits in `cache`, resolved once for the request path;
    /// `None`: hits are reported through [`Self::verified_cache`] and
    /// [`Self::introspection`] instead.
    fn hit_counter(&self, _provider: &str, _cache: TokenCache) -> Option<ShardedCounter> {
        None
    }
}

/// A token cache of a provider (metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCache {
    /// Verified JWTs.
    Jwt,
    /// Introspection verdicts.
    Introspection,
}

impl TokenCache {
    /// A stable lower-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenCache::Jwt => "jwt",
            TokenCache::Introspection => "introspection",
        }
    }
}

/// Counts one provider's hits in one token cache, through a counter resolved on the first
/// hit: a cached token costs no label lookup.
#[derive(Debug, Default)]
pub struct HitCounter(OnceLock<Option<ShardedCounter>>);

impl HitCounter {
    /// One hit in `cache` of `provider`.
    pub fn hit(&self, observer: &dyn ProviderObserver, provider: &str, cache: TokenCache) {
        match self.0.get_or_init(|| observer.hit_counter(provider, cache)) {
            Some(counter) => counter.inc(),
            None => match cache {
                TokenCache::Jwt => observer.verified_cache(provider, true),
                TokenCache::Introspection => {
                    observer.introspection(provider, IntrospectionOutcome::CacheHit)
                }
            },
        }
    }
}

/// An observer that records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl ProviderObserver for NoopObserver {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use prometheus::IntCounter;

    use super::*;

    /// Counts hit-counter resolutions and the calls of the per-event hooks.
    #[derive(Default)]
    struct Counting {
        resolved: AtomicUsize,
        hooks: AtomicUsize,
        counter: Option<ShardedCounter>,
    }

    impl ProviderObserver for Counting {
        fn verified_cache(&self, _: &str, hit: bool) {
            assert!(hit);
            self.hooks.fetch_add(1, Ordering::Relaxed);
        }
        fn introspection(&self, _: &str, outcome: IntrospectionOutcome) {
            assert_eq!(outcome, IntrospectionOutcome::CacheHit);
            self.hooks.fetch_add(1, Ordering::Relaxed);
        }
        fn hit_counter(&self, _: &str, _: TokenCache) -> Option<ShardedCounter> {
            self.resolved.fetch_add(1, Ordering::Relaxed);
            self.counter.clone()
        }
    }

    #[test]
    fn hits_go_through_a_counter_resolved_once() {
        let folds = crate::transport::sharded::Folds::default();
        let counter = ShardedCounter::new(IntCounter::new("hits", "hits").unwrap(), &folds);
        let observer = Counting {
            counter: Some(counter.clone()),
            ..Counting::default()
        };
        let hits = HitCounter::default();
        for _ in 0..3 {
            hits.hit(&observer, "p", TokenCache::Jwt);
        }
        assert_eq!(counter.get(), 3);
        assert_eq!(observer.resolved.load(Ordering::Relaxed), 1);
        assert_eq!(observer.hooks.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn without_a_counter_hits_are_reported_through_the_hooks() {
        let observer = Counting::default();
        let (jwt, introspection) = (HitCounter::default(), HitCounter::default());
        jwt.hit(&observer, "p", TokenCache::Jwt);
        introspection.hit(&observer, "p", TokenCache::Introspection);
        introspection.hit(&observer, "p", TokenCache::Introspection);
        assert_eq!(observer.hooks.load(Ordering::Relaxed), 3);
        assert_eq!(observer.resolved.load(Ordering::Relaxed), 2);
    }
}
