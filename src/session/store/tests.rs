// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests for the cookie store: trait-object use, stale chunks, Max-Age, deletion.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::auth::Claims;

const NOW: u64 = 1_700_000_000;

fn store() -> CookieStore {
    CookieStore::new(
        CookieNames::new("pc", true),
        SessionKeys::from_bytes(&[[4u8; 32]]).unwrap(),
        SessionLimits {
            lifetime: Duration::from_secs(12 * 3600),
            idle_timeout: Duration::from_secs(3600),
        },
    )
}

fn data(token_len: usize) -> SessionData {
    SessionData {
        subject: "sub".into(),
        username: Some("alice".into()),
        email: None,
        groups: vec![],
        claims: Claims::new(),
        id_token: None,
        access_token: Some("x".repeat(token_len)),
        access_token_expires_at: None,
        refresh_token: None,
        provider: "corp".into(),
        sid: None,
        created_at: NOW,
        last_seen_at: NOW,
    }
}

/// Turns Set-Cookie lines into the Cookie header a browser would send next.
fn browser(set: &[HeaderValue]) -> String {
    set.iter()
        .map(|h| h.to_str().unwrap())
        .filter(|s| !s.contains("Max-Age=0"))
        .map(|s| s.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn deleted(set: &[HeaderValue]) -> Vec<String> {
    set.iter()
        .map(|h| h.to_str().unwrap())
        .filter(|s| s.contains("Max-Age=0"))
        .map(|s| s.split('=').next().unwrap().to_owned())
        .collect()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn save_then_load_through_the_trait_object() {
    let s: Arc<dyn SessionStore> = Arc::new(store());
    let empty = RequestCookies::default();
    let set = block_on(s.save(&data(10), SaveKind::NewLogin, &empty, NOW)).unwrap();
    assert_eq!(set.len(), 1);
    let line = set[0].to_str().unwrap();
    assert!(line.starts_with("__Host-pc="));
    assert!(line.contains("Max-Age=3600; HttpOnly; SameSite=Lax; Secure"));
    let h = browser(&set);
    let rc = RequestCookies::parse(&h);
    assert_eq!(block_on(s.load(&rc, NOW + 1)).unwrap(), Some(data(10)));
    assert_eq!(block_on(s.load(&rc, NOW + 3600)).unwrap(), None);
}

#[test]
fn shrinking_session_deletes_stale_chunks() {
    let s = store();
    let big = s
        .save_now(&data(9000), &RequestCookies::default(), NOW)
        .unwrap();
    assert_eq!(big.len(), 4);
    let h = browser(&big);
    let rc = RequestCookies::parse(&h);
    assert_eq!(block_on(s.load_cached(&rc, NOW)), Some(data(9000)));
    let small = s.save_now(&data(10), &rc, NOW).unwrap();
    assert!(small[0].to_str().unwrap().starts_with("__Host-pc="));
    assert_eq!(
        deleted(&small),
        vec!["__Host-pc_0", "__Host-pc_1", "__Host-pc_2", "__Host-pc_3"]
    );
    // Growing again deletes the unchunked cookie.
    let h = browser(&small);
    let rc = RequestCookies::parse(&h);
    let grown = s.save_now(&data(5000), &rc, NOW).unwrap();
    assert_eq!(deleted(&grown), vec!["__Host-pc"]);
}

#[test]
fn max_age_is_what_remains() {
    let s = store();
    let set = s
        .save_now(&data(1), &RequestCookies::default(), NOW + 1000)
        .unwrap();
    assert!(set[0].to_str().unwrap().contains("Max-Age=2600;"));
    let rc = RequestCookies::parse("__Host-pc=old; __Host-pc_1=x");
    let dead = s.save_now(&data(1), &rc, NOW + 3600).unwrap();
    assert_eq!(deleted(&dead), vec!["__Host-pc", "__Host-pc_1"]);
    assert_eq!(dead.len(), 2);
}

#[test]
fn delete_clears_every_chunk_and_the_main_name() {
    let s = store();
    let rc = RequestCookies::parse("__Host-pc_0=a; app=1; __Host-pc_1=b; __Host-pc_login_x=l");
    let set = block_on(SessionStore::delete(&s, &rc));
    assert_eq!(
        deleted(&set),
        vec!["__Host-pc_0", "__Host-pc_1", "__Host-pc"]
    );
    assert!(set
        .iter()
        .all(|h| h.to_str().unwrap().ends_with("; Secure")));
    let set = s.delete_now(&RequestCookies::default());
    assert_eq!(deleted(&set), vec!["__Host-pc"]);
}

#[test]
fn fresh_login_never_reuses_the_old_value() {
    let s = store();
    let a = s
        .save_now(&data(1), &RequestCookies::default(), NOW)
        .unwrap();
    let b = s
        .save_now(&data(1), &RequestCookies::default(), NOW)
        .unwrap();
    assert_ne!(a, b, "random nonce per seal");
}

#[test]
fn a_cached_session_still_honours_its_limits_and_its_exact_value() {
    let s = store();
    let set = s
        .save_now(&data(10), &RequestCookies::parse(""), NOW)
        .unwrap();
    let header = browser(&set);
    let rc = RequestCookies::parse(&header);
    // First load opens and caches, the second is served from the cache: same session.
    assert_eq!(block_on(s.load_cached(&rc, NOW)), Some(data(10)));
    assert_eq!(block_on(s.load_cached(&rc, NOW + 1)), Some(data(10)));
    // The cache never extends a session: idle and lifetime limits apply to hits too.
    assert_eq!(block_on(s.load_cached(&rc, NOW + 3601)), None);
    // A tampered value is not a hit for the genuine one, and never authenticates.
    let value = header.split_once('=').unwrap().1;
    let mut bytes = value.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let forged = format!("pc={}", String::from_utf8(bytes).unwrap());
    assert_eq!(
        block_on(s.load_cached(&RequestCookies::parse(&forged), NOW)),
        None
    );
    // Another store (other keys) refuses the value even though this one cached it.
    let other = CookieStore::new(
        CookieNames::new("pc", true),
        SessionKeys::from_bytes(&[[5u8; 32]]).unwrap(),
        SessionLimits {
            lifetime: Duration::from_secs(12 * 3600),
            idle_timeout: Duration::from_secs(3600),
        },
    );
    assert_eq!(block_on(other.load_cached(&rc, NOW)), None);
}

#[test]
fn a_session_over_the_cookie_budget_loses_its_id_token_then_is_refused() {
    let s = store().with_budget(6000);
    let mut d = data(2000);
    d.id_token = Some("i".repeat(3000));
    // Fits once the ID token (only a sign-out hint) is left out.
    let set = s.save_now(&d, &RequestCookies::default(), NOW).unwrap();
    let h = browser(&set);
    assert!(h.len() <= 6000, "{} bytes", h.len());
    let loaded = block_on(s.load_cached(&RequestCookies::parse(&h), NOW)).unwrap();
    assert_eq!(loaded.id_token, None);
    assert_eq!(loaded.access_token, d.access_token);
    // Within the budget, the ID token stays.
    let mut small = data(100);
    small.id_token = Some("i".repeat(100));
    let set = s.save_now(&small, &RequestCookies::default(), NOW).unwrap();
    let h = browser(&set);
    let loaded = block_on(s.load_cached(&RequestCookies::parse(&h), NOW)).unwrap();
    assert_eq!(loaded.id_token, small.id_token);
    // Too large even without it: refused, so no cookie the listener would refuse is set.
    assert!(matches!(
        s.save_now(&data(7000), &RequestCookies::default(), NOW),
        Err(SessionError::TooLarge { max: 6000, .. })
    ));
}

fn store_with(keys: &[[u8; 32]]) -> CookieStore {
    CookieStore::new(
        CookieNames::new("pc", true),
        SessionKeys::from_bytes(keys).unwrap(),
        SessionLimits {
            lifetime: Duration::from_secs(12 * 3600),
            idle_timeout: Duration::from_secs(3600),
        },
    )
}

#[test]
fn read_tells_absent_and_ended_from_unreadable() {
    let s = store();
    let read = |h: &str, now| block_on(s.read_cached(&RequestCookies::parse(h), now));
    assert_eq!(read("", NOW), Loaded::None);
    assert_eq!(
        read("app=1; __Host-pc_login_x=l; pc=plain", NOW),
        Loaded::None
    );
    let good = browser(
        &s.save_now(&data(10), &RequestCookies::default(), NOW)
            .unwrap(),
    );
    assert!(matches!(read(&good, NOW), Loaded::Live { .. }));
    // Authentic but over: the browser drops it by its Max-Age; nothing to delete.
    assert_eq!(read(&good, NOW + 3600), Loaded::None);
    let chunked = browser(
        &s.save_now(&data(9000), &RequestCookies::default(), NOW)
            .unwrap(),
    );
    let without_last = chunked.rsplit_once("; ").unwrap().0;
    for unreadable in [
        "__Host-pc=garbage",
        "__Host-pc=",
        "__Host-pc_0=a",
        "__Host-pc_07=a",
        without_last,
        &format!("{chunked}; __Host-pc_9=x"),
        &format!("{good}; {good}"),
        &format!("{good}; __Host-pc_0=x"),
        &good.replace("__Host-pc=", "__Host-pc=A"),
    ] {
        assert_eq!(read(unreadable, NOW), Loaded::Unreadable, "{unreadable}");
    }
    // Sealed with a secret this store does not have (retired): unreadable.
    let foreign = browser(
        &store_with(&[[9u8; 32]])
            .save_now(&data(1), &RequestCookies::default(), NOW)
            .unwrap(),
    );
    assert_eq!(read(&foreign, NOW), Loaded::Unreadable);
}

#[test]
fn a_session_sealed_with_an_older_secret_is_stale_until_saved_again() {
    let (old, new) = ([1u8; 32], [2u8; 32]);
    let before = store_with(&[old]);
    let sealed = browser(
        &before
            .save_now(&data(10), &RequestCookies::default(), NOW)
            .unwrap(),
    );
    let rotated = store_with(&[new, old]);
    let rc = RequestCookies::parse(&sealed);
    let stale = Loaded::Live {
        data: SharedSession::new(data(10)),
        stale_seal: true,
    };
    assert_eq!(block_on(rotated.read_cached(&rc, NOW)), stale);
    // Also when served from the decoded-session cache.
    assert_eq!(block_on(rotated.read_cached(&rc, NOW)), stale);
    let resealed = browser(&rotated.save_now(&data(10), &rc, NOW).unwrap());
    let fresh = Loaded::Live {
        data: SharedSession::new(data(10)),
        stale_seal: false,
    };
    let rc = RequestCookies::parse(&resealed);
    assert_eq!(block_on(rotated.read_cached(&rc, NOW)), fresh);
    // The old secret can now be retired.
    assert_eq!(block_on(store_with(&[new]).read_cached(&rc, NOW)), fresh);
}

#[test]
fn a_thread_is_served_its_own_copy_of_a_decoded_session() {
    let s = store();
    let set = s
        .save_now(&data(10), &RequestCookies::parse(""), NOW)
        .unwrap();
    let header = browser(&set);
    fn live(s: &CookieStore, header: &str) -> Arc<SharedSession> {
        match s.read_decoded(&RequestCookies::parse(header), NOW) {
            Loaded::Live { data, .. } => data,
            _ => panic!("live session expected"),
        }
    }
    // Opened on this thread: the cached session itself.
    let a = live(&s, &header);
    let b = live(&s, &header);
    assert!(Arc::ptr_eq(&a, &b));
    // Another thread: a copy of its own (its principal and counts are that thread's),
    // the same session.
    let theirs = {
        let (s, header) = (s.clone(), header.clone());
        std::thread::spawn(move || live(&s, &header))
            .join()
            .unwrap()
    };
    assert!(!Arc::ptr_eq(&a, &theirs));
    assert_eq!(a.data(), theirs.data());
    // Still only while live: a copy never extends a session.
    let theirs_later = {
        let s = s.clone();
        let header = header.clone();
        std::thread::spawn(move || {
            let rc = RequestCookies::parse(&header);
            (
                matches!(s.read_decoded(&rc, NOW), Loaded::Live { .. }),
                matches!(s.read_decoded(&rc, NOW + 3601), Loaded::None),
            )
        })
        .join()
        .unwrap()
    };
    assert_eq!(theirs_later, (true, true));
}
