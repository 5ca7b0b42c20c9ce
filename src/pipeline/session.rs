//! Session authentication for `auth: session` / `any` routes: loads the session from the
//! store, refreshes the access token near expiry (coalesced), keeps the idle timer alive,
//! re-seals a session sealed with an older secret, and turns the session into a
//! `Principal`. Cookie updates are returned as `Set-Cookie` values for the response; a
//! failed refresh ends the session, and unreadable session cookies are deleted.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};

use crate::auth::principal::Principal;
use crate::auth::AuthError;
use crate::oidc::sso::Sso;
use crate::oidc::tokens::TokenError;
use crate::runtime::Runtime;
use crate::session::codec::SessionData;
use crate::session::cookie::RequestCookies;
use crate::session::shared::SharedSession;
use crate::session::store::{Loaded, SaveKind};
use crate::session::unix_now;

/// Refresh when the access token has less than this left.
const REFRESH_MARGIN_SECS: u64 = 30;

/// An authenticated session.
pub struct SessionAuth {
    /// Who (shared with the store's cached session when nothing changed).
    pub principal: Arc<Principal>,
    /// The (possibly refreshed) access token, for `pass_access_token`.
    pub access_token: Option<Arc<str>>,
}

/// [`authenticate`] for the common case, without waiting: a store that answers at once
/// (the cookie store) and a session with nothing to refresh, touch or re-seal. `None`:
/// the rest is [`authenticate`]'s (which reads the store again).
pub fn authenticate_now(
    rt: &Runtime,
    sso: &Sso,
    allowed: &[usize],
    headers: &HeaderMap,
) -> Option<Result<SessionAuth, AuthError>> {
    let now = unix_now();
    let cookies = RequestCookies::from_headers(headers);
    match sso.store.read_now(&cookies, now)? {
        Loaded::Live { data, stale_seal } => match provider_of(rt, allowed, data.data()) {
            Ok(provider_index) => as_is(sso, &data, stale_seal, provider_index, now).map(Ok),
            Err(e) => Some(Err(e)),
        },
        Loaded::None => Some(Err(AuthError::Missing)),
        // Its cookies are deleted: the full path.
        Loaded::Unreadable => None,
    }
}

/// The session as it is, when there is nothing to refresh, touch or re-seal (most
/// requests): the cached session and its principal, without a copy. `None`: it must be
/// updated (and saved).
fn as_is(
    sso: &Sso,
    shared: &SharedSession,
    stale_seal: bool,
    provider_index: usize,
    now: u64,
) -> Option<SessionAuth> {
    let data = shared.data();
    if stale_seal || needs_refresh(sso, data, now) || data.needs_touch(now, &sso.limits) {
        return None;
    }
    Some(SessionAuth {
        principal: shared.principal(provider_index),
        access_token: shared.access_token(),
    })
}

/// The index of the session's provider when it is one of `allowed` (the route's): a
/// session from another does not count here, the browser signs in again (the new
/// session replaces it), as when there is none.
fn provider_of(rt: &Runtime, allowed: &[usize], data: &SessionData) -> Result<usize, AuthError> {
    allowed
        .iter()
        .copied()
        .find(|&i| {
            rt.providers
                .get(i)
                .is_some_and(|p| p.name() == data.provider)
        })
        .ok_or(AuthError::Missing)
}

/// Authenticates the request's session when it comes from one of the providers at
/// `allowed` (the route's `providers`); refresh and the principal use the session's own.
pub async fn authenticate(
    rt: &Runtime,
    sso: &Sso,
    allowed: &[usize],
    headers: &HeaderMap,
    set_cookies: &mut Vec<HeaderValue>,
) -> Result<SessionAuth, AuthError> {
    let now = unix_now();
    let cookies = RequestCookies::from_headers(headers);
    let loaded = sso
        .store
        .read(&cookies, now)
        .await
        .map_err(store_unavailable)?;
    let (shared, stale_seal) = match loaded {
        Loaded::Live { data, stale_seal } => (data, stale_seal),
        // Deleted on the response that refuses it, whatever it is (login redirect, 401,
        // forward-auth answer): nothing can ever revive such a cookie.
        Loaded::Unreadable => {
            set_cookies.extend(sso.store.delete(&cookies).await);
            return Err(AuthError::Missing);
        }
        Loaded::None => return Err(AuthError::Missing),
    };
    let provider_index = provider_of(rt, allowed, shared.data())?;
    // Otherwise `update` below saves.
    if let Some(done) = as_is(sso, &shared, stale_seal, provider_index, now) {
        return Ok(done);
    }
    let mut working = Working {
        data: shared.into_data(),
        dirty: stale_seal,
    };
    // Redis store: one refresh per session across replicas. Under the lock the record is
    // read again: if another replica refreshed meanwhile, we continue from its tokens
    // instead of spending the rotated-away refresh token (which would end the session).
    let lock = match (&sso.redis, needs_refresh(sso, &working.data, now)) {
        (Some(redis), true) => redis
            .refresh_lock(&cookies)
            .await
            .map_err(store_unavailable)?,
        _ => None,
    };
    // Under the lock, another replica may have refreshed already: work on its record.
    let reloaded = match &lock {
        Some(_) => match sso.store.read(&cookies, now).await {
            Ok(Loaded::Live { data, stale_seal }) => {
                working.data = data.into_data();
                working.dirty |= stale_seal;
                Ok(())
            }
            Ok(Loaded::None | Loaded::Unreadable) => Err(AuthError::Missing),
            Err(e) => Err(store_unavailable(e)),
        },
        None => Ok(()),
    };
    let result = match reloaded {
        Ok(()) => {
            update(
                rt,
                sso,
                provider_index,
                &cookies,
                &mut working,
                now,
                set_cookies,
            )
            .await
        }
        Err(e) => Err(e),
    };
    if let (Some(redis), Some(lock)) = (&sso.redis, lock) {
        redis.release(lock).await;
    }
    result?;
    let shared = SharedSession::new(working.data);
    Ok(SessionAuth {
        principal: shared.principal(provider_index),
        access_token: shared.access_token(),
    })
}

