//! `routes[].rate_limit` and `rate_limit_store`, validated: what a route counts requests
//! by, how many it admits, and where the counts live. Holds no state; the buckets are
//! the `ratelimit` module's.

use std::time::Duration;

use http::HeaderName;

/// `routes[].rate_limit[]`: per key, `count` requests per `period` on average and at
/// most `burst` at once (a token bucket of `burst` tokens refilled at that rate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// What requests are counted by.
    pub key: RateLimitKey,
    /// Requests per `period` (the sustained rate).
    pub count: u64,
    /// The period of `count`: one second, minute, hour or day.
    pub period: Duration,
    /// Requests admitted at once by a key that has been quiet (default: `count`).
    pub burst: u64,
}

/// `routes[].rate_limit[].key`
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitKey {
    /// The authenticated principal: its provider and subject (after authentication).
    Principal,
    /// The client the credential was issued to (after authentication).
    Client,
    /// The client's IP address, IPv6 per /64 (before authentication).
    Ip,
    /// The values of one request header, lower-case name (before authentication).
    Header(HeaderName),
}

impl RateLimitKey {
    /// Whether the limit is checked before authentication (`ip`, `header`), so that a
    /// flood is refused before any token is looked at.
    pub fn before_auth(&self) -> bool {
        matches!(self, RateLimitKey::Ip | RateLimitKey::Header(_))
    }

    /// The key type as a metric label and policy name stem (never a key value).
    pub fn label(&self) -> &'static str {
        match self {
            RateLimitKey::Principal => "principal",
            RateLimitKey::Client => "client",
            RateLimitKey::Ip => "ip",
            RateLimitKey::Header(_) => "header",
        }
    }
}

/// `rate_limit_store`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitStore {
    /// Buckets in this process (each replica counts on its own).
    #[default]
    Local,
    /// Buckets in Redis (`session.redis.url`), shared by every replica; the local
    /// buckets stand in while Redis does not answer.
    Redis,
}
