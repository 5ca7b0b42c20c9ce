//! Per-route outcome counters handed to the features that count them (identity
//! assertions, token exchange), so those modules need not import the registry, and the
//! registry's resolvers of them.

use prometheus::IntCounter;

use super::Metrics;

/// Outcome counters of one route (`portcullis_identity_assertions_total`).
#[derive(Clone)]
pub struct AssertionMetrics {
    /// A new assertion was signed.
    pub signed: IntCounter,
    /// A cached assertion was sent.
    pub cache_hit: IntCounter,
    /// No assertion could be made.
    pub failed: IntCounter,
}

/// Outcome counters of one route (`portcullis_token_exchanges_total`).
#[derive(Clone)]
pub struct ExchangeMetrics {
    /// Served from the cache (or by a concurrent exchange of the same token).
    pub cache_hit: IntCounter,
    /// Exchanged at the provider.
    pub exchanged: IntCounter,
    /// Refused by the provider.
    pub refused: IntCounter,
    /// The provider was unavailable.
    pub unavailable: IntCounter,
}

impl Metrics {
    /// The identity-assertion counters of one route.
    pub fn assertion(&self, route: &str) -> AssertionMetrics {
        let c = |outcome| {
            self.identity_assertions
                .with_label_values(&[route, outcome])
        };
        AssertionMetrics {
            signed: c("signed"),
            cache_hit: c("cache_hit"),
            failed: c("failure"),
        }
    }

    /// The token-exchange counters of one route.
    pub fn exchange(&self, route: &str) -> ExchangeMetrics {
        let c = |outcome| self.token_exchanges.with_label_values(&[route, outcome]);
        ExchangeMetrics {
            cache_hit: c("cache_hit"),
            exchanged: c("exchanged"),
            refused: c("refused"),
            unavailable: c("unavailable"),
        }
    }
}
