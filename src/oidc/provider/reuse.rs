//! Deciding whether a provider runtime (and its caches) survives a config reload. Must
//! never say yes when any setting differs: a cache filled under other rules (audiences,
//! secrets, algorithms) must not answer for the new ones.

use super::ProviderRuntime;
use crate::config::{IntrospectionConfig, ProviderConfig, TokensConfig};

impl ProviderRuntime {
    /// Whether this runtime (and its caches) can serve `new_cfg` after a reload: true only
    /// when every setting is the same (ProviderConfig has no `PartialEq`, so compare here).
    pub fn can_reuse(&self, new_cfg: &ProviderConfig) -> bool {
        let (a, b) = (&self.cfg, new_cfg);
        a.name == b.name
            && a.issuer == b.issuer
            && a.discovery_url == b.discovery_url
            && a.client_id == b.client_id
            && a.client_secret == b.client_secret
            && a.client_auth == b.client_auth
            && a.private_key_file == b.private_key_file
            && a.ca_file == b.ca_file
            && a.scopes == b.scopes
            && a.auth_params == b.auth_params
            && a.userinfo == b.userinfo
            && a.signing_algs == b.signing_algs
            && a.claims == b.claims
            && a.endpoints == b.endpoints
            && same_tokens(&a.tokens, &b.tokens)
    }
}

fn same_tokens(a: &TokensConfig, b: &TokensConfig) -> bool {
    a.schemes == b.schemes
        && a.audiences == b.audiences
        && a.leeway == b.leeway
        && a.jwks_refetch_interval == b.jwks_refetch_interval
        && a.verified_cache_size == b.verified_cache_size
        && match (&a.introspection, &b.introspection) {
            (None, None) => true,
            (Some(x), Some(y)) => same_introspection(x, y),
            _ => false,
        }
}

fn same_introspection(a: &IntrospectionConfig, b: &IntrospectionConfig) -> bool {
    a.client_id == b.client_id
        && a.client_secret == b.client_secret
        && a.auth_method == b.auth_method
        && a.private_key_file == b.private_key_file
        && a.cache_ttl == b.cache_ttl
        && a.negative_cache_ttl == b.negative_cache_ttl
        && a.cache_size == b.cache_size
        && a.jwt_fallback == b.jwt_fallback
}
