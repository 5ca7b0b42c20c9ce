//! The Redis session store (`session.store: redis`): sessions shared by every replica
//! pointed at the same Redis, revocable server-side.
//!
//! The cookie carries only an opaque random 256-bit id, sealed with the session key under
//! the cookie's name (so it is authenticated and cannot be moved to another cookie). The
//! record lives at `portcullis:s:<sha256(id)>`, sealed with the session key bound to that
//! key, and expires with the session (TTL = what is left of `lifetime` / `idle_timeout`,
//! extended on each touch). Index sets `portcullis:sid:<provider>:<sid>` and
//! `portcullis:sub:<provider>:<sub>` list a user's sessions so one (back-channel) logout
//! ends them all. A new login always gets a new id (no fixation); updates are a
//! compare-and-set that never resurrects a deleted record and never puts back a
//! rotated-away refresh token; refreshes take a short cross-replica lock.
//!
//! Must never use the raw id as a key, never log an id, token or the Redis URL, and never
//! turn "Redis unreachable" into "no session" (that would log users out): reads return
//! [`SessionError::Unavailable`], which the flow answers with 503.

mod conn;
pub mod local;
mod ops;
pub mod record;
mod subscribe;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::HeaderValue;

pub use self::conn::RedisConn;
use self::local::{CachedRecord, LocalCache};
use self::record::{handle_of, index_keys, is_id, new_id, record_key, sha1_hex};
use self::subscribe::CHANNEL;
use super::codec::{present_session_cookies, SessionData, SessionLimits};
use super::cookie::{delete_cookies, set_cookie, CookieNames, RequestCookies};
use super::keys::SessionKeys;
use super::shared::SharedSession;
use super::store::{Loaded, SaveKind, SessionStore};
use super::SessionError;

pub use self::conn::split_urls;
pub use self::ops::RefreshLock;

/// How long a refresh lock is held at most (a crashed holder frees it by expiry).
pub const LOCK_TTL: Duration = Duration::from_secs(10);
/// How long a request waits for another replica's refresh before going ahead itself.
pub const LOCK_WAIT: Duration = Duration::from_secs(5);
const LOCK_POLL: Duration = Duration::from_millis(25);
/// Compare-and-set attempts before an update gives up.
const CAS_ATTEMPTS: usize = 5;

/// The Redis-backed [`SessionStore`].
pub struct RedisStore {
    conn: Arc<RedisConn>,
    names: CookieNames,
    keys: SessionKeys,
    limits: SessionLimits,
    cas: redis::Script,
    index_add: redis::Script,
    unlock: redis::Script,
    /// This replica's record copies, kept current by the invalidation subscription.
    local: Arc<LocalCache>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store for `url` (one URL, or comma-separated cluster seeds). Connects lazily and
    /// starts a health probe when a runtime is running; never blocks start-up.
    pub fn new(
        url: &str,
        names: CookieNames,
        keys: SessionKeys,
        limits: SessionLimits,
    ) -> Result<RedisStore, SessionError> {
        let conn = RedisConn::new(url)?;
        conn.spawn_probe();
        let local = Arc::new(LocalCache::new());
        if let Some(client) = conn.single_client() {
            subscribe::spawn(client, &local);
        }
        Ok(RedisStore {
            conn,
            names,
            keys,
            limits,
            cas: redis::Script::new(record::CAS),
            index_add: redis::Script::new(record::INDEX_ADD),
            unlock: redis::Script::new(record::UNLOCK),
            local,
        })
    }

    /// `None` while Redis answers; the reason for `/readyz` otherwise.
    pub fn not_ready_reason(&self) -> Option<String> {
        (!self.conn.is_healthy()).then(|| "redis unreachable".to_owned())
    }

    /// Whether the URL named a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// The session id the request's cookie carries, if it authenticates, and whether
    /// the current key sealed it.
    fn session_id(&self, cookies: &RequestCookies<'_>) -> Option<(String, bool)> {
        let name = self.names.session();
        // Exactly one value: two cookies of that name are ambiguous, hence no session.
        let mut values = cookies.get_all(name);
        let sealed = values.next()?;
        if values.next().is_some() {
            return None;
        }
        self.keys
            .open_current(name, sealed)
            .filter(|(id, _)| is_id(id))
    }

    /// The stored value and session of `handle`, and whether the current key sealed
    /// it; `None` when absent or unreadable.
    async fn read(
        &self,
        handle: &str,
    ) -> Result<Option<(String, SessionData, bool)>, SessionError> {
        let key = record_key(handle);
        let raw: Option<String> = self.conn.run(redis::Cmd::get(&key)).await?;
        Ok(raw.and_then(|raw| {
            record::open_current(&self.keys, &key, &raw).map(|(d, current)| (raw, d, current))
        }))
    }