fn store_unavailable(e: crate::session::SessionError) -> AuthError {
    AuthError::IdpUnavailable(format!("session store: {e}"))
}

/// The session a request works on.
struct Working {
    data: SessionData,
    /// Save it whatever else happens: it was sealed with an older secret (re-sealed
    /// once, by the first response that accepts it; later requests carry the new seal).
    dirty: bool,
}

/// Refreshes when due and keeps the idle timer alive, saving when anything changed.
async fn update(
    rt: &Runtime,
    sso: &Sso,
    provider_index: usize,
    cookies: &RequestCookies<'_>,
    working: &mut Working,
    now: u64,
    set_cookies: &mut Vec<HeaderValue>,
) -> Result<(), AuthError> {
    let mut dirty = working.dirty;
    let data = &mut working.data;
    if needs_refresh(sso, data, now) {
        match refresh(rt, sso, provider_index, data, now).await {
            Ok(()) => dirty = true,
            Err(RefreshFailure::Ended) => {
                set_cookies.extend(sso.store.delete(cookies).await);
                return Err(AuthError::Missing);
            }
            Err(RefreshFailure::Unavailable(why)) => {
                let expired = data.access_token_expires_at.is_some_and(|t| t <= now);
                if expired {
                    return Err(AuthError::IdpUnavailable(why));
                }
            }
        }
    }
    if data.needs_touch(now, &sso.limits) {
        data.last_seen_at = now;
        dirty = true;
    }
    if dirty {
        match sso.store.save(data, SaveKind::Update, cookies, now).await {
            Ok(set) => set_cookies.extend(set),
            Err(e) => tracing::warn!(error = %e, "session update failed"),
        }
    }
    Ok(())
}

fn needs_refresh(sso: &Sso, data: &SessionData, now: u64) -> bool {
    sso.refresh_enabled
        && data.refresh_token.is_some()
        && data
            .access_token_expires_at
            .is_some_and(|t| t <= now.saturating_add(REFRESH_MARGIN_SECS))
}

enum RefreshFailure {
    /// The provider refused the refresh token: the session is over.
    Ended,
    /// The provider could not be asked.
    Unavailable(String),
}

async fn refresh(
    rt: &Runtime,
    sso: &Sso,
    index: usize,
    data: &mut SessionData,
    now: u64,
) -> Result<(), RefreshFailure> {
    let provider = rt.providers.get(index).ok_or(RefreshFailure::Ended)?;
    let client = sso.clients.get(index).ok_or(RefreshFailure::Ended)?;
    let meta = provider
        .metadata()
        .ok_or_else(|| RefreshFailure::Unavailable("provider not discovered".into()))?;
    let endpoint = meta
        .token_endpoint
        .as_deref()
        .ok_or(RefreshFailure::Ended)?;
    let refresh_token = data.refresh_token.clone().ok_or(RefreshFailure::Ended)?;
    let refreshed = sso
        .refresher
        .refresh(
            provider.client(),
            client,
            endpoint,
            &refresh_token,
            now,
        )
        .await
        .map_err(|e| match &*e {
            TokenError::Unavailable(why) => RefreshFailure::Unavailable(why.clone()),
            _ => {
                tracing::info!(provider = provider.name(), error = %e, "refresh refused; session ended");
                RefreshFailure::Ended
            }
        })?;
    let tokens = &refreshed.tokens;
    data.access_token = Some(tokens.access_token.clone());
    data.access_token_expires_at = refreshed.expires_at();
    if let Some(rotated) = &tokens.refresh_token {
        data.refresh_token = Some(rotated.clone());
    }
    if let Some(id_token) = &tokens.id_token {
        // OIDC Core §12.2: a refreshed ID token must be valid and name the same subject;
        // otherwise keep the old one (it becomes the logout `id_token_hint`).
        let leeway = provider.config().tokens.leeway;
        match provider.validate_id_token(id_token, None, leeway).await {
            Ok(claims)
                if claims.get("sub").and_then(|v| v.as_str()) == Some(data.subject.as_str()) =>
            {
                data.id_token = Some(id_token.clone());
            }
            Ok(_) => tracing::warn!(
                provider = provider.name(),
                "refreshed ID token names another subject; not adopted"
            ),
            Err(e) => tracing::warn!(
                provider = provider.name(),
                error = %e,
                "refreshed ID token is not valid; not adopted"
            ),
        }
    }
    Ok(())
}

/// The principal a session stands for.
pub fn principal_of(data: SessionData, provider: usize) -> Principal {
    crate::session::shared::principal_of(&data, provider)
}
