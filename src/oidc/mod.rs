//! OpenID Connect providers: discovery, the per-provider runtime (metadata, JWKS, caches)
//! that token validation reads, and the browser login flow. The HTTP client for
//! identity-provider calls and client authentication live in `crate::idp`.
//!
//! Must never decide an HTTP status for the gateway's clients (that is `error::respond`)
//! nor log a token or a secret.

pub mod backchannel;
pub mod chooser;
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

pub use crate::idp::observe::{IdpCall, IntrospectionOutcome, NoopObserver, ProviderObserver};
