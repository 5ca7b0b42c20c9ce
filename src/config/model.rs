//! The validated configuration: what the rest of the gateway reads.
//!
//! Built only by the validation (`validate.rs` and its `validate_*.rs` sections) from the
//! raw serde mirror; every value here has already been checked, so consumers never
//! re-validate. Must never hold unparsed strings where a typed value exists, and secrets
//! live in [`Secret`] so they cannot be printed by accident.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;

mod assertion;
mod cidr;
pub mod cors;
pub mod trace;
pub use trace::TracingConfig;
mod endpoints;
mod rate_limit;
pub use super::model_tokens::{CallLimit, DEFAULT_TOKEN_TYPES};
pub use assertion::{
    AssertionAlg, IdentityAssertionConfig, NotBefore, SigningConfig, SigningKeyConfig,
    TokenExchangeConfig, DEFAULT_ASSERTION_HEADER,
};
pub use cidr::Cidr;
pub use endpoints::EndpointOverrides;
pub use rate_limit::{RateLimit, RateLimitKey, RateLimitStore};
mod machine;
mod route;
mod secret;
pub use machine::{
    metadata_path, Accept, ApiKeySource, ApiKeysConfig, DpopConfig, DpopMode, MachineRoute,
    RESOURCE_METADATA_PATH,
};
pub use route::{
    AllowRules, AuthMode, HostMatch, RouteConfig, RouteTimeouts, Upstream, UpstreamTls,
};
pub use secret::Secret;

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Public listener.
    pub server: ServerConfig,
    /// Admin listener (/healthz, /readyz, /metrics).
    pub admin: AdminConfig,
    /// Logging.
    pub log: LogConfig,
    /// Identity providers, in file order.
    pub providers: Vec<ProviderConfig>,
    /// Browser sessions.
    pub session: SessionConfig,
    /// Routes, in file order (matching picks the most specific, not the first).
    pub routes: Vec<RouteConfig>,
    /// `rate_limit_store`: where the routes' rate-limit buckets live.
    pub rate_limit_store: RateLimitStore,
    /// Keys that sign identity assertions (`signing_keys`, `signing_key_overlap`).
    pub signing: SigningConfig,
    /// Distributed tracing (`tracing:`); `None` = off.
    pub tracing: Option<TracingConfig>,
    /// `api_keys` sources and `api_key_header`.
    pub api_keys: ApiKeysConfig,
}

/// `server:`
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address of the public listener.
    pub listen: SocketAddr,
    /// External origin (scheme://host[:port]), no path; `None` = derived from requests.
    pub public_url: Option<Uri>,
    /// Optional TLS termination.
    pub tls: Option<TlsFiles>,
    /// Peers whose X-Forwarded-* and X-Request-Id are kept.
    pub trusted_proxies: Vec<Cidr>,
    /// Listener timeouts.
    pub timeouts: ServerTimeouts,
    /// Request size limits.
    pub limits: ServerLimits,
    /// Prefix of the gateway's own endpoints (default `/oauth2`), no trailing slash.
    pub proxy_prefix: String,
    /// What a request path holding an escaped `/` or `\` gets (default: refused).
    pub escaped_slashes: EscapedSlashes,
}

/// `server.escaped_slashes`: what happens to a path with `%2F` or `%5C` in it (any case,
/// also escaped again: `%252F`), after Envoy's `path_with_escaped_slashes_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EscapedSlashes {
    /// 400 (Envoy's `REJECT_REQUEST`).
    #[default]
    Reject,
    /// `%2F` and `%5C` become `/`; the decoded path is routed and forwarded
    /// (`UNESCAPE_AND_FORWARD`). Escaped again (`%252F`): 400.
    Decode,
    /// Forwarded as written (`KEEP_UNCHANGED`), unless the decoded reading would take
    /// another route: 400.
    Keep,
}

/// PEM certificate chain + private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// `server.timeouts`
#[derive(Debug, Clone, Copy)]
pub struct ServerTimeouts {
    /// Max time to receive a request's headers (slowloris guard). Default 10s.
    pub header_read: Duration,
    /// Idle keep-alive connection timeout. Default 60s.
    pub idle: Duration,
    /// How long in-flight requests may drain on shutdown. Default 30s.
    pub shutdown_grace: Duration,
}

/// `server.limits`
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Max total size of request headers; past it the answer is 431. Default 16384.
    pub max_header_bytes: usize,
}

/// `admin:`
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Address of the admin listener; `None` disables it.
    pub listen: Option<SocketAddr>,
}

/// `log:`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A tracing EnvFilter directive, e.g. `info` or `portcullis=debug,info`.
    pub level: String,
    /// `log.access`: one access line per request (independent of `level`).
    pub access: bool,
}

