//! `routes[]` as written (the serde mirror of one route: match, upstream TLS, allow
//! rules, timeouts, rate limits) and [`OrderedStrMap`], the file-ordered mapping its
//! identity headers keep. The checks are in `validate_route.rs` and its siblings.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_yaml::Value;

use super::{RawCors, RawIdentityAssertion, RawTokenExchange};

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
