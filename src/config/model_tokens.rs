//! The validated bearer-token guards (part of the model, kept apart so `model.rs` stays
//! small): caps on uncached identity-provider calls and the default access-token types
//! of introspection answers. Built only by `validate_tokens.rs`.

/// A cap on uncached calls to an identity provider (per provider, per replica).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallLimit {
    /// Sustained calls per second (the token bucket's refill rate).
    pub per_second: f64,
    /// Calls allowed back to back after a quiet period (the bucket's size).
    pub burst: u32,
    /// Calls waiting for the provider at once.
    pub max_in_flight: u32,
}

impl Default for CallLimit {
    /// 50/s, burst 50, 16 in flight: what one replica may ask of a provider.
    fn default() -> Self {
        CallLimit {
            per_second: 50.0,
            burst: 50,
            max_in_flight: 16,
        }
    }
}

/// `tokens.introspection.token_types` when not configured: the spellings providers use
/// for an access token (RFC 6749 §7.1 `Bearer`, RFC 9449 `DPoP`, RFC 8693's URI, Ory's
/// `token_use: access_token`, Cognito's `token_use: access`).
pub const DEFAULT_TOKEN_TYPES: [&str; 5] = [
    "Bearer",
    "DPoP",
    "access_token",
    "access",
    "urn:ietf:params:oauth:token-type:access_token",
];
