//! This replica's copies of decrypted session records, so that a request whose session
//! is known needs no Redis round trip, no decryption and no JSON parse.
//!
//! Two bounded caches: sealed cookie value → session handle (a fact that never changes:
//! the cookie carries a sealed random id), and handle → the record as last read (its raw
//! sealed value, which serves as its version, and the decoded session). A record is
//! served without asking Redis only while the invalidation subscription is *fresh*: a
//! PING sent on it within [`FRESH_FOR`] has been answered, and every invalidation Redis
//! delivered before that answer has been applied (Redis answers in order on one
//! connection). Every write of a record (touch, refresh, sign-out, back-channel logout,
//! a new login replacing an old id) publishes its key, so a logout anywhere takes effect
//! here within [`FRESH_FOR`] plus the ping interval, and at once on the replica that
//! handled it. Otherwise the record is read from Redis (one `GET`) and its decoded form
//! reused when the value is unchanged.
//!
//! Must never serve a record after an invalidation for it was applied, never serve one
//! while the subscription is not fresh, and never decide liveness: callers check the
//! session's limits at their own `now` on every use. Entries live at most
//! [`RECORD_TTL`], which bounds how long a record deleted behind the gateway's back
//! (`redis-cli DEL`, eviction) can still be served.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::session::shared::SharedSession;
// The cookie key of a sealed value, as the cookie store's cache computes it (a hint only:
// a hit counts only if the whole value is equal).
use crate::session::store::cache_key;

/// A cached record is served without asking Redis only if a ping sent at most this long
/// ago on the invalidation subscription has been answered.
pub const FRESH_FOR: Duration = Duration::from_millis(750);
/// How often the subscriber pings (a logout is applied everywhere within about
/// [`FRESH_FOR`] + this).
pub const PING_EVERY: Duration = Duration::from_millis(200);
/// The longest a record copy lives, whatever else happens.
pub const RECORD_TTL: Duration = Duration::from_secs(60);
/// Memory for record copies (sealed value + decoded session, a few kB each).
const RECORD_CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Sealed cookie values remembered (~200 bytes each).
const ID_CACHE_ENTRIES: u64 = 100_000;

/// What a sealed session cookie stands for.
struct IdEntry {
    sealed: Box<str>,
    handle: Arc<str>,
    current: bool,
}

/// A record as last read from Redis.
pub struct CachedRecord {
    /// The sealed value as stored: equal values decode equally.
    raw: Box<str>,
    /// The decoded session.
    pub session: Arc<SharedSession>,
    /// Whether the current key sealed the record.
    pub current: bool,
}

impl CachedRecord {
    /// A record read as `raw` that decoded to `session`.
    pub fn new(raw: String, session: Arc<SharedSession>, current: bool) -> Arc<CachedRecord> {
        Arc::new(CachedRecord {
            raw: raw.into_boxed_str(),
            session,
            current,
        })
    }

    /// Whether this copy is of exactly this stored value.
    pub fn is_of(&self, raw: &str) -> bool {
        *self.raw == *raw
    }
}

/// The caches and the subscription state of one store.
pub struct LocalCache {
    ids: moka::sync::Cache<u64, Arc<IdEntry>>,
    records: moka::sync::Cache<Arc<str>, Arc<CachedRecord>>,
    /// Bumped by every invalidation: a record read before a bump is not cached.
    seq: AtomicU64,
    base: Instant,
    /// When (ns after `base`, +1; 0 = never) the last answered ping was sent.
    acked: AtomicU64,
    subscribed: AtomicBool,
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("records", &self.records.entry_count())
            .field("fresh", &self.fresh())
            .finish_non_exhaustive()
    }
}

impl Default for LocalCache {
    fn default() -> Self {
        LocalCache::new()
    }
}

impl LocalCache {
    /// Empty caches, not subscribed (nothing is served without Redis until a subscriber
    /// reports in).
    pub fn new() -> LocalCache {
        LocalCache {
            ids: moka::sync::Cache::builder()
                .max_capacity(ID_CACHE_ENTRIES)
                .time_to_idle(RECORD_TTL)
                .build(),
            records: moka::sync::Cache::builder()
                .max_capacity(RECORD_CACHE_BYTES)
                .weigher(|_: &Arc<str>, r: &Arc<CachedRecord>| {
                    u32::try_from(2 * r.raw.len() + 1024).unwrap_or(u32::MAX)
                })
                .time_to_live(RECORD_TTL)
                .build(),
            seq: AtomicU64::new(0),
            base: Instant::now(),
            acked: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
        }
    }

