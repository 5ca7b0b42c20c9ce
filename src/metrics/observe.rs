//! The registry as the identity-provider code's observer: IdP call latency, JWKS
//! fetches, introspection and token-cache outcomes, throttled calls.

use super::Metrics;

impl crate::idp::observe::ProviderObserver for Metrics {
    fn idp_call(
        &self,
        provider: &str,
        call: crate::idp::observe::IdpCall,
        elapsed: std::time::Duration,
        _ok: bool,
    ) {
        self.idp_latency
            .with_label_values(&[provider, call.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    fn jwks_fetch(&self, provider: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.jwks_fetches
            .with_label_values(&[provider, result])
            .inc();
    }

    fn introspection(&self, provider: &str, outcome: crate::idp::observe::IntrospectionOutcome) {
        use crate::idp::observe::IntrospectionOutcome as O;
        let (cache, call) = match outcome {
            O::CacheHit => ("hit", None),
            O::Active => ("miss", Some("active")),
            O::Inactive => ("miss", Some("inactive")),
            O::Error => ("miss", Some("error")),
        };
        self.token_cache
            .with_label_values(&[provider, "introspection", cache])
            .inc();
        if let Some(result) = call {
            self.introspections
                .with_label_values(&[provider, result])
                .inc();
        }
    }

    fn idp_throttled(&self, provider: &str, call: crate::idp::observe::IdpCall) {
        self.idp_throttled
            .with_label_values(&[provider, call.as_str()])
            .inc();
    }

    fn hit_counter(
        &self,
        provider: &str,
        cache: crate::idp::observe::TokenCache,
    ) -> Option<super::ShardedCounter> {
        let counter = self
            .token_cache
            .with_label_values(&[provider, cache.as_str(), "hit"]);
        Some(super::ShardedCounter::new(counter, &self.folds))
    }

    fn verified_cache(&self, provider: &str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.token_cache
            .with_label_values(&[provider, "jwt", result])
            .inc();
    }
}
