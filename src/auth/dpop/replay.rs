//! The `jti` replay cache of DPoP proofs (RFC 9449 §11.1): a proof is accepted once.
//!
//! In memory: a bounded moka cache keyed by SHA-256 of (key thumbprint, `jti`), each
//! entry living as long as a proof with that `iat` could still be accepted; when it is
//! full, moka evicts the least used entries, so a replay of an evicted proof would pass
//! (bound: [`REPLAY_CACHE_SIZE`] proofs per window; spread over replicas, use Redis).
//! With `session.store: redis` the pipeline asks Redis instead (`SET NX EX`), so every
//! replica refuses a proof any of them has seen. Never stores a `jti` in clear.

use std::time::{Duration, Instant};

use aws_lc_rs::digest;

/// Proofs remembered in memory at most.
pub const REPLAY_CACHE_SIZE: u64 = 500_000;

struct Ttl;

impl moka::Expiry<[u8; 32], Duration> for Ttl {
    fn expire_after_create(&self, _: &[u8; 32], ttl: &Duration, _: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

/// Proofs seen, in memory.
pub struct ReplayCache {
    seen: moka::future::Cache<[u8; 32], Duration>,
}

impl Default for ReplayCache {
    fn default() -> Self {
        ReplayCache::new(REPLAY_CACHE_SIZE)
    }
}

impl ReplayCache {
    /// A cache of at most `size` proofs.
    pub fn new(size: u64) -> ReplayCache {
        ReplayCache {
            seen: moka::future::Cache::builder()
                .max_capacity(size)
                .expire_after(Ttl)
                .build(),
        }
    }

    /// Remembers the proof for `ttl`; `false` when it was seen before (a replay).
    /// Concurrent first uses of one proof: exactly one gets `true`.
    pub async fn first_use(&self, thumbprint: &str, jti: &str, ttl: Duration) -> bool {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(thumbprint.as_bytes());
        ctx.update(b"\0");
        ctx.update(jti.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        self.seen.entry(key).or_insert(ttl).await.is_fresh()
    }
}
