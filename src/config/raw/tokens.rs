//! `providers[].tokens` and `providers[].claims` as written (the serde mirror; see
//! `validate_tokens.rs` and `validate_provider.rs` for the checks).

use serde::Deserialize;

use super::strings;

/// `providers[].tokens`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTokens {
    pub schemes: Vec<String>,
    /// `None` = the provider's client_id.
    pub audiences: Option<Vec<String>>,
    pub leeway: String,
    pub jwks_refetch_interval: String,
    pub verified_cache_size: u64,
    pub introspection: Option<RawIntrospection>,
    pub userinfo_rate_limit: RawCallLimit,
}

impl Default for RawTokens {
    fn default() -> Self {
        RawTokens {
            schemes: strings(&["Bearer"]),
            audiences: None,
            leeway: "60s".into(),
            jwks_refetch_interval: "10s".into(),
            verified_cache_size: 10_000,
            introspection: None,
            userinfo_rate_limit: RawCallLimit::default(),
        }
    }
}

/// `providers[].tokens.introspection`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawIntrospection {
    pub client_id: String,
    pub client_secret: Option<String>,
    /// `None` = client_secret_basic; `auth_method` is its older name.
    pub client_auth: Option<String>,
    pub auth_method: Option<String>,
    /// `None` = the provider's `private_key_file`.
    pub private_key_file: Option<String>,
    pub cache_ttl: String,
    pub negative_cache_ttl: String,
    pub cache_size: u64,
    pub jwt_fallback: bool,
    pub token_types: Vec<String>,
    pub max_token_length: u64,
    pub rate_limit: RawCallLimit,
}

impl Default for RawIntrospection {
    fn default() -> Self {
        RawIntrospection {
            client_id: String::new(),
            client_secret: None,
            client_auth: None,
            auth_method: None,
            private_key_file: None,
            cache_ttl: "5m".into(),
            negative_cache_ttl: "10s".into(),
            cache_size: 10_000,
            jwt_fallback: false,
            token_types: strings(&crate::config::model::DEFAULT_TOKEN_TYPES),
            max_token_length: 4096,
            rate_limit: RawCallLimit::default(),
        }
    }
}

/// `tokens.introspection.rate_limit`, `tokens.userinfo_rate_limit`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCallLimit {
    pub rate: String,
    pub burst: u64,
    pub max_in_flight: u64,
}

impl Default for RawCallLimit {
    fn default() -> Self {
        RawCallLimit {
            rate: "50/s".into(),
            burst: 50,
            max_in_flight: 16,
        }
    }
}

/// `providers[].claims`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawClaims {
    pub username: Vec<String>,
    pub email: Vec<String>,
    pub groups: Vec<String>,
}

impl Default for RawClaims {
    fn default() -> Self {
        RawClaims {
            username: strings(&["preferred_username", "email", "sub"]),
            email: strings(&["email"]),
            groups: strings(&["groups"]),
        }
    }
}
