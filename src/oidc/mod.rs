//! OpenID Connect providers: the HTTP client for identity-provider calls, discovery, and
//! the per-provider runtime (metadata, JWKS, caches) that token validation reads.
//!
//! Must never decide an HTTP status for the gateway's clients (that is `error::respond`)
//! nor log a token or a secret.

pub mod backchannel;
pub mod client_auth;
pub mod discovery;
pub mod exchange;
pub mod login;
pub mod logout;
pub mod metadata;
pub mod provider;
pub mod refresh;
pub mod sso;
pub mod tokens;
pub mod urlenc;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod testkit;

use std::time::Duration;

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
}

/// An observer that records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl ProviderObserver for NoopObserver {}