    /// The handle and key freshness a sealed cookie value stands for: remembered, or
    /// computed by `open` (which authenticates the cookie) and remembered. `None` when
    /// `open` refuses it (nothing is remembered then).
    pub fn handle_of(
        &self,
        sealed: &str,
        open: impl FnOnce() -> Option<(String, bool)>,
    ) -> Option<(Arc<str>, bool)> {
        let key = cache_key(sealed.as_bytes());
        if let Some(hit) = self.ids.get(&key) {
            if *hit.sealed == *sealed {
                return Some((hit.handle.clone(), hit.current));
            }
        }
        let (handle, current) = open()?;
        let handle: Arc<str> = handle.into();
        let entry = IdEntry {
            sealed: sealed.into(),
            handle: handle.clone(),
            current,
        };
        self.ids.insert(key, Arc::new(entry));
        Some((handle, current))
    }

    /// The copy of `handle`'s record that may be served without asking Redis: only
    /// while the subscription is fresh.
    pub fn fresh_record(&self, handle: &str) -> Option<Arc<CachedRecord>> {
        if !self.fresh() {
            return None;
        }
        self.records.get(handle)
    }

    /// The last copy of `handle`'s record, fresh or not (to reuse its decoding when
    /// Redis returns the same value).
    pub fn record(&self, handle: &str) -> Option<Arc<CachedRecord>> {
        self.records.get(handle)
    }

    /// The invalidation sequence; take it before reading a record from Redis and pass it
    /// to [`LocalCache::insert`].
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// Remembers a record read after [`LocalCache::seq`] returned `before`, unless an
    /// invalidation came in meanwhile (it may have been for this record).
    pub fn insert(&self, handle: Arc<str>, record: Arc<CachedRecord>, before: u64) {
        if self.seq() != before {
            return;
        }
        self.records.insert(handle.clone(), record);
        // An invalidation between the check and the insert bumped `seq` before removing:
        // either it removes our copy, or we see its bump here and remove it ourselves.
        if self.seq() != before {
            self.records.invalidate(&handle);
        }
    }

    /// Drops a record that was written or deleted (here or, through the subscription,
    /// on another replica).
    pub fn forget(&self, handle: &str) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.records.invalidate(handle);
    }

    /// Drops a record found gone in Redis (no invalidation to order against: whoever
    /// deleted it published one).
    pub fn drop_gone(&self, handle: &str) {
        self.records.invalidate(handle);
    }

    /// Drops every record copy: the subscription was (re)established or lost, so
    /// invalidations may have been missed.
    pub fn flush(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.records.invalidate_all();
    }

    /// A monotonic timestamp for [`LocalCache::acked`].
    pub fn clock(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// The subscription is up, with every invalidation before it applied.
    pub fn subscribed(&self) {
        self.flush();
        self.subscribed.store(true, Ordering::SeqCst);
    }

    /// A ping sent at `sent` (from [`LocalCache::clock`]) was answered, and every
    /// message received before its answer applied.
    pub fn acked(&self, sent: u64) {
        self.acked.fetch_max(sent, Ordering::SeqCst);
    }

    /// The subscription is gone: nothing is served without Redis until it is back.
    pub fn lost(&self) {
        self.subscribed.store(false, Ordering::SeqCst);
        self.acked.store(0, Ordering::SeqCst);
        self.flush();
    }

    /// Whether a copy may be served without asking Redis.
    pub fn fresh(&self) -> bool {
        self.fresh_at(self.clock())
    }

    /// [`LocalCache::fresh`] at `now` (from [`LocalCache::clock`]).
    fn fresh_at(&self, now: u64) -> bool {
        let acked = self.acked.load(Ordering::SeqCst);
        let window = u64::try_from(FRESH_FOR.as_nanos()).unwrap_or(u64::MAX);
        self.subscribed.load(Ordering::SeqCst) && acked != 0 && now.saturating_sub(acked) < window
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
