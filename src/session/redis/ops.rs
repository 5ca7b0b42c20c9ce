//! The Redis store's cross-replica operations besides reading and saving: ending every
//! session of a provider session id or user (back-channel logout), replay protection
//! of logout tokens, and the refresh lock that keeps replicas from spending one refresh
//! token twice.
//!
//! Must never leave a replica's local copy of an ended session usable (every deletion
//! is announced), and never hold a lock longer than [`LOCK_TTL`].

use std::time::{Duration, Instant};

use super::record::{handle_of, jti_key, lock_key, new_id, sid_key, sub_key};
use super::{delete_and_announce, RedisStore, LOCK_POLL, LOCK_TTL, LOCK_WAIT};
use crate::session::cookie::RequestCookies;
use crate::session::SessionError;

/// A held refresh lock; release it after the refreshed session is saved.
pub struct RefreshLock {
    key: String,
    token: String,
    /// Whether another replica held the lock first (the record was probably refreshed
    /// meanwhile: re-read it).
    pub waited: bool,
}

impl RedisStore {
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
            // Every replica drops its copy on the announcement; this one at once.
            let (n,): (i64,) = self.conn.pipe(&delete_and_announce(handle)).await?;
            self.local.forget(handle);
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