    /// [`SessionStore::read`]. A cookie that authenticates but whose record is gone or
    /// unreadable is an ended session ([`Loaded::None`]), not an unreadable cookie. The
    /// record comes from this replica's copy while the invalidation subscription is
    /// fresh, else from Redis (one `GET`).
    pub async fn read_now(
        &self,
        cookies: &RequestCookies<'_>,
        now: u64,
    ) -> Result<Loaded, SessionError> {
        let Some((handle, cookie_current)) = self.handle(cookies) else {
            return Ok(Loaded::absent_or_unreadable(cookies, self.names.session()));
        };
        let live = |r: &CachedRecord| {
            let data = r.session.data();
            !data.subject.is_empty() && data.is_live(now, &self.limits)
        };
        let record = match self.local.fresh_record(&handle) {
            // A copy that is no longer live is checked against Redis all the same.
            Some(copy) if live(&copy) => Some(copy),
            _ => self.fetch(&handle).await?,
        };
        Ok(match record {
            Some(r) if live(&r) => Loaded::Live {
                data: r.session.clone(),
                stale_seal: !(cookie_current && r.current),
            },
            _ => Loaded::None,
        })
    }

    /// The handle of the session the request's cookie carries, if it authenticates,
    /// and whether the current key sealed it (remembered per sealed value).
    fn handle(&self, cookies: &RequestCookies<'_>) -> Option<(Arc<str>, bool)> {
        let name = self.names.session();
        // Exactly one value: two cookies of that name are ambiguous, hence no session.
        let mut values = cookies.get_all(name);
        let sealed = values.next()?;
        if values.next().is_some() {
            return None;
        }
        self.local.handle_of(sealed, || {
            self.keys
                .open_current(name, sealed)
                .filter(|(id, _)| is_id(id))
                .map(|(id, current)| (handle_of(&id), current))
        })
    }

    /// Reads `handle`'s record from Redis and remembers it; an unchanged value reuses
    /// the decoding of the copy. `None` when absent or unreadable.
    async fn fetch(&self, handle: &Arc<str>) -> Result<Option<Arc<CachedRecord>>, SessionError> {
        let before = self.local.seq();
        let key = record_key(handle);
        let raw: Option<String> = self.conn.run(redis::Cmd::get(&key)).await?;
        let Some(raw) = raw else {
            self.local.drop_gone(handle);
            return Ok(None);
        };
        let record = match self.local.record(handle) {
            Some(copy) if copy.is_of(&raw) => copy,
            _ => match record::open_current(&self.keys, &key, &raw) {
                Some((data, current)) => CachedRecord::new(raw, SharedSession::new(data), current),
                None => return Ok(None),
            },
        };
        self.local.insert(handle.clone(), record.clone(), before);
        Ok(Some(record))
    }

    /// [`SessionStore::save`].
    pub async fn save_now(
        &self,
        data: &SessionData,
        kind: SaveKind,
        cookies: &RequestCookies<'_>,
        now: u64,
    ) -> Result<Vec<HeaderValue>, SessionError> {
        let current = self.session_id(cookies).map(|(id, _)| id);
        let present = present_session_cookies(cookies, self.names.session());
        if !data.is_live(now, &self.limits) {
            if let Some(id) = &current {
                self.remove(&handle_of(id)).await;
            }
            return Ok(delete_cookies(&self.names, present));
        }
        let ttl_ms = ttl_ms(data.remaining(now, &self.limits));
        let (id, written) = match (kind, current) {
            (SaveKind::Update, Some(id)) => {
                let written = self.update(&handle_of(&id), data, ttl_ms).await?;
                let Some(written) = written else {
                    // Logged out meanwhile (elsewhere): the session stays ended.
                    return Ok(delete_cookies(&self.names, present));
                };
                (id, written)
            }
            (_, previous) => {
                let id = new_id()?;
                let key = record_key(&handle_of(&id));
                let sealed = record::seal(&self.keys, &key, data)?;
                let ttl = ttl_ms.to_string();
                let wrote: i64 = self
                    .conn
                    .script(&self.cas, &[&key], &["", &sealed, &ttl])
                    .await?;
                if wrote != 1 {
                    return Err(SessionError::Unavailable("session id collision".into()));
                }
                // No fixation: whatever session the browser had before is gone.
                if let Some(old) = previous {
                    self.remove(&handle_of(&old)).await;
                }
                (id, data.clone())
            }
        };
        self.index(&handle_of(&id), &written, ttl_ms).await?;
        let sealed_id = self.keys.seal(self.names.session(), id)?;
        let max_age = written.remaining(now, &self.limits);
        let mut out = vec![set_cookie(
            &self.names,
            self.names.session(),
            &sealed_id,
            max_age,
        )?];
        // Chunks left over from the cookie store: the browser must forget them.
        let stale = present.into_iter().filter(|n| *n != self.names.session());
        out.extend(delete_cookies(&self.names, stale));
        Ok(out)
    }

