//! The serde mirror of the keys for what the gateway vouches for toward upstreams:
//! `signing_keys`, and a route's `identity_assertion` and `token_exchange` (values as
//! written; `validate_assertion.rs` checks them).

use serde::Deserialize;

/// `signing_keys[]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSigningKey {
    pub file: Option<String>,
    pub kid: String,
    pub not_before: Option<String>,
    pub revoked: bool,
}

/// `routes[].identity_assertion`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawIdentityAssertion {
    pub header: String,
    pub audience: Option<String>,
    pub ttl: String,
    pub alg: String,
}

impl Default for RawIdentityAssertion {
    fn default() -> Self {
        RawIdentityAssertion {
            header: crate::config::DEFAULT_ASSERTION_HEADER.into(),
            audience: None,
            ttl: "60s".into(),
            alg: "ES256".into(),
        }
    }
}

/// `routes[].token_exchange`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTokenExchange {
    pub audience: Option<String>,
    pub scope: Option<String>,
    pub provider: Option<String>,
}
