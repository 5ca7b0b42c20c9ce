//! Validated settings for machine clients: API key sources, the credentials a route
//! accepts, DPoP (RFC 9449) and protected resource metadata (RFC 9728). Plain data;
//! the key files themselves are read by `auth::api_key`, never here.

use std::path::PathBuf;
use std::time::Duration;

use http::HeaderName;

use super::AuthMode;

/// `api_keys[]` and `api_key_header`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeysConfig {
    /// Key files, in file order (a key found in an earlier source wins).
    pub sources: Vec<ApiKeySource>,
    /// A header carrying the bare key (e.g. `X-API-Key`), besides `Authorization: ApiKey`.
    pub header: Option<HeaderName>,
}

/// One `api_keys[]` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeySource {
    /// Unique name (metric label, `api_key` claim of its principals).
    pub name: String,
    /// The YAML list of `{ sha256, sub, groups, scopes, expires }` (watched for changes).
    pub file: PathBuf,
}

/// What a route lets a request authenticate with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accept {
    /// A session cookie.
    pub session: bool,
    /// An access token (`Bearer`, the provider's other schemes, `DPoP`).
    pub bearer: bool,
    /// An API key.
    pub api_key: bool,
}

impl Accept {
    /// What `auth` admits by itself (`any` without `accept`: session or bearer).
    pub fn of(auth: AuthMode) -> Accept {
        match auth {
            AuthMode::Bearer => Accept {
                bearer: true,
                ..Accept::default()
            },
            AuthMode::Session => Accept {
                session: true,
                ..Accept::default()
            },
            AuthMode::Any => Accept {
                session: true,
                bearer: true,
                api_key: false,
            },
            AuthMode::ApiKey => Accept {
                api_key: true,
                ..Accept::default()
            },
            AuthMode::None => Accept::default(),
        }
    }

    /// Whether an identity provider is involved (sessions or tokens).
    pub fn needs_provider(self) -> bool {
        self.session || self.bearer
    }
}

/// `dpop: off | allowed | required`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DpopMode {
    /// `Authorization: DPoP` is not accepted (bound tokens are still refused as Bearer).
    #[default]
    Off,
    /// DPoP-bound tokens with a proof, and plain Bearer tokens.
    Allowed,
    /// Only DPoP-bound tokens with a proof.
    Required,
}

/// `providers[].dpop` and `providers[].dpop_window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpopConfig {
    /// Whether this provider's tokens may (or must) be DPoP-bound.
    pub mode: DpopMode,
    /// How old a proof's `iat` may be (plus `tokens.leeway` either way); also how long a
    /// proof's `jti` is remembered and how long a server nonce lives.
    pub window: Duration,
}

impl Default for DpopConfig {
    fn default() -> Self {
        DpopConfig {
            mode: DpopMode::Off,
            window: Duration::from_secs(60),
        }
    }
}

/// A route's DPoP and RFC 9728 settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineRoute {
    /// The effective DPoP mode: the route's `dpop`, else its provider's.
    pub dpop: DpopMode,
    /// `dpop_nonce`: proofs must carry a server nonce (RFC 9449 §9).
    pub dpop_nonce: bool,
    /// `protected_resource_metadata`: publish the RFC 9728 document.
    pub protected_resource_metadata: bool,
}

/// The RFC 9728 well-known path (§3); a route's document lives at this + its prefix.
pub const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// The document path of a route: the well-known path + its prefix without the trailing
/// slash (RFC 9728 §3.1: the resource's path goes after the well-known part).
pub fn metadata_path(prefix: &str) -> String {
    format!("{RESOURCE_METADATA_PATH}{}", prefix.trim_end_matches('/'))
}