/// `log.format`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `providers[]`
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Unique name, referenced by routes.
    pub name: String,
    /// Issuer identifier, compared exactly with discovery and token `iss`.
    pub issuer: String,
    /// Discovery document URL (default issuer + /.well-known/openid-configuration).
    pub discovery_url: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret (client_secret_basic / client_secret_post).
    pub client_secret: Option<Secret>,
    /// How the gateway authenticates to the token endpoint.
    pub client_auth: ClientAuth,
    /// PEM private key for private_key_jwt.
    pub private_key_file: Option<PathBuf>,
    /// Extra CA trusted for calls to this provider.
    pub ca_file: Option<PathBuf>,
    /// Scopes requested at login.
    pub scopes: Vec<String>,
    /// Extra authorization-request parameters.
    pub auth_params: BTreeMap<String, String>,
    /// When to call the userinfo endpoint.
    pub userinfo: UserinfoMode,
    /// Allowed JWS algorithms (`None` = what discovery advertises ∩ the asymmetric set).
    pub signing_algs: Option<Vec<jsonwebtoken::Algorithm>>,
    /// Bearer-token settings.
    pub tokens: TokensConfig,
    /// Where identity attributes come from.
    pub claims: ClaimsConfig,
    /// Endpoints written in the config; each one wins over discovery.
    pub endpoints: EndpointOverrides,
    /// The name the login chooser shows (default: `name`).
    pub display_name: String,
    /// `login_hint` domains that pick this provider (`example.com` exact, `.example.com`
    /// dot-bounded suffix), lower-case.
    pub domains: Vec<String>,
    /// `dpop` and `dpop_window` (RFC 9449) for this provider's tokens.
    pub dpop: DpopConfig,
}

/// `providers[].client_auth`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with client id + secret.
    ClientSecretBasic,
    /// id + secret in the form body.
    ClientSecretPost,
    /// RFC 7523 client assertion signed with `private_key_file`.
    PrivateKeyJwt,
    /// Public client (PKCE only).
    None,
}

/// `providers[].userinfo`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserinfoMode {
    /// Only when a wanted claim is missing.
    Auto,
    /// On every new token / login.
    Always,
    /// Never.
    Never,
}

/// `providers[].tokens`
#[derive(Debug, Clone)]
pub struct TokensConfig {
    /// Accepted Authorization schemes, lower-cased for comparison (default `[bearer]`).
    pub schemes: Vec<String>,
    /// A bearer JWT's `aud` must contain one of these (default: `[client_id]`).
    pub audiences: Vec<String>,
    /// Clock skew tolerance for exp/nbf/iat.
    pub leeway: Duration,
    /// Minimum interval between JWKS refetches triggered by an unknown `kid`.
    pub jwks_refetch_interval: Duration,
    /// Entries of the verified-token cache (0 disables it).
    pub verified_cache_size: u64,
    /// Optional RFC 7662 introspection for opaque tokens.
    pub introspection: Option<IntrospectionConfig>,
    /// Cap on uncached userinfo calls that complete bearer principals.
    pub userinfo_rate_limit: CallLimit,
}

/// `providers[].tokens.introspection`
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// Client (API resource) id used to authenticate to the introspection endpoint.
    pub client_id: String,
    /// Its secret (the secret-based methods).
    pub client_secret: Option<Secret>,
    /// `client_auth` (older name `auth_method`): `client_secret_basic` (default),
    /// `client_secret_post` or `private_key_jwt`.
    pub auth_method: ClientAuth,
    /// private_key_jwt: the signing key (its own, else the provider's `private_key_file`).
    pub private_key_file: Option<PathBuf>,
    /// Upper bound of a positive result's cache life (never past the token's exp).
    pub cache_ttl: Duration,
    /// Cache life of an inactive result.
    pub negative_cache_ttl: Duration,
    /// Max cached results.
    pub cache_size: u64,
    /// Also introspect JWTs whose signature this provider cannot verify locally.
    pub jwt_fallback: bool,
    /// What an answer's `token_type` / `token_use` / `typ` may say (case-insensitive) for
    /// the token to count as an access token; absent fields are accepted.
    pub token_types: Vec<String>,
    /// Longest token sent to introspection (bytes); longer ones are refused unasked.
    pub max_token_length: usize,
    /// Cap on uncached introspection calls.
    pub rate_limit: CallLimit,
}

/// `providers[].claims`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsConfig {
    /// Username claim candidates, first present wins (dotted paths allowed).
    pub username: Vec<String>,
    /// Email claim candidates.
    pub email: Vec<String>,
    /// Group/role claim candidates.
    pub groups: Vec<String>,
}

/// `session:`
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Cookie name (`__Host-` is prepended over https).
    pub cookie_name: String,
    /// Cookie keys (decoded bytes, each ≥ 32); first encrypts, all decrypt. Empty = sessions unavailable.
    pub secrets: Vec<Secret>,
    /// Absolute session lifetime.
    pub lifetime: Duration,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Use refresh tokens.
    pub refresh: bool,
    /// Where sessions live.
    pub store: SessionStoreKind,
    /// Redis URL (store: redis).
    pub redis_url: Option<Secret>,
    /// Allowed redirect targets (`.example.com` = dot-bounded suffix, else exact host),
    /// each optionally with `:<port>` or `:*` (without: default ports and the public
    /// URL's port only).
    pub allowed_redirect_domains: Vec<String>,
    /// Where to go after sign-out when the provider has no end_session endpoint.
    pub logout_redirect: Option<String>,
}

/// `session.store`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStoreKind {
    /// Encrypted cookie, no server state.
    Cookie,
    /// Redis, cookie holds an opaque id.
    Redis,
}
