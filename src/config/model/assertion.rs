//! What the gateway vouches for toward upstreams: the keys that sign identity
//! assertions (`signing_keys`), a route's `identity_assertion` and its `token_exchange`.

use std::path::PathBuf;
use std::time::Duration;

use http::HeaderName;

/// The default `routes[].identity_assertion.header` (also stripped from every request
/// by `proxy::headers::WELL_KNOWN_IDENTITY_HEADERS`).
pub const DEFAULT_ASSERTION_HEADER: &str = "x-portcullis-assertion";

/// `signing_keys` and `signing_key_overlap`.
#[derive(Debug, Clone, Default)]
pub struct SigningConfig {
    /// Keys in file order; empty = a key is generated at start for the routes that sign.
    pub keys: Vec<SigningKeyConfig>,
    /// How long a key newly seen by this process is published before it signs (unless
    /// its `not_before` says otherwise).
    pub overlap: Duration,
}

/// One `signing_keys[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyConfig {
    /// Key id, published in the JWKS and named by every assertion it signs.
    pub kid: String,
    /// PEM private key (EC P-256, RSA ≥ 2048 bits or Ed25519); `None` only when revoked.
    pub file: Option<PathBuf>,
    /// When the key may start signing; `None` = after `signing_key_overlap`.
    pub not_before: Option<NotBefore>,
    /// Revoked: never published, never signs, forgotten at once.
    pub revoked: bool,
}

/// `signing_keys[].not_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotBefore {
    /// An RFC 3339 instant, as Unix seconds (the same on every replica).
    At(u64),
    /// This long after this process first loaded the key.
    After(Duration),
}

/// `routes[].identity_assertion.alg`: the JWS algorithm of the assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssertionAlg {
    /// ECDSA P-256 with SHA-256 (the default).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl AssertionAlg {
    /// The JOSE name (`ES256`, `RS256`, `EdDSA`).
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionAlg::Es256 => "ES256",
            AssertionAlg::Rs256 => "RS256",
            AssertionAlg::EdDsa => "EdDSA",
        }
    }
}

/// `routes[].identity_assertion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityAssertionConfig {
    /// The request header that carries it (client copies are always stripped).
    pub header: HeaderName,
    /// The `aud` claim.
    pub audience: String,
    /// Lifetime (`exp` - `iat`).
    pub ttl: Duration,
    /// Signing algorithm.
    pub alg: AssertionAlg,
}

/// `routes[].token_exchange` (RFC 8693).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExchangeConfig {
    /// Index into `Config::providers` of the provider whose token endpoint exchanges.
    pub provider: usize,
    /// `audience` of the exchange request.
    pub audience: Option<String>,
    /// `scope` of the exchange request.
    pub scope: Option<String>,
}
