// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The local record cache: what may be served without Redis, and when not.

use super::*;
use crate::session::codec::SessionData;

fn session(sub: &str) -> Arc<SharedSession> {
    SharedSession::new(SessionData {
        subject: sub.into(),
        username: None,
        email: None,
        groups: vec![],
        claims: Default::default(),
        id_token: None,
        access_token: None,
        access_token_expires_at: None,
        refresh_token: None,
        provider: "idp".into(),
        sid: None,
        created_at: 1,
        last_seen_at: 1,
    })
}

fn record(raw: &str) -> Arc<CachedRecord> {
    CachedRecord::new(raw.into(), session("u1"), true)
}

/// A cache whose subscription is up and answered a ping just now.
fn fresh_cache() -> LocalCache {
    let c = LocalCache::new();
    c.subscribed();
    c.acked(c.clock());
    c
}

#[test]
fn nothing_is_served_without_a_fresh_subscription() {
    let c = LocalCache::new();
    let h: Arc<str> = "h1".into();
    c.insert(h.clone(), record("v1"), c.seq());
    assert!(c.record("h1").is_some(), "kept for reuse of its decoding");
    assert!(c.fresh_record("h1").is_none(), "never subscribed");
    c.subscribed();
    assert!(
        c.fresh_record("h1").is_none(),
        "subscribed, but no ping answered yet"
    );
    c.insert(h.clone(), record("v1"), c.seq());
    c.acked(c.clock());
    assert!(c.fresh_record("h1").is_some());
    // The last answered ping is too old: the subscription may be stalled.
    let sent = c.clock();
    c.acked(sent);
    let window = u64::try_from(FRESH_FOR.as_nanos()).unwrap();
    assert!(c.fresh_at(sent + window - 1));
    assert!(
        !c.fresh_at(sent + window),
        "no answer for FRESH_FOR: not fresh"
    );
    // Lost: flushed and not fresh until subscribed and acknowledged again.
    c.lost();
    assert!(c.fresh_record("h1").is_none());
    assert!(c.record("h1").is_none(), "flushed");
}

#[test]
fn an_invalidation_drops_the_copy_at_once() {
    let c = fresh_cache();
    let h: Arc<str> = "h1".into();
    c.insert(h.clone(), record("v1"), c.seq());
    assert!(c.fresh_record("h1").is_some());
    c.forget("h1");
    assert!(c.fresh_record("h1").is_none());
    assert!(c.record("h1").is_none());
}

#[test]
fn a_record_read_before_an_invalidation_is_not_cached() {
    let c = fresh_cache();
    let before = c.seq();
    // Another replica's logout arrives while our GET is in flight.
    c.forget("h1");
    c.insert("h1".into(), record("v1"), before);
    assert!(c.record("h1").is_none(), "stale read must not be cached");
    // Read again after the invalidation: cached.
    c.insert("h1".into(), record("v2"), c.seq());
    assert!(c.fresh_record("h1").is_some_and(|r| r.is_of("v2")));
}

#[test]
fn a_resubscription_flushes_what_may_have_been_missed() {
    let c = fresh_cache();
    c.insert("h1".into(), record("v1"), c.seq());
    let before = c.seq();
    c.subscribed();
    assert!(c.record("h1").is_none());
    c.insert("h2".into(), record("v1"), before);
    assert!(c.record("h2").is_none(), "read before the flush");
}

#[test]
fn cookie_handles_are_remembered_by_exact_value() {
    let c = LocalCache::new();
    let mut opened = 0;
    let mut open = |h: &str| {
        opened += 1;
        Some((h.to_owned(), true))
    };
    let a = "AAAAAAAAtail-of-sixteen!";
    assert_eq!(c.handle_of(a, || open("h-a")).unwrap().0.as_ref(), "h-a");
    assert_eq!(c.handle_of(a, || open("other")).unwrap().0.as_ref(), "h-a");
    // Same tail (same cache key), different value: opened, never the other's handle.
    let b = "BBBBBBBBtail-of-sixteen!";
    assert_eq!(cache_key(a.as_bytes()), cache_key(b.as_bytes()));
    assert_eq!(c.handle_of(b, || open("h-b")).unwrap().0.as_ref(), "h-b");
    assert_eq!(opened, 2);
    // A value that does not open is not remembered.
    assert!(c.handle_of("junk", || None).is_none());
    assert!(c.handle_of("junk", || None).is_none());
}
