//! A per-thread front for a shared token cache: the last tokens a worker thread saw,
//! each with a copy of the cached value that only this thread touches.
//!
//! Every request presenting a cached token would otherwise write to memory that every
//! worker shares: the shared cache's entry (its reference count, its last-access
//! time, its read log), the value's reference count, and the locks of what is derived
//! from it (rendered identity headers, per-route decisions). With two workers serving
//! the same token, each of those cache lines moves between cores on every request;
//! `perf` on 2 workers put most of the cached-JWT route's authentication time in those
//! atomic operations. A hit here writes only this thread's memory.
//!
//! What the front may serve is exactly what the shared cache would: it is filled from
//! it, the caller re-checks expiry on every hit as for a shared hit, and [`clear`]
//! (whatever the shared cache forgets for a reason other than capacity or expiry)
//! makes every thread's entries stale at once. Bounded: [`SLOTS`] entries per thread.
//!
//! [`clear`]: LocalFront::clear

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use thread_local::ThreadLocal;

use super::token_key::TokenHashing;

/// Entries per thread (direct-mapped by hash: a token evicts the one in its slot).
const SLOTS: usize = 64;

struct Entry<V> {
    hash: u64,
    key: Box<[u8]>,
    /// The front's generation when filled: stale after [`LocalFront::clear`].
    generation: u64,
    value: V,
}

type Slots<V> = RefCell<Box<[Option<Entry<V>>]>>;

/// The per-thread front (see the module documentation).
pub struct LocalFront<V: Send> {
    slots: ThreadLocal<Slots<V>>,
    /// Bumped by [`Self::clear`]; read (never written) by every lookup.
    generation: AtomicU64,
    hashing: TokenHashing,
}

impl<V: Send + Clone> LocalFront<V> {
    /// An empty front hashing keys with `hashing` (the shared cache's hasher; the
    /// front's slot comes from the hash's high bits, the shared cache's bucket from
    /// its low ones).
    pub fn new(hashing: TokenHashing) -> Self {
        LocalFront {
            slots: ThreadLocal::new(),
            generation: AtomicU64::new(0),
            hashing,
        }
    }

    /// This thread's value for `key`, if it has one from the current generation.
    pub fn get(&self, key: &[u8]) -> Option<V> {
        let slots = self.slots.get()?.try_borrow().ok()?;
        let hash = self.hashing.hash_one(key);
        let entry = slots.get(slot_of(hash))?.as_ref()?;
        let current = self.generation.load(Ordering::Acquire);
        (entry.hash == hash && entry.generation == current && *entry.key == *key)
            .then(|| entry.value.clone())
    }

    /// Keeps `value` for `key` on this thread, replacing what its slot held. `generation`
    /// is [`Self::generation`] read before the shared cache was: a clear in between
    /// leaves the entry stale.
    pub fn put(&self, key: &[u8], generation: u64, value: V) {
        let cell = self
            .slots
            .get_or(|| RefCell::new((0..SLOTS).map(|_| None).collect()));
        let Ok(mut slots) = cell.try_borrow_mut() else {
            return;
        };
        let hash = self.hashing.hash_one(key);
        if let Some(slot) = slots.get_mut(slot_of(hash)) {
            *slot = Some(Entry {
                hash,
                key: key.into(),
                generation,
                value,
            });
        }
    }

    /// The current generation (read before a lookup in the shared cache whose answer
    /// is to be [`put`](Self::put) here).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Makes every thread's entries stale.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

fn slot_of(hash: u64) -> usize {
    // The high bits: the hash's low bits also pick the shared cache's bucket.
    (hash >> 58) as usize % SLOTS
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn serves_what_was_put_on_this_thread_only() {
        let front = Arc::new(LocalFront::new(TokenHashing::signature_tail()));
        assert_eq!(front.get(b"token-a"), None);
        front.put(b"token-a", front.generation(), 1u32);
        assert_eq!(front.get(b"token-a"), Some(1));
        // Another token: never the first one's value.
        assert_eq!(front.get(b"token-b"), None);
        // Another thread has a front of its own.
        let other = front.clone();
        let seen = std::thread::spawn(move || other.get(b"token-a"))
            .join()
            .unwrap();
        assert_eq!(seen, None);
    }

    #[test]
    fn a_clear_makes_every_entry_stale_even_one_put_after_it() {
        let front = LocalFront::new(TokenHashing::signature_tail());
        let before = front.generation();
        front.put(b"token-a", before, 1u32);
        front.clear();
        assert_eq!(front.get(b"token-a"), None);
        // Read from the shared cache before the clear, put after it: stale.
        front.put(b"token-a", before, 2);
        assert_eq!(front.get(b"token-a"), None);
        front.put(b"token-a", front.generation(), 3);
        assert_eq!(front.get(b"token-a"), Some(3));
    }

    #[test]
    fn tokens_sharing_a_slot_evict_each_other_and_never_answer_for_each_other() {
        let front = LocalFront::new(TokenHashing::signature_tail());
        let g = front.generation();
        // More tokens than slots: some share one; each answers only for itself.
        let tokens: Vec<Vec<u8>> = (0..(SLOTS * 4))
            .map(|i| format!("token-{i:04}").into_bytes())
            .collect();
        for (i, t) in tokens.iter().enumerate() {
            front.put(t, g, i);
        }
        let mut kept = 0;
        for (i, t) in tokens.iter().enumerate() {
            if let Some(v) = front.get(t) {
                assert_eq!(v, i);
                kept += 1;
            }
        }
        assert!(kept <= SLOTS, "bounded: {kept} kept");
        assert!(kept > 0);
    }
}
