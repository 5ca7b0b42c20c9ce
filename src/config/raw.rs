//! The serde mirror of the YAML users write (see CONFIG.md), with every default.
//!
//! Holds values exactly as written (durations and enum names stay strings) so that the
//! validation (`validate.rs` and its `validate_*.rs` sections) can report every bad value
//! with its path instead of serde stopping at the first. Must mirror `schema.rs` key for
//! key; a unit test checks that.

use std::collections::BTreeMap;

use serde::Deserialize;

mod cors;
mod tokens;
pub(crate) use cors::RawCors;
pub(crate) use tokens::{RawCallLimit, RawClaims, RawIntrospection, RawTokens};
mod assertion;
pub(crate) use assertion::{RawIdentityAssertion, RawSigningKey, RawTokenExchange};
mod trace;
pub(crate) use trace::RawTracing;
mod machine;
pub(crate) use machine::RawApiKeySource;
mod route;
pub(crate) use route::{OrderedStrMap, RawAllow, RawRateLimit, RawRoute, RawUpstreamTls};
// Named only by the schema test, which compares every serde mirror with the key tree.
#[cfg(test)]
pub(crate) use route::{RawMatch, RawRouteTimeouts};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawConfig {
    pub server: RawServer,
    pub admin: RawAdmin,
    pub log: RawLog,
    pub providers: Vec<RawProvider>,
    pub session: RawSession,
    pub routes: Vec<RawRoute>,
    /// `None` = local.
    pub rate_limit_store: Option<String>,
    pub signing_keys: Vec<RawSigningKey>,
    /// `None` = the default overlap.
    pub signing_key_overlap: Option<String>,
    pub tracing: Option<RawTracing>,
    pub api_keys: Vec<RawApiKeySource>,
    pub api_key_header: Option<String>,
}

/// `server:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawServer {
    pub listen: String,
    pub public_url: Option<String>,
    pub tls: Option<RawTls>,
    pub trusted_proxies: Vec<String>,
    pub timeouts: RawServerTimeouts,
    pub limits: RawLimits,
    pub proxy_prefix: String,
    pub escaped_slashes: String,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: "0.0.0.0:8080".into(),
            public_url: None,
            tls: None,
            trusted_proxies: Vec::new(),
            timeouts: RawServerTimeouts::default(),
            limits: RawLimits::default(),
            proxy_prefix: "/oauth2".into(),
            escaped_slashes: "reject".into(),
        }
    }
}

/// `server.tls`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// `server.timeouts`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawServerTimeouts {
    pub header_read: String,
    pub idle: String,
    pub shutdown_grace: String,
}

impl Default for RawServerTimeouts {
    fn default() -> Self {
        RawServerTimeouts {
            header_read: "10s".into(),
            idle: "60s".into(),
            shutdown_grace: "30s".into(),
        }
    }
}

/// `server.limits`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLimits {
    pub max_header_bytes: u64,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_header_bytes: 16_384,
        }
    }
}

/// `admin:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAdmin {
    pub listen: String,
}

impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin {
            listen: "127.0.0.1:9090".into(),
        }
    }
}

/// `log:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLog {
    pub format: String,
    pub level: String,
    pub access: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            format: "pretty".into(),
            level: "info".into(),
            access: "on".into(),
        }
    }
}

/// `providers[]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawProvider {
    pub name: String,
    pub issuer: String,
    pub discovery_url: Option<String>,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub client_auth: String,
    pub private_key_file: Option<String>,
    pub ca_file: Option<String>,
    pub scopes: Vec<String>,
    pub auth_params: BTreeMap<String, String>,
    pub userinfo: String,
    pub signing_algs: Option<Vec<String>>,
    pub tokens: RawTokens,
    pub claims: RawClaims,
    pub jwks_uri: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub introspection_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    pub display_name: Option<String>,
    pub domains: Vec<String>,
    pub dpop: String,
    pub dpop_window: String,
}

impl Default for RawProvider {
    fn default() -> Self {
        RawProvider {
            name: String::new(),
            issuer: String::new(),
            discovery_url: None,
            client_id: String::new(),
            client_secret: None,
            client_auth: "client_secret_basic".into(),
            private_key_file: None,
            ca_file: None,
            scopes: strings(&["openid", "profile", "email"]),
            auth_params: BTreeMap::new(),
            userinfo: "auto".into(),
            signing_algs: None,
            tokens: RawTokens::default(),
            claims: RawClaims::default(),
            jwks_uri: None,
            userinfo_endpoint: None,
            introspection_endpoint: None,
            revocation_endpoint: None,
            end_session_endpoint: None,
            display_name: None,
            domains: Vec::new(),
            dpop: "off".into(),
            dpop_window: "60s".into(),
        }
    }
}

/// `session:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSession {
    pub cookie_name: String,
    pub secrets: Vec<String>,
    pub lifetime: String,
    pub idle_timeout: String,
    pub refresh: bool,
    pub store: String,
    pub redis: Option<RawRedis>,
    pub allowed_redirect_domains: Vec<String>,
    pub logout_redirect: Option<String>,
}

impl Default for RawSession {
    fn default() -> Self {
        RawSession {
            cookie_name: "portcullis".into(),
            secrets: Vec::new(),
            lifetime: "12h".into(),
            idle_timeout: "1h".into(),
            refresh: true,
            store: "cookie".into(),
            redis: None,
            allowed_redirect_domains: Vec::new(),
            logout_redirect: None,
        }
    }
}

/// `session.redis`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRedis {
    pub url: Option<String>,
}
