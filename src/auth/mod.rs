//! API authentication: credential parsing, JWT/JWKS validation, introspection, the
//! principal and the access policy. Pure logic: no listener or proxy code lives here.

pub mod api_key;
pub mod credentials;
pub mod dpop;
pub mod identity;
pub mod introspect;
pub mod jwks;
pub mod jwt;
pub mod local;
pub mod memo;
pub mod policy;
pub mod principal;
pub mod token_key;
pub mod token_params;
pub mod verified;
pub mod wanted;

use thiserror::Error;

/// A token's (or userinfo's) claim set.
pub type Claims = serde_json::Map<String, serde_json::Value>;

/// Why authentication failed. `error::respond` maps each variant to a status.
#[derive(Debug, Error)]
pub enum AuthError {
    /// No credentials at all (401 with a bare `WWW-Authenticate: Bearer realm=…`).
    #[error("no credentials")]
    Missing,
    /// The Authorization header is malformed (400 `invalid_request`).
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    /// The token is not acceptable (401 `invalid_token`). The reason is logged, never sent.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The identity provider could not be asked (503 + Retry-After). Never cached.
    #[error("identity provider unavailable: {0}")]
    IdpUnavailable(String),
    /// The cap on uncached calls to the identity provider is reached (503 with
    /// `Retry-After` of this many seconds). Never cached; cached tokens are unaffected.
    #[error("identity provider calls capped; retry after {0} s")]
    IdpThrottled(u64),
    /// The DPoP proof of a DPoP-bound token failed (RFC 9449 §7; see [`dpop::DpopError`]).
    #[error(transparent)]
    Dpop(#[from] dpop::DpopError),
}
