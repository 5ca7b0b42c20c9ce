//! The key tree of the config file: which keys exist where and what shape each value has.
//!
//! Drives the schema walk (`walk.rs`) that reports EVERY unknown key with a hint and
//! every wrong type with its path, which serde's `deny_unknown_fields` cannot (it stops
//! at the first error and loses the path). Must list exactly the fields of `raw.rs`; the
//! tests below compare both.

/// The expected shape of one value.
#[derive(Debug)]
pub(crate) enum Shape {
    /// A scalar read as a string (numbers and booleans are accepted as their text).
    Str,
    /// `true` / `false` (also as a string, so `${VAR}` can supply it).
    Bool,
    /// A non-negative integer (also as a string of digits).
    UInt,
    /// A list of [`Shape::Str`].
    StrList,
    /// A mapping with free string keys and [`Shape::Str`] values.
    StrMap,
    /// A mapping with free string keys and scalar or list-of-scalar values (`allow.claims`).
    ClaimMap,
    /// A mapping with a fixed set of keys.
    Obj(&'static [Field]),
    /// A list of values of one shape.
    List(&'static Shape),
    /// [`Shape::List`] that also takes a single value as a list of one (`rate_limit`).
    OneOrList(&'static Shape),
}

/// One known key and the shape of its value.
pub(crate) type Field = (&'static str, Shape);

/// The whole file.
pub(crate) static ROOT: Shape = Shape::Obj(ROOT_FIELDS);

const ROOT_FIELDS: &[Field] = &[
    ("server", Shape::Obj(SERVER)),
    ("admin", Shape::Obj(ADMIN)),
    ("log", Shape::Obj(LOG)),
    ("providers", Shape::List(&Shape::Obj(PROVIDER))),
    ("session", Shape::Obj(SESSION)),
    ("routes", Shape::List(&Shape::Obj(ROUTE))),
    ("rate_limit_store", Shape::Str),
    ("signing_keys", Shape::List(&Shape::Obj(SIGNING_KEY))),
    ("signing_key_overlap", Shape::Str),
    ("tracing", Shape::Obj(TRACING)),
    ("api_keys", Shape::List(&Shape::Obj(API_KEY_SOURCE))),
    ("api_key_header", Shape::Str),
];

pub(crate) const SIGNING_KEY: &[Field] = &[
    ("file", Shape::Str),
    ("kid", Shape::Str),
    ("not_before", Shape::Str),
    ("revoked", Shape::Bool),
];

pub(crate) const TRACING: &[Field] = &[
    ("otlp_endpoint", Shape::Str),
    ("sample_ratio", Shape::Str),
    ("service_name", Shape::Str),
    ("headers", Shape::StrMap),
    ("timeout", Shape::Str),
    ("ca_file", Shape::Str),
    ("queue_size", Shape::UInt),
    ("batch_size", Shape::UInt),
    ("batch_delay", Shape::Str),
    ("resource", Shape::StrMap),
];

pub(crate) const API_KEY_SOURCE: &[Field] = &[("name", Shape::Str), ("file", Shape::Str)];

pub(crate) const SERVER: &[Field] = &[
    ("listen", Shape::Str),
    ("public_url", Shape::Str),
    ("tls", Shape::Obj(TLS)),
    ("trusted_proxies", Shape::StrList),
    ("timeouts", Shape::Obj(SERVER_TIMEOUTS)),
    ("limits", Shape::Obj(LIMITS)),
    ("proxy_prefix", Shape::Str),
    ("escaped_slashes", Shape::Str),
];

pub(crate) const TLS: &[Field] = &[("cert_file", Shape::Str), ("key_file", Shape::Str)];

pub(crate) const SERVER_TIMEOUTS: &[Field] = &[
    ("header_read", Shape::Str),
    ("idle", Shape::Str),
    ("shutdown_grace", Shape::Str),
];

pub(crate) const LIMITS: &[Field] = &[("max_header_bytes", Shape::UInt)];

pub(crate) const ADMIN: &[Field] = &[("listen", Shape::Str)];

pub(crate) const LOG: &[Field] = &[
    ("format", Shape::Str),
    ("level", Shape::Str),
    ("access", Shape::Str),
];

pub(crate) const PROVIDER: &[Field] = &[
    ("name", Shape::Str),
    ("issuer", Shape::Str),
    ("discovery_url", Shape::Str),
    ("client_id", Shape::Str),
    ("client_secret", Shape::Str),
    ("client_auth", Shape::Str),
    ("private_key_file", Shape::Str),
    ("ca_file", Shape::Str),
    ("scopes", Shape::StrList),
    ("auth_params", Shape::StrMap),
    ("userinfo", Shape::Str),
    ("signing_algs", Shape::StrList),
    ("tokens", Shape::Obj(TOKENS)),
    ("claims", Shape::Obj(CLAIMS)),
    ("jwks_uri", Shape::Str),
    ("userinfo_endpoint", Shape::Str),
    ("introspection_endpoint", Shape::Str),
    ("revocation_endpoint", Shape::Str),
    ("end_session_endpoint", Shape::Str),
    ("display_name", Shape::Str),
    ("domains", Shape::StrList),
    ("dpop", Shape::Str),
    ("dpop_window", Shape::Str),
];

pub(crate) const TOKENS: &[Field] = &[
    ("schemes", Shape::StrList),
    ("audiences", Shape::StrList),
    ("leeway", Shape::Str),
    ("jwks_refetch_interval", Shape::Str),
    ("verified_cache_size", Shape::UInt),
    ("introspection", Shape::Obj(INTROSPECTION)),
    ("userinfo_rate_limit", Shape::Obj(CALL_LIMIT)),
];

pub(crate) const INTROSPECTION: &[Field] = &[
    ("client_id", Shape::Str),
    ("client_secret", Shape::Str),
    ("client_auth", Shape::Str),
    ("auth_method", Shape::Str),
    ("private_key_file", Shape::Str),
    ("cache_ttl", Shape::Str),
    ("negative_cache_ttl", Shape::Str),
    ("cache_size", Shape::UInt),
    ("jwt_fallback", Shape::Bool),
    ("token_types", Shape::StrList),
    ("max_token_length", Shape::UInt),
    ("rate_limit", Shape::Obj(CALL_LIMIT)),
];

pub(crate) const CALL_LIMIT: &[Field] = &[
    ("rate", Shape::Str),
    ("burst", Shape::UInt),
    ("max_in_flight", Shape::UInt),
];

pub(crate) const CLAIMS: &[Field] = &[
    ("username", Shape::StrList),
    ("email", Shape::StrList),
    ("groups", Shape::StrList),
];

pub(crate) const SESSION: &[Field] = &[
    ("cookie_name", Shape::Str),
    ("secrets", Shape::StrList),
    ("lifetime", Shape::Str),
    ("idle_timeout", Shape::Str),
    ("refresh", Shape::Bool),
    ("store", Shape::Str),
    ("redis", Shape::Obj(REDIS)),
    ("allowed_redirect_domains", Shape::StrList),
    ("logout_redirect", Shape::Str),
];

pub(crate) const REDIS: &[Field] = &[("url", Shape::Str)];

pub(crate) const ROUTE: &[Field] = &[
    ("name", Shape::Str),
    ("match", Shape::Obj(MATCH)),
    ("upstream", Shape::Str),
    ("upstream_tls", Shape::Obj(UPSTREAM_TLS)),
    ("strip_prefix", Shape::Bool),
    ("preserve_host", Shape::Bool),
    ("auth", Shape::Str),
    ("provider", Shape::Str),
    ("providers", Shape::StrList),
    ("public_paths", Shape::StrList),
    ("allow", Shape::Obj(ALLOW)),
    ("identity_headers", Shape::StrMap),
    ("forward_authorization", Shape::Bool),
    ("pass_access_token", Shape::Bool),
    ("timeouts", Shape::Obj(ROUTE_TIMEOUTS)),
    ("cors", Shape::Obj(CORS)),
    ("rate_limit", Shape::OneOrList(&Shape::Obj(RATE_LIMIT))),
    ("identity_assertion", Shape::Obj(IDENTITY_ASSERTION)),
    ("token_exchange", Shape::Obj(TOKEN_EXCHANGE)),
    ("accept", Shape::StrList),
    ("dpop", Shape::Str),
    ("dpop_nonce", Shape::Bool),
    ("protected_resource_metadata", Shape::Bool),
];

pub(crate) const RATE_LIMIT: &[Field] = &[
    ("key", Shape::Str),
    ("rate", Shape::Str),
    ("burst", Shape::UInt),
];

pub(crate) const IDENTITY_ASSERTION: &[Field] = &[
    ("header", Shape::Str),
    ("audience", Shape::Str),
    ("ttl", Shape::Str),
    ("alg", Shape::Str),
];

pub(crate) const TOKEN_EXCHANGE: &[Field] = &[
    ("audience", Shape::Str),
    ("scope", Shape::Str),
    ("provider", Shape::Str),
];

pub(crate) const MATCH: &[Field] = &[("host", Shape::Str), ("path_prefix", Shape::Str)];

pub(crate) const UPSTREAM_TLS: &[Field] = &[
    ("ca_file", Shape::Str),
    ("cert_file", Shape::Str),
    ("key_file", Shape::Str),
];

pub(crate) const ALLOW: &[Field] = &[
    ("users", Shape::StrList),
    ("email_domains", Shape::StrList),
    ("groups", Shape::StrList),
    ("scopes", Shape::StrList),
    ("claims", Shape::ClaimMap),
];

pub(crate) const ROUTE_TIMEOUTS: &[Field] = &[("connect", Shape::Str), ("response", Shape::Str)];

pub(crate) const CORS: &[Field] = &[
    ("allow_origins", Shape::StrList),
    ("allow_methods", Shape::StrList),
    ("allow_headers", Shape::StrList),
    ("expose_headers", Shape::StrList),
    ("allow_credentials", Shape::Bool),
    ("max_age", Shape::Str),
    ("allow_private_network", Shape::Bool),
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    //! Keeps this table and the serde structs of `raw.rs` identical: serde hands the
    //! derived field list to `deserialize_struct`, which a probe deserializer captures.
    use super::*;
    use crate::config::raw;
    use serde::de::{self, Deserialize, Visitor};

    struct Probe(Vec<&'static str>);
    #[derive(Debug)]
    struct Captured;
    impl std::fmt::Display for Captured {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("captured")
        }
    }
    impl std::error::Error for Captured {}
    impl de::Error for Captured {
        fn custom<T: std::fmt::Display>(_: T) -> Self {
            Captured
        }
    }
    impl<'de> de::Deserializer<'de> for &mut Probe {
        type Error = Captured;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
            Err(Captured)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Captured> {
            self.0 = fields.to_vec();
            Err(Captured)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    fn serde_fields<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
        let mut probe = Probe(Vec::new());
        let _ = T::deserialize(&mut probe);
        probe.0
    }

    fn table_fields(fields: &[Field]) -> Vec<&'static str> {
        fields.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn schema_matches_raw_structs() {
        let Shape::Obj(root) = &ROOT else {
            unreachable!()
        };
        let pairs: Vec<(Vec<&str>, &[Field], &str)> = vec![
            (serde_fields::<raw::RawConfig>(), root, "root"),
            (serde_fields::<raw::RawServer>(), SERVER, "server"),
            (serde_fields::<raw::RawTls>(), TLS, "tls"),
            (
                serde_fields::<raw::RawServerTimeouts>(),
                SERVER_TIMEOUTS,
                "timeouts",
            ),
            (serde_fields::<raw::RawLimits>(), LIMITS, "limits"),
            (serde_fields::<raw::RawAdmin>(), ADMIN, "admin"),
            (serde_fields::<raw::RawLog>(), LOG, "log"),
            (serde_fields::<raw::RawProvider>(), PROVIDER, "provider"),
            (serde_fields::<raw::RawTokens>(), TOKENS, "tokens"),
            (
                serde_fields::<raw::RawIntrospection>(),
                INTROSPECTION,
                "introspection",
            ),
            (
                serde_fields::<raw::RawCallLimit>(),
                CALL_LIMIT,
                "rate_limit",
            ),
            (serde_fields::<raw::RawClaims>(), CLAIMS, "claims"),
            (serde_fields::<raw::RawSession>(), SESSION, "session"),
            (serde_fields::<raw::RawRedis>(), REDIS, "redis"),
            (serde_fields::<raw::RawRoute>(), ROUTE, "route"),
            (
                serde_fields::<raw::RawApiKeySource>(),
                API_KEY_SOURCE,
                "api_keys",
            ),
            (serde_fields::<raw::RawMatch>(), MATCH, "match"),
            (
                serde_fields::<raw::RawUpstreamTls>(),
                UPSTREAM_TLS,
                "upstream_tls",
            ),
            (serde_fields::<raw::RawAllow>(), ALLOW, "allow"),
            (
                serde_fields::<raw::RawSigningKey>(),
                SIGNING_KEY,
                "signing key",
            ),
            (
                serde_fields::<raw::RawIdentityAssertion>(),
                IDENTITY_ASSERTION,
                "identity_assertion",
            ),
            (
                serde_fields::<raw::RawTokenExchange>(),
                TOKEN_EXCHANGE,
                "token_exchange",
            ),
            (
                serde_fields::<raw::RawRouteTimeouts>(),
                ROUTE_TIMEOUTS,
                "route timeouts",
            ),
            (serde_fields::<raw::RawCors>(), CORS, "cors"),
            (
                serde_fields::<raw::RawRateLimit>(),
                RATE_LIMIT,
                "rate_limit",
            ),
            (serde_fields::<raw::RawTracing>(), TRACING, "tracing"),
        ];
        for (serde, table, what) in pairs {
            let mut a = serde.clone();
            let mut b = table_fields(table);
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "schema.rs and raw.rs disagree on {what}");
        }
    }
}
