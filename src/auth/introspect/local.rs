//! The introspector's per-thread front (`auth::local`): each worker thread serves the
//! verdicts it saw from copies of its own, within the shared cache's life of each.

use std::sync::Arc;

use super::{Entry, Introspector, Verdict};

impl Introspector {
    /// The cached verdict for `token`: this thread's copy while the shared cache would
    /// still hold it, else the shared one (copied for this thread).
    pub(super) fn cached_entry(&self, token: &str) -> Option<Arc<Entry>> {
        if let Some(mine) = self.local.get(token.as_bytes()) {
            if mine.created.elapsed() < mine.ttl {
                return Some(mine);
            }
        }
        let generation = self.local.generation();
        let shared = self.cache.get(token)?;
        let mine = Arc::new(Entry {
            verdict: match &shared.verdict {
                Verdict::Active { verified, exp } => Verdict::Active {
                    verified: Arc::new(verified.copy_for_thread()),
                    exp: *exp,
                },
                Verdict::Inactive(reason) => Verdict::Inactive(reason),
            },
            ttl: shared.ttl,
            created: shared.created,
            endpoint: shared.endpoint.clone(),
        });
        self.local.put(token.as_bytes(), generation, mine.clone());
        Some(mine)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::auth::introspect::tests::{config, introspector as make};
    use crate::auth::verified::Verified;
    use crate::config::ClientAuth;

    fn introspector() -> Introspector {
        make(
            config(ClientAuth::ClientSecretBasic),
            Duration::from_secs(1),
        )
    }

    fn active(created: Instant) -> Arc<Entry> {
        let claims = serde_json::Map::from_iter([("sub".to_string(), "alice".into())]);
        Arc::new(Entry {
            verdict: Verdict::Active {
                verified: Arc::new(Verified::new(claims)),
                exp: None,
            },
            ttl: Duration::from_secs(60),
            created,
            endpoint: "https://idp.example.com/introspect".into(),
        })
    }

    fn verified(entry: &Entry) -> &Arc<Verified> {
        match &entry.verdict {
            Verdict::Active { verified, .. } => verified,
            Verdict::Inactive(_) => panic!("active expected"),
        }
    }

    #[test]
    fn a_thread_serves_its_own_copy_of_a_shared_verdict() {
        let i = introspector();
        let shared = active(Instant::now());
        i.cache.insert("tok".into(), shared.clone());
        let a = i.cached_entry("tok").unwrap();
        let b = i.cached_entry("tok").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(verified(&a), verified(&shared)));
        assert!(Arc::ptr_eq(&verified(&a).claims, &verified(&shared).claims));
        assert!(i.cached_entry("other").is_none());
    }

    #[test]
    fn a_thread_copy_serves_no_longer_than_the_verdict_is_cached() {
        let i = introspector();
        // In this thread's front only, and past its life: not served (the shared
        // cache, which would have dropped it too, has nothing).
        let long_ago = Instant::now().checked_sub(Duration::from_secs(61)).unwrap();
        i.local.put(b"tok", i.local.generation(), active(long_ago));
        assert!(i.cached_entry("tok").is_none());
        i.local
            .put(b"tok", i.local.generation(), active(Instant::now()));
        assert!(i.cached_entry("tok").is_some());
        // Whatever clears the front (an endpoint that changed) makes it stale.
        i.local.clear();
        assert!(i.cached_entry("tok").is_none());
    }
}
