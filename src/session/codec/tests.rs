// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests for the session format: round trips, chunking, tampering, rotation, limits.

use std::time::Duration;

use super::*;

const NAME: &str = "__Host-portcullis";
const NOW: u64 = 1_700_000_000;

fn keys() -> SessionKeys {
    SessionKeys::from_bytes(&[[5u8; 32]]).unwrap()
}

fn limits() -> SessionLimits {
    SessionLimits {
        lifetime: Duration::from_secs(12 * 3600),
        idle_timeout: Duration::from_secs(3600),
    }
}

fn data() -> SessionData {
    let mut claims = Claims::new();
    claims.insert("email_verified".into(), true.into());
    SessionData {
        subject: "248289761001".into(),
        username: Some("alice".into()),
        email: Some("alice@example.com".into()),
        groups: vec!["admins".into(), "dev".into()],
        claims,
        id_token: Some("eyJ.id.token".into()),
        access_token: Some("eyJ.access.token".into()),
        access_token_expires_at: Some(NOW + 300),
        refresh_token: Some("refresh-secret".into()),
        provider: "corp".into(),
        sid: Some("sid-1".into()),
        created_at: NOW,
        last_seen_at: NOW,
    }
}

/// A session with `n` bytes of incompressible token, forcing chunking.
fn big(n: usize) -> SessionData {
    let mut d = data();
    d.access_token = Some((0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect());
    d
}

fn header(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn dec(h: &str, now: u64) -> Option<SessionData> {
    decode(&RequestCookies::parse(h), NAME, &keys(), now, &limits())
}

#[test]
fn round_trip_single_cookie() {
    let cookies = encode(&data(), NAME, &keys()).unwrap();
    assert_eq!(cookies.len(), 1);
    assert_eq!(cookies[0].0, NAME);
    assert!(!cookies[0].1.contains("refresh-secret"));
    let h = format!("theme=dark; {}; other=1", header(&cookies));
    assert_eq!(dec(&h, NOW + 10), Some(data()));
}

#[test]
fn typical_cookie_is_small() {
    let v = &encode(&data(), NAME, &keys()).unwrap()[0].1;
    assert!(v.len() < 600, "{}", v.len());
}

#[test]
fn debug_redacts_tokens() {
    let s = format!("{:?}", data());
    assert!(!s.contains("eyJ"));
    assert!(!s.contains("refresh-secret"));
    assert!(s.contains("alice"));
}

#[test]
fn chunked_round_trip_in_any_header_order() {
    let mut cookies = encode(&big(9000), NAME, &keys()).unwrap();
    assert_eq!(cookies.len(), 4);
    for (i, (n, v)) in cookies.iter().enumerate() {
        assert_eq!(n, &format!("{NAME}_{i}"));
        assert!(v.len() <= CHUNK_SIZE);
    }
    assert_eq!(dec(&header(&cookies), NOW), Some(big(9000)));
    // The browser may send them in any order and across several Cookie headers.
    cookies.reverse();
    assert_eq!(dec(&header(&cookies), NOW), Some(big(9000)));
    let values: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let rc = RequestCookies::from_values(values.iter().map(|s| s.as_bytes()));
    assert_eq!(decode(&rc, NAME, &keys(), NOW, &limits()), Some(big(9000)));
}

#[test]
fn chunk_loss_swap_or_extra_is_no_session() {
    let cookies = encode(&big(9000), NAME, &keys()).unwrap();
    for drop in 0..cookies.len() {
        let mut c = cookies.clone();
        c.remove(drop);
        assert_eq!(dec(&header(&c), NOW), None, "dropped {drop}");
    }
    // Values swapped between chunk names (reordering the ciphertext).
    let mut swapped = cookies.clone();
    let v0 = swapped[0].1.clone();
    swapped[0].1 = swapped[1].1.clone();
    swapped[1].1 = v0;
    assert_eq!(dec(&header(&swapped), NOW), None);
    // An extra chunk, a duplicate, a non-canonical index, or the unchunked name as well.
    for extra in [
        format!("{NAME}_4=AAAA"),
        format!("{NAME}_0={}", cookies[0].1),
        format!("{NAME}_01=AAAA"),
        format!("{NAME}_99999999999999999999999=A"),
        format!("{NAME}=AAAA"),
    ] {
        let h = format!("{}; {extra}", header(&cookies));
        assert_eq!(dec(&h, NOW), None, "{extra}");
    }
    // A single chunk named `_0` is never produced.
    let small = encode(&data(), NAME, &keys()).unwrap();
    assert_eq!(dec(&format!("{NAME}_0={}", small[0].1), NOW), None);
}

#[test]
fn tampered_truncated_foreign_and_moved_values_are_no_session() {
    let v = encode(&data(), NAME, &keys()).unwrap().remove(0).1;
    let mut bytes = v.clone().into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    for bad in [
        tampered.as_str(),
        &v[..v.len() - 1],
        &v[..v.len() / 2],
        "",
        "garbage",
    ] {
        assert_eq!(dec(&format!("{NAME}={bad}"), NOW), None);
    }
    let foreign = SessionKeys::from_bytes(&[[6u8; 32]]).unwrap();
    let other = encode(&data(), NAME, &foreign).unwrap().remove(0).1;
    assert_eq!(dec(&format!("{NAME}={other}"), NOW), None);
    // Sealed for another cookie name (plain-http name, or another gateway's cookie).
    let moved = encode(&data(), "portcullis", &keys()).unwrap().remove(0).1;
    assert_eq!(dec(&format!("{NAME}={moved}"), NOW), None);
}

#[test]
fn rotation_decrypts_old_and_encrypts_new() {
    let old = SessionKeys::from_bytes(&[[1u8; 32]]).unwrap();
    let rotated = SessionKeys::from_bytes(&[[2u8; 32], [1u8; 32]]).unwrap();
    let h = header(&encode(&data(), NAME, &old).unwrap());
    let rc = RequestCookies::parse(&h);
    assert_eq!(decode(&rc, NAME, &rotated, NOW, &limits()), Some(data()));
    let h = header(&encode(&data(), NAME, &rotated).unwrap());
    let rc = RequestCookies::parse(&h);
    assert_eq!(decode(&rc, NAME, &old, NOW, &limits()), None);
    let only_new = SessionKeys::from_bytes(&[[2u8; 32]]).unwrap();
    assert_eq!(decode(&rc, NAME, &only_new, NOW, &limits()), Some(data()));
}

#[test]
fn lifetime_idle_and_future_are_enforced() {
    let h = header(&encode(&data(), NAME, &keys()).unwrap());
    assert!(dec(&h, NOW + 3599).is_some());
    assert_eq!(dec(&h, NOW + 3600), None, "idle");
    let mut d = data();
    d.last_seen_at = NOW + 12 * 3600 - 10;
    let h = header(&encode(&d, NAME, &keys()).unwrap());
    assert!(dec(&h, NOW + 12 * 3600 - 1).is_some());
    assert_eq!(dec(&h, NOW + 12 * 3600), None, "absolute lifetime");
    let mut d = data();
    d.created_at = NOW + 3600;
    d.last_seen_at = NOW + 3600;
    let h = header(&encode(&d, NAME, &keys()).unwrap());
    assert_eq!(dec(&h, NOW), None, "created in the future");
    let mut d = data();
    d.subject.clear();
    let h = header(&encode(&d, NAME, &keys()).unwrap());
    assert_eq!(dec(&h, NOW), None, "no subject");
}

#[test]
fn limits_helpers() {
    let l = limits();
    let d = data();
    assert_eq!(d.expires_at(&l), NOW + 3600);
    assert_eq!(d.remaining(NOW + 600, &l), Duration::from_secs(3000));
    assert_eq!(d.remaining(NOW + 7200, &l), Duration::ZERO);
    assert_eq!(l.touch_interval(), Duration::from_secs(60));
    assert!(!d.needs_touch(NOW + 59, &l));
    assert!(d.needs_touch(NOW + 60, &l));
    let short = SessionLimits {
        lifetime: Duration::from_secs(100),
        idle_timeout: Duration::from_secs(20),
    };
    assert_eq!(short.touch_interval(), Duration::from_secs(5));
}

#[test]
fn too_large_fails_loudly() {
    let err = encode(&big(CHUNK_SIZE * MAX_CHUNKS), NAME, &keys()).unwrap_err();
    assert!(matches!(err, SessionError::TooLarge { .. }));
}

#[test]
fn garbage_never_panics() {
    let huge = "A".repeat(100_000);
    for h in [
        "",
        ";;;;",
        "=",
        "__Host-portcullis",
        "__Host-portcullis=",
        "__Host-portcullis=\"\"",
        "__Host-portcullis_=x",
        "__Host-portcullis_login_=x",
        "__Host-portcullis_0=x; __Host-portcullis_1=y",
        &format!("__Host-portcullis={huge}"),
        &format!("__Host-portcullis_0={huge}; __Host-portcullis_1={huge}"),
    ] {
        assert_eq!(dec(h, NOW), None);
    }
}

#[test]
fn present_cookies_lists_every_session_name_once() {
    let h = format!("{NAME}=a; {NAME}_3=b; x=1; {NAME}_login_ab=c; {NAME}=d; {NAME}_07=e");
    let rc = RequestCookies::parse(&h);
    let names = present_session_cookies(&rc, NAME);
    assert_eq!(
        names,
        vec![NAME.to_owned(), format!("{NAME}_3"), format!("{NAME}_07")]
    );
}

/// A session cookie whose value is not UTF-8 (forged, or mangled on the way) is still a
/// session cookie: it makes a second value of the name ambiguous, and a save or a logout
/// deletes it.
#[test]
fn a_session_cookie_that_is_not_utf8_counts_as_present() {
    let good = encode(&data(), NAME, &keys()).unwrap();
    assert_eq!(good.len(), 1);
    let raw = format!("{NAME}={}", good[0].1);
    let mut h = http::HeaderMap::new();
    h.append(
        http::header::COOKIE,
        http::HeaderValue::from_str(&raw).unwrap(),
    );
    let rc = RequestCookies::from_headers(&h);
    assert!(
        reassemble_shared(&rc, NAME).is_some(),
        "the good value alone opens"
    );
    h.append(
        http::header::COOKIE,
        http::HeaderValue::from_bytes(&[NAME.as_bytes(), b"=\xff\xfe"].concat()).unwrap(),
    );
    let rc = RequestCookies::from_headers(&h);
    // A second value of the name, UTF-8 or not: ambiguous, no session.
    assert_eq!(reassemble_shared(&rc, NAME), None);
    assert_eq!(present_session_cookies(&rc, NAME), vec![NAME]);

    let mut h = http::HeaderMap::new();
    h.append(
        http::header::COOKIE,
        http::HeaderValue::from_bytes(&[NAME.as_bytes(), b"=\xff\xfe; app=1"].concat()).unwrap(),
    );
    let rc = RequestCookies::from_headers(&h);
    assert_eq!(present_session_cookies(&rc, NAME), vec![NAME]);
    assert_eq!(reassemble(&rc, NAME), None, "not a sealed value");
    assert_eq!(decode(&rc, NAME, &keys(), NOW, &limits()), None);
}
