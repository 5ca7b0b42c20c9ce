//! Where sessions live: the [`SessionStore`] trait and the default [`CookieStore`].
//!
//! Owns the small contract the SSO flow talks to (load / save / delete, all expressed in
//! request cookies and `Set-Cookie` headers), so that a Redis store can be added without
//! touching the flow. Must never decide HTTP statuses and never log cookie values or
//! tokens. An unusable session is `Ok(None)`; only an unreachable server-side store is an
//! error (so the flow answers 503 instead of logging the user out).

use futures_util::future::BoxFuture;
use http::HeaderValue;

use std::sync::Arc;
use std::time::Duration;

use super::codec::{
    encode, open_current, present_session_cookies, reassemble_shared, SessionData, SessionLimits,
    CHUNK_SIZE, MAX_CHUNKS,
};
use super::cookie::{delete_cookies, set_cookie, CookieNames, RequestCookies};
use super::keys::SessionKeys;
use super::shared::SharedSession;
use super::SessionError;
use crate::auth::local::LocalFront;
use crate::auth::token_key::TokenHashing;

/// Why a session is being saved; a server-side store mints a new id for
/// [`SaveKind::NewLogin`] (no session fixation) and keeps it for [`SaveKind::Update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveKind {
    /// A login just completed: replace any existing session entirely.
    NewLogin,
    /// The same session changed (touch, refreshed tokens).
    Update,
}

/// What a request's session cookies amount to.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    /// No session cookie, or an authentic one whose session has ended (expired, or its
    /// server-side record is gone). Nothing to clean up: every save sets `Max-Age` to
    /// what is left of the session, so the browser drops such a cookie by itself.
    None,
    /// Session cookies that do not authenticate or do not fit together (tampered,
    /// truncated, a chunk missing, duplicated or extra, sealed with a retired secret).
    /// Nothing can ever revive them: the caller deletes them with the response that
    /// refused them ([`SessionStore::delete`]), or the browser would send them on every
    /// request until they expire.
    Unreadable,
    /// A live session.
    Live {
        /// The session, shared with the store's cache of decoded sessions (a request
        /// that changes it works on a copy).
        data: Arc<SharedSession>,
        /// Sealed (the cookie, or a server-side record) with an older `session.secrets`
        /// entry: saving it once seals it with the current one, so that the older entry
        /// can be retired without logging anyone out.
        stale_seal: bool,
    },
}

impl Loaded {
    /// The live session, if any.
    pub fn into_live(self) -> Option<SessionData> {
        match self {
            Loaded::Live { data, .. } => Some(data.into_data()),
            Loaded::None | Loaded::Unreadable => None,
        }
    }

    /// [`Loaded::None`] when no session cookie is present, else [`Loaded::Unreadable`]:
    /// for a store that found no session it could read in `cookies`.
    pub fn absent_or_unreadable(cookies: &RequestCookies<'_>, session_name: &str) -> Loaded {
        if present_session_cookies(cookies, session_name).is_empty() {
            Loaded::None
        } else {
            Loaded::Unreadable
        }
    }
}

/// A session store. Object-safe (`Arc<dyn SessionStore>`); every method works from the
/// request's cookies and returns the `Set-Cookie` headers to add to the response.
pub trait SessionStore: Send + Sync {
    /// What the request's session cookies amount to (limits checked at `now`).
    /// `Err` only when a server-side store cannot be asked ([`SessionError::Unavailable`]).
    fn read<'a>(
        &'a self,
        cookies: &'a RequestCookies<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<Loaded, SessionError>>;

    /// [`SessionStore::read`] when the store can answer without waiting (the cookie
    /// store always can); `None`: ask `read`.
    fn read_now(&self, cookies: &RequestCookies<'_>, now: u64) -> Option<Loaded> {
        let _ = (cookies, now);
        None
    }

    /// The live session the request carries, if any ([`SessionStore::read`] without
    /// the details).
    fn load<'a>(
        &'a self,
        cookies: &'a RequestCookies<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<Option<SessionData>, SessionError>> {
        Box::pin(async move { self.read(cookies, now).await.map(Loaded::into_live) })
    }

    /// Persists `data`; returns the `Set-Cookie` headers (new values plus deletions of
    /// stale chunks the browser still holds).
    fn save<'a>(
        &'a self,
        data: &'a SessionData,
        kind: SaveKind,
        cookies: &'a RequestCookies<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<HeaderValue>, SessionError>>;

    /// Ends the request's session; returns deletions for every session cookie present.
    /// Best effort: the deletions are returned even if server-side removal failed.
    fn delete<'a>(&'a self, cookies: &'a RequestCookies<'a>) -> BoxFuture<'a, Vec<HeaderValue>>;
}

