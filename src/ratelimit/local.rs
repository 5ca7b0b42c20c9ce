//! The in-process bucket store: one TAT (`u64`) per key in a sharded hash map, keyed by
//! a 64-bit keyed hash of the key material (SipHash with a per-store random key), so no
//! key value — an IP, a subject, a header that may be a secret — is ever kept.
//!
//! Memory is bounded: a TAT in the past carries no information (GCRA), so such entries
//! are dropped by a sweep (at most once a second per shard when a new key arrives, and
//! every [`SWEEP_EVERY`] from a background task); a shard that is still full forgets the
//! sampled entry closest to a full bucket. The hot path takes one uncontended shard lock
//! and one hash-map probe; it allocates only when the map grows.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::gcra::{decide, Quota, Verdict};

/// Shards per store: enough that two workers rarely meet on one lock.
const SHARDS: usize = 32;
/// Keys one limit keeps per replica at most (≈ 20 bytes each).
pub const MAX_KEYS: usize = 100_000;
/// How often the background task drops stale entries and gives memory back.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);
/// How many entries a full shard looks at to pick the one to forget.
const EVICTION_SAMPLE: usize = 8;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The keys are already SipHash output: hashing them again would only cost time.
#[derive(Default)]
struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Map = HashMap<u64, u64, BuildHasherDefault<Passthrough>>;

struct Shard {
    map: Map,
    /// When stale entries were last dropped (store nanoseconds).
    swept_at: u64,
}

/// One limit's buckets in this process.
pub struct LocalStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
    epoch: Instant,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// An empty store for at most `max_keys` keys.
    pub fn new(max_keys: usize) -> LocalStore {
        let per_shard = max_keys.div_ceil(SHARDS).max(1);
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    map: Map::default(),
                    swept_at: 0,
                })
            })
            .collect();
        LocalStore {
            shards,
            per_shard,
            hasher: RandomState::new(),
            epoch: Instant::now(),
        }
    }

    /// A fresh keyed hasher; feed it the key material, then pass `finish()` to
    /// [`LocalStore::check`].
    pub fn hasher(&self) -> impl Hasher {
        self.hasher.build_hasher()
    }

    /// Nanoseconds on this store's monotonic clock.
    pub fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Decides one request of `key` at `now` and records it.
    pub fn check(&self, key: u64, now: u64, quota: &Quota) -> Verdict {
        // Middle bits pick the shard: the map uses the low bits for the bucket and the
        // top ones for its tags, so neither loses entropy within a shard.
        let index = (key >> 32) as usize % self.shards.len();
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(tat) = shard.map.get_mut(&key) {
            let (verdict, next) = decide(Some(*tat), now, quota);
            *tat = next;
            return verdict;
        }
        let (verdict, next) = decide(None, now, quota);
        if matches!(verdict, Verdict::Allowed { .. }) {
            if shard.map.len() >= self.per_shard {
                shard.make_room(now, self.per_shard);
            }
            shard.map.insert(key, next);
        }
        verdict
    }

    /// Gives one request back to `key` (it was admitted, then another limit refused the
    /// request): its TAT moves back by `interval`.
    pub fn refund(&self, key: u64, interval: u64) {
        let index = (key >> 32) as usize % self.shards.len();
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(tat) = shard.map.get_mut(&key) {
            *tat = tat.saturating_sub(interval);
        }
    }

    /// Drops every entry whose bucket is full again and shrinks shards that emptied.
    pub fn sweep(&self, now: u64) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            shard.sweep(now);
            let len = shard.map.len();
            if shard.map.capacity() > 4 * len + 64 {
                shard.map.shrink_to(2 * len);
            }
        }
    }

    /// Keys held (for tests and debugging).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).map.len())
            .sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sweeps `store` every [`SWEEP_EVERY`] while it lives (only when a Tokio runtime is
    /// running: `check-config` builds no background work).
    pub fn spawn_sweeper(store: &Arc<LocalStore>) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<LocalStore> = Arc::downgrade(store);
        handle.spawn(async move {
            loop {
                tokio::time::sleep(SWEEP_EVERY).await;
                let Some(store) = weak.upgrade() else { return };
                store.sweep(store.now());
            }
        });
    }
}

impl Shard {
    fn sweep(&mut self, now: u64) {
        self.map.retain(|_, tat| *tat > now);
        self.swept_at = now;
    }

    /// Room for one more key: drop stale entries (at most once a second), else forget
    /// the sampled entry nearest to a full bucket (it loses the least).
    fn make_room(&mut self, now: u64, limit: usize) {
        if self.swept_at == 0 || now.saturating_sub(self.swept_at) >= NANOS_PER_SEC {
            self.sweep(now);
            if self.map.len() < limit {
                return;
            }
        }
        let victim = self
            .map
            .iter()
            .take(EVICTION_SAMPLE)
            .min_by_key(|(_, tat)| **tat)
            .map(|(k, _)| *k);
        if let Some(k) = victim {
            self.map.remove(&k);
        }
    }
}
