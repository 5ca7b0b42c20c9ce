//! The verified-token cache: tokens whose signature and claims were checked, so a
//! repeated token skips the signature check, with a per-thread front
//! ([`LocalFront`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{bounded_secs, unix_now, MAX_CACHED};
use crate::auth::local::LocalFront;
use crate::auth::token_key::TokenHashing;
use crate::auth::verified::Verified;

/// A token whose signature and claims were checked.
#[derive(Debug)]
pub struct VerifiedToken {
    /// Its claims (and the principal built from them once).
    pub verified: Arc<Verified>,
    /// Its `exp` (re-checked on every cache hit).
    pub exp: f64,
}

/// Entry life = time left until `exp` (so nothing outlives its token).
struct UntilExp;

impl moka::Expiry<Box<[u8]>, Arc<VerifiedToken>> for UntilExp {
    fn expire_after_create(
        &self,
        _key: &Box<[u8]>,
        value: &Arc<VerifiedToken>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(bounded_secs(value.exp - unix_now(), MAX_CACHED))
    }
}

/// Verified tokens, so a repeated token skips the signature check. Keyed by the token's
/// bytes (only verified tokens are ever inserted, so a hit is a token byte-equal to one
/// that passed every check); bounded; `exp` is re-checked by the caller on every hit.
///
/// In front of it, per worker thread, the last tokens that thread saw (`LocalFront`),
/// each with a copy of its verification of that thread's own: a hit writes no memory
/// another worker touches.
#[derive(Clone)]
pub struct VerifiedCache {
    cache: Option<moka::sync::Cache<Box<[u8]>, Arc<VerifiedToken>, TokenHashing>>,
    local: Arc<LocalFront<Arc<VerifiedToken>>>,
}

impl VerifiedCache {
    /// A cache of at most `size` tokens (0 disables it).
    pub fn new(size: u64) -> Self {
        let cache = (size > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(size)
                .expire_after(UntilExp)
                .build_with_hasher(TokenHashing::signature_tail())
        });
        VerifiedCache {
            cache,
            local: Arc::new(LocalFront::new(TokenHashing::signature_tail())),
        }
    }

    /// The cached verification of `token` (as presented, not yet checked), if any.
    pub fn get(&self, token: &[u8]) -> Option<Arc<VerifiedToken>> {
        let cache = self.cache.as_ref()?;
        if let Some(hit) = self.local.get(token) {
            return Some(hit);
        }
        let generation = self.local.generation();
        let shared = cache.get(token)?;
        // This thread's copy: the same claims, a principal (and what routes derive from
        // it) of its own.
        let mine = Arc::new(VerifiedToken {
            verified: Arc::new(shared.verified.copy_for_thread()),
            exp: shared.exp,
        });
        self.local.put(token, generation, mine.clone());
        Some(mine)
    }

    /// Remembers the verification of `token` (only while it has time left).
    pub async fn insert(&self, token: &str, verified: Arc<VerifiedToken>) {
        if let Some(cache) = &self.cache {
            if verified.exp > unix_now() {
                cache.insert(token.as_bytes().into(), verified);
            }
        }
    }

    /// Forgets everything (e.g. after the allowed algorithms changed).
    pub fn clear(&self) {
        self.local.clear();
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }
}
