// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
use super::record::*;
use crate::session::codec::SessionData;
use crate::session::keys::SessionKeys;

fn data() -> SessionData {
    SessionData {
        subject: "u1".into(),
        username: None,
        email: None,
        groups: vec![],
        claims: Default::default(),
        id_token: None,
        access_token: Some("at1".into()),
        access_token_expires_at: Some(100),
        refresh_token: Some("rt1".into()),
        provider: "idp".into(),
        sid: Some("s1".into()),
        created_at: 10,
        last_seen_at: 10,
    }
}

#[test]
fn ids_are_random_256_bit_and_keys_never_contain_them() {
    let a = new_id().unwrap();
    let b = new_id().unwrap();
    assert_ne!(a, b);
    assert!(is_id(&a));
    assert!(!is_id("short"));
    assert!(!is_id(&format!("{a}x")));
    let key = record_key(&handle_of(&a));
    assert!(key.starts_with("portcullis:s:"));
    assert!(!key.contains(&a));
    assert_eq!(key.len(), "portcullis:s:".len() + 64);
}

#[test]
fn records_are_sealed_and_bound_to_their_key() {
    let keys = SessionKeys::from_bytes(&[[7u8; 32]]).unwrap();
    let sealed = seal(&keys, "portcullis:s:aa", &data()).unwrap();
    assert!(!sealed.contains("rt1"));
    assert_eq!(open(&keys, "portcullis:s:aa", &sealed), Some(data()));
    assert_eq!(open(&keys, "portcullis:s:bb", &sealed), None);
    let other = SessionKeys::from_bytes(&[[8u8; 32]]).unwrap();
    assert_eq!(open(&other, "portcullis:s:aa", &sealed), None);
}

#[test]
fn indexes_cover_sub_and_sid() {
    assert_eq!(
        index_keys(&data()),
        vec!["portcullis:sub:idp:u1", "portcullis:sid:idp:s1"]
    );
    let mut d = data();
    d.sid = None;
    assert_eq!(index_keys(&d), vec!["portcullis:sub:idp:u1"]);
}

#[test]
fn a_stale_touch_never_puts_back_a_rotated_refresh_token() {
    let mut refreshed = data();
    refreshed.refresh_token = Some("rt2".into());
    refreshed.access_token = Some("at2".into());
    refreshed.access_token_expires_at = Some(200);
    let mut touch = data();
    touch.last_seen_at = 50;
    let merged = merge(touch, &refreshed);
    assert_eq!(merged.refresh_token.as_deref(), Some("rt2"));
    assert_eq!(merged.access_token.as_deref(), Some("at2"));
    assert_eq!(merged.last_seen_at, 50);
    // Our own refresh is newer than what is stored: ours wins.
    let merged = merge(refreshed.clone(), &data());
    assert_eq!(merged.refresh_token.as_deref(), Some("rt2"));
}

#[test]
fn sha1_matches_redis_sha1hex() {
    assert_eq!(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

#[test]
fn cluster_urls_are_comma_separated() {
    assert_eq!(
        super::split_urls("redis://a:1, redis://b:2,"),
        vec!["redis://a:1", "redis://b:2"]
    );
    assert_eq!(
        super::split_urls("rediss://h:6380/0"),
        vec!["rediss://h:6380/0"]
    );
}

#[test]
fn a_bad_url_is_refused_without_echoing_it() {
    for url in ["redis://:hunter2@[::1", "http://user:hunter2@host", ""] {
        let err = super::conn::RedisConn::new(url).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("session.redis.url"), "{err}");
    }
    let one = super::conn::RedisConn::new("rediss://:pw@127.0.0.1:6380/0").unwrap();
    assert!(!one.is_cluster() && !one.is_healthy());
    let many = super::conn::RedisConn::new("redis://127.0.0.1:7000,redis://127.0.0.1:7001");
    assert!(many.unwrap().is_cluster());
    assert!(!format!(
        "{:?}",
        super::conn::RedisConn::new("redis://:pw@h:1").unwrap()
    )
    .contains("pw"));
}