/// The default store: the whole session, sealed, in the cookie itself (no server state).
///
/// A cookie captured before logout stays valid until its lifetime or idle timeout ends;
/// only a server-side store can revoke it.
#[derive(Clone)]
pub struct CookieStore {
    names: CookieNames,
    keys: SessionKeys,
    limits: SessionLimits,
    /// The most bytes the session cookies may take in a request's `Cookie` field.
    budget: usize,
    /// Sessions already decrypted and parsed, by [`cache_key`] of the sealed value: a
    /// browser sends the same cookie on every request, and opening it (AES-GCM over
    /// ~3 kB, then JSON) is most of a session route's cost.
    decoded: moka::sync::Cache<u64, Arc<Decoded>>,
    /// In front of it, per worker thread, the sessions that thread served, each a copy
    /// of its own (`auth::local`): a hit writes no memory the other workers touch.
    local: Arc<LocalFront<(Arc<SharedSession>, bool)>>,
}

/// The cache key of a sealed value: its last 16 bytes folded to 64 bits. They encode
/// the AES-GCM tag, unpredictable without the key. A key is only a hint: a hit counts
/// only if the whole sealed value is equal, and only authentic values are ever
/// inserted, so a crafted collision finds nothing and evicts nothing.
pub(crate) fn cache_key(sealed: &[u8]) -> u64 {
    let bytes = sealed;
    let tail = &bytes[bytes.len().saturating_sub(16)..];
    let mut key = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    for (i, b) in tail.iter().enumerate() {
        key ^= u64::from(*b) << ((i % 8) * 8);
        if i == 7 {
            key = key.rotate_left(29).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    key
}

/// A sealed session value and what it opened to.
struct Decoded {
    sealed: Box<[u8]>,
    session: Arc<SharedSession>,
    /// Whether the current (first) key sealed it.
    current: bool,
}

/// Memory for decoded sessions (sealed value + data, ~6 kB each).
const DECODED_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Entries unused this long are dropped (a hit re-checks the session's own limits, so
/// this bounds memory, not validity).
const DECODED_CACHE_IDLE: Duration = Duration::from_secs(300);

impl std::fmt::Debug for CookieStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieStore")
            .field("names", &self.names)
            .field("limits", &self.limits)
            .field("decoded_sessions", &self.decoded.entry_count())
            .finish_non_exhaustive()
    }
}

impl CookieStore {
    /// A store writing cookies named per `names`, sealed with `keys`, checked against
    /// `limits`.
    pub fn new(names: CookieNames, keys: SessionKeys, limits: SessionLimits) -> CookieStore {
        let decoded = moka::sync::Cache::builder()
            .max_capacity(DECODED_CACHE_BYTES)
            .weigher(|_k: &u64, v: &Arc<Decoded>| {
                let d = v.session.data();
                let tokens = [&d.id_token, &d.access_token, &d.refresh_token]
                    .iter()
                    .map(|t| t.as_ref().map_or(0, String::len))
                    .sum::<usize>();
                u32::try_from(v.sealed.len() + tokens + 1024).unwrap_or(u32::MAX)
            })
            .time_to_idle(DECODED_CACHE_IDLE)
            .build();
        CookieStore {
            names,
            keys,
            limits,
            budget: CHUNK_SIZE * MAX_CHUNKS,
            decoded,
            // Keyed by the sealed value's end (the AES-GCM tag, as `cache_key`).
            local: Arc::new(LocalFront::new(TokenHashing::signature_tail())),
        }
    }

    /// With the session cookies held to `bytes` of a request's `Cookie` field (cookie
    /// names included), and never more than the chunks allow: a session cookie the
    /// listener's header limit refuses would answer every later request, sign-out
    /// included, with a 431 until it expired.
    pub fn with_budget(mut self, bytes: usize) -> CookieStore {
        self.budget = bytes.min(CHUNK_SIZE * MAX_CHUNKS);
        self
    }

    /// The cookies of `data` within the budget: without the ID token when only that way
    /// (it serves only as `id_token_hint` at sign-out), else [`SessionError::TooLarge`].
    fn fit(&self, data: &SessionData) -> Result<Vec<(String, String)>, SessionError> {
        let name = self.names.session();
        let size = |cookies: &[(String, String)]| {
            cookies
                .iter()
                .map(|(n, v)| n.len() + v.len() + 3)
                .sum::<usize>()
        };
        let mut fresh = encode(data, name, &self.keys)?;
        if size(&fresh) > self.budget && data.id_token.is_some() {
            let lean = SessionData {
                id_token: None,
                ..data.clone()
            };
            fresh = encode(&lean, name, &self.keys)?;
            tracing::debug!("session kept without its ID token to fit the cookie budget");
        }
        match size(&fresh) {
            bytes if bytes > self.budget => Err(SessionError::TooLarge {
                bytes,
                max: self.budget,
            }),
            _ => Ok(fresh),
        }
    }

    /// What the request's session cookies amount to: the session comes from the
    /// decoded-session cache when this exact sealed value was opened before, else it is
    /// authenticated, decrypted and cached. Liveness is checked at `now` either way.
    pub async fn read_cached(&self, cookies: &RequestCookies<'_>, now: u64) -> Loaded {
        self.read_decoded(cookies, now)
    }

    /// [`Self::read_cached`], which never waits.
    pub fn read_decoded(&self, cookies: &RequestCookies<'_>, now: u64) -> Loaded {
        let name = self.names.session();
        let Some(sealed) = reassemble_shared(cookies, name) else {
            return Loaded::absent_or_unreadable(cookies, name);
        };
        let generation = self.local.generation();
        let key = || cache_key(&sealed);
        let (session, current) = match self.local.get(&sealed) {
            Some(mine) => mine,
            None => match self.decoded.get(&key()) {
                // The full value is compared: a hash collision never yields another session.
                Some(hit) if *hit.sealed == *sealed => {
                    let mine = SharedSession::new(hit.session.data().clone());
                    self.local
                        .put(&sealed, generation, (mine.clone(), hit.current));
                    (mine, hit.current)
                }
                _ => match self.open(&sealed, key()) {
                    Some(opened) => {
                        self.local.put(&sealed, generation, opened.clone());
                        opened
                    }
                    None => return Loaded::Unreadable,
                },
            },
        };
        // Liveness at this request's `now`, on a hit as on a miss.
        match session.data().is_live(now, &self.limits) {
            true => Loaded::Live {
                data: session,
                stale_seal: !current,
            },
            false => Loaded::None,
        }
    }

    /// Authenticates and decrypts `sealed` (cache key `key`) and caches what it opens
    /// to; `None`: it does not open with any of the keys.
    fn open(&self, sealed: &[u8], key: u64) -> Option<(Arc<SharedSession>, bool)> {
        let text = std::str::from_utf8(sealed).ok()?;
        let (data, current) = open_current(self.names.session(), text, &self.keys)?;
        let session = SharedSession::new(data);
        let entry = Decoded {
            sealed: sealed.into(),
            session: session.clone(),
            current,
        };
        self.decoded.insert(key, Arc::new(entry));
        Some((session, current))
    }

    /// The live session the request carries ([`CookieStore::read_cached`]).
    pub async fn load_cached(&self, cookies: &RequestCookies<'_>, now: u64) -> Option<SessionData> {
        self.read_cached(cookies, now).await.into_live()
    }

    /// The cookie names in use.
    pub fn names(&self) -> &CookieNames {
        &self.names
    }

    /// Synchronous [`SessionStore::save`]. A session already past its limits is not
    /// written: its cookies are deleted instead.
    pub fn save_now(
        &self,
        data: &SessionData,
        cookies: &RequestCookies<'_>,
        now: u64,
    ) -> Result<Vec<HeaderValue>, SessionError> {
        let present = present_session_cookies(cookies, self.names.session());
        if !data.is_live(now, &self.limits) {
            return Ok(delete_cookies(&self.names, present));
        }
        let max_age = data.remaining(now, &self.limits);
        let fresh = self.fit(data)?;
        let mut out = Vec::with_capacity(fresh.len() + present.len());
        for (name, value) in &fresh {
            out.push(set_cookie(&self.names, name, value, max_age)?);
        }
        // E.g. the session shrank from 3 chunks to 1: the browser must forget the others.
        let stale = present
            .into_iter()
            .filter(|p| !fresh.iter().any(|(n, _)| n == p));
        out.extend(delete_cookies(&self.names, stale));
        Ok(out)
    }

    /// Synchronous [`SessionStore::delete`]. The decoded copy of the request's session
    /// is dropped from the cache too (a copy of the cookie still opens afterwards: only
    /// a server-side store can revoke it).
    pub fn delete_now(&self, cookies: &RequestCookies<'_>) -> Vec<HeaderValue> {
        if let Some(sealed) = reassemble_shared(cookies, self.names.session()) {
            self.local.clear();
            self.decoded.invalidate(&cache_key(&sealed));
        }
        let mut present = present_session_cookies(cookies, self.names.session());
        // Logout always clears the main name, even if the browser did not send it.
        if !present.contains(&self.names.session()) {
            present.push(self.names.session());
        }
        delete_cookies(&self.names, present)
    }
}

impl SessionStore for CookieStore {
    fn read<'a>(
        &'a self,
        cookies: &'a RequestCookies<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<Loaded, SessionError>> {
        Box::pin(async move { Ok(self.read_cached(cookies, now).await) })
    }

    fn read_now(&self, cookies: &RequestCookies<'_>, now: u64) -> Option<Loaded> {
        Some(self.read_decoded(cookies, now))
    }

    fn save<'a>(
        &'a self,
        data: &'a SessionData,
        _kind: SaveKind,
        cookies: &'a RequestCookies<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<HeaderValue>, SessionError>> {
        // Every save seals with a fresh random nonce, so a new login never reuses the
        // previous cookie value: no fixation even without a server-side id.
        Box::pin(std::future::ready(self.save_now(data, cookies, now)))
    }

    fn delete<'a>(&'a self, cookies: &'a RequestCookies<'a>) -> BoxFuture<'a, Vec<HeaderValue>> {
        Box::pin(std::future::ready(self.delete_now(cookies)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
