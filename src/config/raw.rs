//! The serde mirror of the YAML users write (see CONFIG.md), with every default.
//!
//! Holds values exactly as written (durations and enum names stay strings) so that
//! `validate.rs` can report every bad value with its path instead of serde stopping at the
//! first. Must mirror `schema.rs` key for key; a unit test checks that.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_yaml::Value;

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

/// `routes[]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRoute {
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: RawMatch,
    pub upstream: String,
    pub upstream_tls: Option<RawUpstreamTls>,
    pub strip_prefix: bool,
    pub preserve_host: bool,
    /// Required: `None` is reported, because a silent default is wrong either way.
    pub auth: Option<String>,
    pub provider: Option<String>,
    pub providers: Option<Vec<String>>,
    pub public_paths: Vec<String>,
    pub allow: RawAllow,
    /// `None` = the four default identity headers; `{}` = none at all.
    pub identity_headers: Option<OrderedStrMap>,
    pub forward_authorization: bool,
    pub pass_access_token: bool,
    pub timeouts: RawRouteTimeouts,
    pub cors: Option<RawCors>,
    pub rate_limit: Vec<RawRateLimit>,
    pub identity_assertion: Option<RawIdentityAssertion>,
    pub token_exchange: Option<RawTokenExchange>,
    /// `None` = what `auth` admits by itself.
    pub accept: Option<Vec<String>>,
    /// `None` = the provider's `dpop`.
    pub dpop: Option<String>,
    pub dpop_nonce: bool,
    pub protected_resource_metadata: bool,
}

impl Default for RawRoute {
    fn default() -> Self {
        RawRoute {
            name: String::new(),
            matcher: RawMatch::default(),
            upstream: String::new(),
            upstream_tls: None,
            strip_prefix: false,
            preserve_host: false,
            auth: None,
            provider: None,
            providers: None,
            public_paths: Vec::new(),
            allow: RawAllow::default(),
            identity_headers: None,
            forward_authorization: true,
            pass_access_token: false,
            timeouts: RawRouteTimeouts::default(),
            cors: None,
            rate_limit: Vec::new(),
            identity_assertion: None,
            token_exchange: None,
            accept: None,
            dpop: None,
            dpop_nonce: false,
            protected_resource_metadata: false,
        }
    }
}

/// `routes[].match`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawMatch {
    pub host: Option<String>,
    pub path_prefix: String,
}

impl Default for RawMatch {
    fn default() -> Self {
        RawMatch {
            host: None,
            path_prefix: "/".into(),
        }
    }
}

/// `routes[].upstream_tls`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawUpstreamTls {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// `routes[].allow`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAllow {
    pub users: Vec<String>,
    pub email_domains: Vec<String>,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
    pub claims: BTreeMap<String, Value>,
}

/// `routes[].timeouts`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRouteTimeouts {
    pub connect: String,
    pub response: String,
}

impl Default for RawRouteTimeouts {
    fn default() -> Self {
        RawRouteTimeouts {
            connect: "5s".into(),
            response: "60s".into(),
        }
    }
}

/// `routes[].rate_limit[]` (a single mapping is taken as a list of one by the schema
/// walk); every key is checked in `validate_rate_limit.rs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRateLimit {
    pub key: Option<String>,
    pub rate: Option<String>,
    pub burst: Option<u64>,
}

/// A string → string mapping that keeps file order (identity headers are set in the
/// order written, which keeps upstream-visible behaviour predictable).
#[derive(Debug, Default)]
pub(crate) struct OrderedStrMap(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedStrMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = OrderedStrMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of strings to strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedStrMap, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    entries.push(entry);
                }
                Ok(OrderedStrMap(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor)
    }
}
