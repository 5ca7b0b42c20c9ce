//! Validation of the `session` section: the cookie name, the sealing secrets (never
//! echoed, only their length), lifetimes, the store (cookie or Redis) and the redirect
//! targets after login and logout.

use super::checks::{self, MIN_SECRET_BYTES};
use super::issues::index_path;
use super::model::{AuthMode, RouteConfig, Secret, SessionConfig, SessionStoreKind};
use super::raw::RawSession;
use super::validate::Ctx;

/// Validates `session`; `routes` say whether secrets are required (a route that accepts
/// sessions).
pub(super) fn session(cx: &mut Ctx<'_>, raw: RawSession, routes: &[RouteConfig]) -> SessionConfig {
    let cookie_name = raw.cookie_name.trim().to_owned();
    if !checks::is_http_token(&cookie_name) {
        cx.push(
            "session.cookie_name",
            "must be a non-empty cookie name (letters, digits and !#$%&'*+-.^_`|~)",
        );
    } else if cookie_name.to_ascii_lowercase().starts_with("__host-")
        || cookie_name.to_ascii_lowercase().starts_with("__secure-")
    {
        cx.push(
            "session.cookie_name",
            "leave out the `__Host-`/`__Secure-` prefix; it is added automatically over https",
        );
    }
    let mut secrets = Vec::new();
    for (i, secret) in raw.secrets.iter().enumerate() {
        let path = index_path("session.secrets", i);
        // The message describes the value's length, never the value.
        match checks::decode_base64_key(secret) {
            None => cx.push(
                &path,
                format!(
                    "must be base64 of at least {MIN_SECRET_BYTES} random bytes (not valid \
                     base64; generate one with `openssl rand -base64 32`)"
                ),
            ),
            Some(bytes) if bytes.len() < MIN_SECRET_BYTES => cx.push(
                &path,
                format!(
                    "must be base64 of at least {MIN_SECRET_BYTES} random bytes (got {} bytes)",
                    bytes.len()
                ),
            ),
            Some(_) => {}
        }
        secrets.push(Secret::new(secret.trim()));
    }
    let needs_sessions = routes.iter().find(|r| r.accept.session);
    if let (Some(route), true) = (needs_sessions, raw.secrets.is_empty()) {
        let auth = if route.auth == AuthMode::Any {
            "any"
        } else {
            "session"
        };
        cx.push(
            "session.secrets",
            format!(
                "required because route `{}` uses `auth: {auth}`; generate one with \
                 `openssl rand -base64 32`",
                route.name
            ),
        );
    }
    let lifetime = cx.duration("session.lifetime", &raw.lifetime, true);
    let idle_timeout = cx.duration("session.idle_timeout", &raw.idle_timeout, true);
    let store = match raw.store.trim() {
        "cookie" => SessionStoreKind::Cookie,
        "redis" => SessionStoreKind::Redis,
        other => {
            cx.push(
                "session.store",
                format!("`{other}` is not one of: cookie, redis"),
            );
            SessionStoreKind::Cookie
        }
    };
    let redis_url = raw
        .redis
        .and_then(|r| r.url)
        .map(|url| url.trim().to_owned());
    match (&redis_url, store) {
        (None, SessionStoreKind::Redis) => {
            cx.push(
                "session.redis.url",
                "is required when session.store is redis",
            );
        }
        (Some(url), _) if !is_redis_url(url) => cx.push(
            "session.redis.url",
            "must be a redis://, rediss://, redis+unix:// or unix:// URL",
        ),
        _ => {}
    }
    let mut allowed_redirect_domains = Vec::new();
    for (i, d) in raw.allowed_redirect_domains.iter().enumerate() {
        match checks::check_redirect_domain(d) {
            Ok(d) => allowed_redirect_domains.push(d),
            Err(msg) => cx.push(&index_path("session.allowed_redirect_domains", i), msg),
        }
    }
    let logout_redirect = raw.logout_redirect.map(|s| s.trim().to_owned());
    if let Some(target) = &logout_redirect {
        let relative = target.starts_with('/') && !target.starts_with("//");
        if !relative {
            if let Err(msg) = checks::parse_http_url(target) {
                cx.push(
                    "session.logout_redirect",
                    format!("{msg} (or a path starting with `/`)"),
                );
            }
        }
    }
    SessionConfig {
        cookie_name,
        secrets,
        lifetime,
        idle_timeout,
        refresh: raw.refresh,
        store,
        redis_url: redis_url.map(Secret::new),
        allowed_redirect_domains,
        logout_redirect,
    }
}

fn is_redis_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["redis://", "rediss://", "redis+unix://", "unix://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
}
