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
pub mod record;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use http::HeaderValue;

use self::conn::RedisConn;
use self::record::{
    handle_of, index_keys, is_id, jti_key, lock_key, new_id, record_key, sha1_hex, sid_key, sub_key,
};
use super::codec::{present_session_cookies, SessionData, SessionLimits};
use super::cookie::{delete_cookies, set_cookie, CookieNames, RequestCookies};
use super::keys::SessionKeys;
use super::shared::SharedSession;
use super::store::{Loaded, SaveKind, SessionStore};
use super::SessionError;

pub use self::conn::split_urls;

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
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

/// A held refresh lock; release it after the refreshed session is saved.
pub struct RefreshLock {
    key: String,
    token: String,
    /// Whether another replica held the lock first (the record was probably refreshed
    /// meanwhile: re-read it).
    pub waited: bool,
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
        Ok(RedisStore {
            conn,
            names,
            keys,
            limits,
            cas: redis::Script::new(record::CAS),
            index_add: redis::Script::new(record::INDEX_ADD),
            unlock: redis::Script::new(record::UNLOCK),
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
    /// unreadable is an ended session ([`Loaded::None`]), not an unreadable cookie.
    pub async fn read_now(
        &self,
        cookies: &RequestCookies<'_>,
        now: u64,
    ) -> Result<Loaded, SessionError> {
        let Some((id, cookie_current)) = self.session_id(cookies) else {
            return Ok(Loaded::absent_or_unreadable(cookies, self.names.session()));
        };
        let found = self.read(&handle_of(&id)).await?;
        Ok(match found {
            Some((_, data, record_current))
                if !data.subject.is_empty() && data.is_live(now, &self.limits) =>
            {
                Loaded::Live {
                    data: SharedSession::new(data),
                    stale_seal: !(cookie_current && record_current),
                }
            }
            _ => Loaded::None,
        })
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
            let wrote: i64 = self
                .conn
                .script(&self.cas, &[&key], &[&expected, &sealed, &ttl])
                .await?;
            match wrote {
                1 => return Ok(Some(merged)),
                -1 => return Ok(None),
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
            let _: i64 = self.conn.run(redis::Cmd::del(record_key(handle))).await?;
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

    /// Ends every session of `provider` with provider session id `sid` (when given),
    /// else every session of user `sub`. Returns how many records were deleted.
    pub async fn end_sessions(
        &self,
        provider: &str,
        sid: Option<&str>,
        sub: Option<&str>,
    ) -> Result<usize, SessionError> {
        let index = match (sid, sub) {
            (Some(sid), _) => sid_key(provider, sid),
            (None, Some(sub)) => sub_key(provider, sub),
            (None, None) => return Ok(0),
        };
        let handles: Vec<String> = self.conn.run(redis::Cmd::smembers(&index)).await?;
        let mut ended = 0usize;
        for handle in &handles {
            let n: i64 = self.conn.run(redis::Cmd::del(record_key(handle))).await?;
            ended += usize::try_from(n).unwrap_or(0);
        }
        let _: i64 = self.conn.run(redis::Cmd::del(&index)).await?;
        Ok(ended)
    }

    /// Records a logout token's `jti` for `ttl`; `false` when it was already seen
    /// (a replay).
    pub async fn first_use_of_jti(
        &self,
        provider: &str,
        jti: &str,
        ttl: Duration,
    ) -> Result<bool, SessionError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(jti_key(provider, jti))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl.as_secs().max(1));
        let set: Option<String> = self.conn.run(cmd).await?;
        Ok(set.is_some())
    }

    /// Takes the refresh lock of the request's session (waiting up to [`LOCK_WAIT`] for
    /// another replica); `None` without a session cookie or when the wait ran out.
    pub async fn refresh_lock(
        &self,
        cookies: &RequestCookies<'_>,
    ) -> Result<Option<RefreshLock>, SessionError> {
        let Some((id, _)) = self.session_id(cookies) else {
            return Ok(None);
        };
        let key = lock_key(&handle_of(&id));
        let token = new_id()?;
        let started = Instant::now();
        let mut waited = false;
        loop {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(u64::try_from(LOCK_TTL.as_millis()).unwrap_or(10_000));
            let got: Option<String> = self.conn.run(cmd).await?;
            if got.is_some() {
                return Ok(Some(RefreshLock { key, token, waited }));
            }
            if started.elapsed() >= LOCK_WAIT {
                return Ok(None);
            }
            waited = true;
            tokio::time::sleep(LOCK_POLL).await;
        }
    }

    /// Releases a lock taken by [`RedisStore::refresh_lock`] (only if still ours).
    pub async fn release(&self, lock: RefreshLock) {
        let released: Result<i64, _> = self
            .conn
            .script(&self.unlock, &[&lock.key], &[&lock.token])
            .await;
        if let Err(e) = released {
            tracing::debug!(error = %e, "refresh lock release failed (it expires by itself)");
        }
    }
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
