//! Per-route outcome counters handed to the features that count them (identity
//! assertions, token exchange), so those modules need not import the registry.

use prometheus::IntCounter;

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