    /// Compare-and-set update; `None` when the record no longer exists.
    async fn update(
        &self,
        handle: &str,
        data: &SessionData,
        ttl_ms: u64,
    ) -> Result<Option<SessionData>, SessionError> {
        let key = record_key(handle);
        let ttl = ttl_ms.to_string();
        for _ in 0..CAS_ATTEMPTS {
            let Some((raw, stored, _)) = self.read(handle).await? else {
                return Ok(None);
            };
            let merged = record::merge(data.clone(), &stored);
            let sealed = record::seal(&self.keys, &key, &merged)?;
            let expected = sha1_hex(&raw);
            // The script publishes the key: other replicas drop their copies.
            let wrote: i64 = self
                .conn
                .script(&self.cas, &[&key], &[&expected, &sealed, &ttl, CHANNEL])
                .await?;
            match wrote {
                1 => {
                    self.local.forget(handle);
                    return Ok(Some(merged));
                }
                -1 => {
                    self.local.forget(handle);
                    return Ok(None);
                }
                _ => continue,
            }
        }
        Err(SessionError::Unavailable(
            "session update kept conflicting".into(),
        ))
    }

    async fn index(
        &self,
        handle: &str,
        data: &SessionData,
        ttl_ms: u64,
    ) -> Result<(), SessionError> {
        let ttl = ttl_ms.to_string();
        for key in index_keys(data) {
            let _: i64 = self
                .conn
                .script(&self.index_add, &[&key], &[handle, &ttl])
                .await?;
        }
        Ok(())
    }

    /// Deletes a record and its index memberships; failures are logged, not returned.
    async fn remove(&self, handle: &str) {
        let result = async {
            let found = self.read(handle).await?;
            let _: (i64,) = self.conn.pipe(&delete_and_announce(handle)).await?;
            self.local.forget(handle);
            if let Some((_, data, _)) = found {
                for key in index_keys(&data) {
                    let _: i64 = self.conn.run(redis::Cmd::srem(key, handle)).await?;
                }
            }
            Ok::<(), SessionError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "session record removal failed");
        }
    }

    /// [`SessionStore::delete`].
    pub async fn delete_now(&self, cookies: &RequestCookies<'_>) -> Vec<HeaderValue> {
        if let Some((id, _)) = self.session_id(cookies) {
            self.remove(&handle_of(&id)).await;
        }
        let mut present = present_session_cookies(cookies, self.names.session());
        if !present.contains(&self.names.session()) {
            present.push(self.names.session());
        }
        delete_cookies(&self.names, present)
    }
}

/// `DEL` of a record and the announcement of its key on [`CHANNEL`], in one round trip;
/// answers the number of records deleted.
fn delete_and_announce(handle: &str) -> redis::Pipeline {
    let key = record_key(handle);
    let mut pipe = redis::pipe();
    pipe.cmd("DEL")
        .arg(&key)
        .cmd("PUBLISH")
        .arg(CHANNEL)
        .arg(&key)
        .ignore();
    pipe
}

/// A TTL in milliseconds, at least one second (Redis refuses 0).
fn ttl_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1000)
}

impl SessionStore for RedisStore {
    fn read<'a>(
        &'a self,
        cookies: &'a RequestCookies<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<Loaded, SessionError>> {
        Box::pin(self.read_now(cookies, now))
    }

    fn save<'a>(
        &'a self,
        data: &'a SessionData,
        kind: SaveKind,
        cookies: &'a RequestCookies<'a>,
        now: u64,
    ) -> BoxFuture<'a, Result<Vec<HeaderValue>, SessionError>> {
        Box::pin(self.save_now(data, kind, cookies, now))
    }

    fn delete<'a>(&'a self, cookies: &'a RequestCookies<'a>) -> BoxFuture<'a, Vec<HeaderValue>> {
        Box::pin(self.delete_now(cookies))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
