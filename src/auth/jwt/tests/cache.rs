// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The verified-token cache: only live tokens, the whole token as the key, and each
//! thread served its own copy of a verification.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[tokio::test]
async fn verified_cache_keeps_only_live_tokens() {
    let cache = VerifiedCache::new(10);
    let live = Arc::new(VerifiedToken {
        verified: Arc::default(),
        exp: now() as f64 + 300.0,
    });
    cache.insert("t1", live).await;
    assert!(cache.get(b"t1").is_some());
    // The whole token is the key: a prefix, an extension or a one-byte change is another.
    for other in ["t", "t10", "t2", "T1", ""] {
        assert!(cache.get(other.as_bytes()).is_none(), "{other}");
    }
    let expired = Arc::new(VerifiedToken {
        verified: Arc::default(),
        exp: now() as f64 - 1.0,
    });
    cache.insert("t2", expired).await;
    assert!(cache.get(b"t2").is_none());
    cache.clear();
    assert!(cache.get(b"t1").is_none());
    let off = VerifiedCache::new(0);
    off.insert(
        "t1",
        Arc::new(VerifiedToken {
            verified: Arc::default(),
            exp: f64::MAX,
        }),
    )
    .await;
    assert!(off.get(b"t1").is_none());
}

#[tokio::test]
async fn a_thread_is_served_its_own_copy_of_a_verification() {
    let cache = VerifiedCache::new(10);
    let shared = Arc::new(VerifiedToken {
        verified: Arc::new(Verified::new(serde_json::Map::from_iter([(
            "sub".to_string(),
            json!("alice"),
        )]))),
        exp: now() as f64 + 300.0,
    });
    cache.insert("t1", shared.clone()).await;
    let a = cache.get(b"t1").unwrap();
    let b = cache.get(b"t1").unwrap();
    // The same copy for this thread's requests, not the shared entry: what a request
    // derives from it (principal, rendered headers) and its reference counts are this
    // thread's alone.
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a.verified, &shared.verified));
    assert!(Arc::ptr_eq(&a.verified.claims, &shared.verified.claims));
    assert_eq!(a.exp, shared.exp);
    let theirs = {
        let cache = cache.clone();
        std::thread::spawn(move || cache.get(b"t1").unwrap())
            .join()
            .unwrap()
    };
    assert!(!Arc::ptr_eq(&theirs.verified, &a.verified));
    assert_eq!(theirs.verified.claims["sub"], "alice");
}
