//! The validated `routes[]`: what to match (host, path prefix), where to forward (the
//! parsed upstream, its TLS, timeouts), how to authenticate and what to allow.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use http::HeaderName;

use super::{cors, Accept, IdentityAssertionConfig, MachineRoute, RateLimit, TokenExchangeConfig};

/// `routes[]`
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Unique route name (metrics label, realm).
    pub name: String,
    /// Host to match (lower-case, no port); `None` = any host.
    pub host: Option<HostMatch>,
    /// Normalised path prefix, starts with `/`.
    pub path_prefix: String,
    /// Upstream base.
    pub upstream: Upstream,
    /// TLS settings for an https upstream.
    pub upstream_tls: Option<UpstreamTls>,
    /// Remove `path_prefix` before forwarding.
    pub strip_prefix: bool,
    /// Forward the client's Host instead of the upstream's authority.
    pub preserve_host: bool,
    /// Authentication mode.
    pub auth: AuthMode,
    /// The credentials `auth` admits (`accept` of an `auth: any` route).
    pub accept: Accept,
    /// Index into `Config::providers` (resolved; `None` only when auth is `none` or
    /// the route takes API keys alone): the route's one provider, or the first of
    /// `providers`.
    pub provider: Option<usize>,
    /// Every provider whose sessions count here and a browser may sign in with, in file
    /// order (`provider` alone: just it); empty when auth is `none`.
    pub providers: Vec<usize>,
    /// Normalised path prefixes that skip authentication.
    pub public_paths: Vec<String>,
    /// Authorization rules.
    pub allow: AllowRules,
    /// Identity headers to set: name → template.
    pub identity_headers: Vec<(HeaderName, String)>,
    /// Pass the client's Authorization header upstream (bearer routes).
    pub forward_authorization: bool,
    /// Send the session's access token upstream (session routes).
    pub pass_access_token: bool,
    /// Upstream timeouts.
    pub timeouts: RouteTimeouts,
    /// `cors`: answer preflights here and label every response for allowed origins.
    pub cors: Option<cors::CorsConfig>,
    /// `rate_limit`: the route's limits, in file order (empty: none).
    pub rate_limit: Vec<RateLimit>,
    /// A signed identity assertion for the upstream.
    pub identity_assertion: Option<IdentityAssertionConfig>,
    /// RFC 8693 token exchange: the upstream gets a token of its own audience.
    pub token_exchange: Option<TokenExchangeConfig>,
    /// DPoP and RFC 9728 settings (effective: the provider's where the route sets none).
    pub machine: MachineRoute,
}

/// A route's host condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// Exact host name, lower-case.
    Exact(String),
    /// `*.example.com`: stored as `.example.com`; matches any host ending in it.
    Suffix(String),
}

/// A parsed upstream base URL.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The URL as written (for logs and check-config).
    pub url: String,
    /// `true` for https.
    pub https: bool,
    /// `h2c://`: HTTP/2 with prior knowledge over cleartext (gRPC upstreams).
    pub h2c: bool,
    /// `host[:port]` to connect to and (unless preserve_host) send as Host.
    pub authority: http::uri::Authority,
    /// Base path prefixed to forwarded paths, without trailing `/` (empty for none).
    pub base_path: String,
}

/// `routes[].upstream_tls`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTls {
    /// Extra CA to trust (in addition to system roots).
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain for mTLS.
    pub cert_file: Option<PathBuf>,
    /// Client private key for mTLS.
    pub key_file: Option<PathBuf>,
}

/// `routes[].auth`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Authorization header with a token.
    Bearer,
    /// Browser session cookie.
    Session,
    /// Bearer if present, else session (or what `accept` lists).
    Any,
    /// No authentication.
    None,
    /// An API key (`Authorization: ApiKey …` or `api_key_header`).
    ApiKey,
}

/// `routes[].allow`: all present conditions must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowRules {
    /// Allowed usernames.
    pub users: Vec<String>,
    /// Allowed email domains (`example.com` exact, `.example.com` dot-bounded suffix).
    pub email_domains: Vec<String>,
    /// Any of these groups.
    pub groups: Vec<String>,
    /// All of these scopes.
    pub scopes: Vec<String>,
    /// Claim (dotted path) → required value (equals, or contained in an array claim).
    pub claims: BTreeMap<String, serde_json::Value>,
}

/// `routes[].timeouts`
#[derive(Debug, Clone, Copy)]
pub struct RouteTimeouts {
    /// TCP (+TLS) connect timeout. Default 5s.
    pub connect: Duration,
    /// Time until the upstream's response headers. Default 60s.
    pub response: Duration,
}
