//! Browser single sign-on state of one runtime snapshot: the session store, cookie
//! names and keys, per-provider client authentication, the refresh coalescer, and the
//! redirect rules. Built from the config; holds no per-user state itself.

use std::sync::Arc;

use http::Uri;

use super::refresh::Refresher;
use crate::config::{Config, SessionStoreKind};
use crate::idp::client_auth::{ClientAuthError, ClientAuthenticator};
use crate::session::codec::SessionLimits;
use crate::session::cookie::CookieNames;
use crate::session::keys::SessionKeys;
use crate::session::redis::RedisStore;
use crate::session::store::{CookieStore, SessionStore};
use crate::session::SessionError;

/// Why SSO could not be set up from a config.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// Session keys are unusable.
    #[error("session.secrets: {0}")]
    Keys(#[from] SessionError),
    /// A provider's client authentication is unusable.
    #[error("providers[{index}]: {source}")]
    Client {
        /// Provider index.
        index: usize,
        /// Cause.
        source: ClientAuthError,
    },
    /// The configured store is not available.
    #[error("session.store: {0}")]
    Store(&'static str),
    /// The Redis store could not be set up (the message never contains the URL).
    #[error("{0}")]
    Redis(SessionError),
}

/// SSO settings and state for one snapshot.
pub struct Sso {
    /// Where sessions live.
    pub store: Arc<dyn SessionStore>,
    /// The same store when it is Redis (server-side revocation, back-channel logout,
    /// cross-replica refresh lock); `None` with the cookie store.
    pub redis: Option<Arc<RedisStore>>,
    /// Cookie names (with `__Host-` over https).
    pub names: CookieNames,
    /// Cookie encryption keys.
    pub keys: SessionKeys,
    /// Session lifetime and idle timeout.
    pub limits: SessionLimits,
    /// Client authentication per provider, indexed like `config.providers`.
    pub clients: Vec<ClientAuthenticator>,
    /// Coalesces refreshes and keeps rotated results for a grace window.
    pub refresher: Refresher,
    /// `scheme://host[:port]` of `server.public_url`, when configured.
    pub public_origin: Option<String>,
    /// `<proxy_prefix>/callback`.
    pub callback_path: String,
    /// Top-level claim names kept in the session (used by templates and policies).
    pub kept_claims: Vec<String>,
    /// `session.refresh`.
    pub refresh_enabled: bool,
}

impl Sso {
    /// Builds SSO state, or `None` when no session secret is configured.
    pub fn build(config: &Config) -> Result<Option<Sso>, SsoError> {
        if config.session.secrets.is_empty() {
            return Ok(None);
        }
        let keys = SessionKeys::from_secrets(&config.session.secrets)?;
        let public_origin = config.server.public_url.as_ref().map(origin_of);
        let secure = match &config.server.public_url {
            Some(u) => u.scheme_str() == Some("https"),
            None => config.server.tls.is_some(),
        };
        let names = CookieNames::new(&config.session.cookie_name, secure);
        let limits = SessionLimits::from_config(&config.session);
        let mut clients = Vec::with_capacity(config.providers.len());
        for (index, p) in config.providers.iter().enumerate() {
            clients.push(
                ClientAuthenticator::new(p).map_err(|source| SsoError::Client { index, source })?,
            );
        }
        let redis = match (config.session.store, &config.session.redis_url) {
            (SessionStoreKind::Redis, Some(url)) => Some(Arc::new(
                RedisStore::new(url.expose(), names.clone(), keys.clone(), limits)
                    .map_err(SsoError::Redis)?,
            )),
            (SessionStoreKind::Redis, None) => {
                return Err(SsoError::Store("session.redis.url is required"))
            }
            (SessionStoreKind::Cookie, _) => None,
        };
        let store: Arc<dyn SessionStore> = match &redis {
            Some(r) => r.clone(),
            None => Arc::new(
                CookieStore::new(names.clone(), keys.clone(), limits)
                    .with_budget(cookie_budget(config)),
            ),
        };
        Ok(Some(Sso {
            store,
            redis,
            names,
            keys,
            limits,
            clients,
            refresher: Refresher::new(),
            public_origin,
            callback_path: format!("{}/callback", config.server.proxy_prefix),
            kept_claims: kept_claims(config),
            refresh_enabled: config.session.refresh,
        }))
    }
}

/// Room left in a request's head for everything but the session cookies (request line,
/// the browser's usual fields, other cookies): a quarter of the limit, at most this.
const HEAD_ROOM: usize = 4096;

/// How many bytes the session cookies may take: what `server.limits.max_header_bytes`
/// leaves after the head room (12 KiB of the default 16 KiB).
fn cookie_budget(config: &Config) -> usize {
    let limit = config.server.limits.max_header_bytes;
    limit - (limit / 4).min(HEAD_ROOM)
}

/// `scheme://authority` of a URL.
pub fn origin_of(u: &Uri) -> String {
    format!(
        "{}://{}",
        u.scheme_str().unwrap_or("https"),
        u.authority().map_or("", |a| a.as_str())
    )
}

/// Claim names that routes use through `{claims.x}` templates or `allow.claims`, and
/// those the policy reads itself: `email_verified` (an `email_domains` rule refuses an
/// unverified address) and the scopes.
fn kept_claims(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = vec!["scope".into(), "scp".into(), "email_verified".into()];
    let mut add = |path: &str| {
        let top = path.split('.').next().unwrap_or(path);
        if !top.is_empty() && !out.iter().any(|c| c == top) {
            out.push(top.to_owned());
        }
    };
    for p in &config.providers {
        for c in p
            .claims
            .username
            .iter()
            .chain(&p.claims.email)
            .chain(&p.claims.groups)
        {
            add(c);
        }
    }
    for r in &config.routes {
        for key in r.allow.claims.keys() {
            add(key);
        }
        for (_, template) in &r.identity_headers {
            let mut rest = template.as_str();
            while let Some(i) = rest.find("{claims.") {
                let after = &rest[i + "{claims.".len()..];
                let end = after.find('}').unwrap_or(after.len());
                add(&after[..end]);
                rest = &after[end..];
            }
        }
    }
    out
}
