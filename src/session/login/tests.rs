// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests for login-attempt cookies: round trip, CSRF/moved/foreign values, bounding.

use super::*;

const NOW: u64 = 1_700_000_000;

fn keys() -> SessionKeys {
    SessionKeys::from_bytes(&[[8u8; 32]]).unwrap()
}

fn names() -> CookieNames {
    CookieNames::new("pc", true)
}

fn attempt(state: &str, created_at: u64) -> LoginAttempt {
    LoginAttempt {
        state: state.into(),
        nonce: format!("nonce-{state}"),
        pkce_verifier: format!("verifier-{state}"),
        return_to: "/app?x=1".into(),
        provider: "corp".into(),
        created_at,
    }
}

/// `name=value` of the first Set-Cookie (the new attempt).
fn pair(set_cookie: &HeaderValue) -> String {
    let s = set_cookie.to_str().unwrap();
    s.split(';').next().unwrap().to_owned()
}

/// Names deleted by Set-Cookie lines with Max-Age=0.
fn deleted(headers: &[HeaderValue]) -> Vec<String> {
    headers
        .iter()
        .map(|h| h.to_str().unwrap())
        .filter(|s| s.contains("Max-Age=0"))
        .map(|s| s.split('=').next().unwrap().to_owned())
        .collect()
}

#[test]
fn id_is_short_hex_and_stable() {
    let id = attempt_id("some-state");
    assert_eq!(id.len(), 16);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(id, attempt_id("some-state"));
    assert_ne!(id, attempt_id("other-state"));
}

#[test]
fn start_then_finish() {
    let out = start_login(
        &attempt("s1", NOW),
        &RequestCookies::default(),
        &names(),
        &keys(),
        NOW,
    )
    .unwrap();
    assert_eq!(out.len(), 1);
    let line = out[0].to_str().unwrap();
    assert!(line.starts_with(&format!("__Host-pc_login_{}=", attempt_id("s1"))));
    assert!(line.contains("Max-Age=600"));
    assert!(line.contains("HttpOnly") && line.contains("Secure"));
    assert!(!line.contains("verifier-s1") && !line.contains("nonce-s1"));
    let header = pair(&out[0]);
    let rc = RequestCookies::parse(&header);
    let got = finish_login(&rc, &names(), &keys(), "s1", NOW + 599).unwrap();
    assert_eq!(got, attempt("s1", NOW));
    assert!(!format!("{got:?}").contains("verifier"));
    assert_eq!(finish_login(&rc, &names(), &keys(), "s1", NOW + 600), None);
    assert_eq!(finish_login(&rc, &names(), &keys(), "s2", NOW), None);
    assert_eq!(finish_login(&rc, &names(), &keys(), "", NOW), None);
    let clear = clear_login(&names(), "s1").unwrap();
    assert_eq!(
        deleted(&[clear]),
        vec![format!("__Host-pc_login_{}", attempt_id("s1"))]
    );
}

#[test]
fn login_csrf_and_moved_or_foreign_cookies_fail() {
    let rc = RequestCookies::parse("other=1");
    assert_eq!(finish_login(&rc, &names(), &keys(), "s1", NOW), None);
    // s2's sealed value renamed to s1's cookie: the name is authenticated.
    let (_, v2) = encode_login(&attempt("s2", NOW), &names(), &keys()).unwrap();
    let moved = format!("{}={v2}", names().login(&attempt_id("s1")));
    let rc = RequestCookies::parse(&moved);
    assert_eq!(finish_login(&rc, &names(), &keys(), "s1", NOW), None);
    let foreign = SessionKeys::from_bytes(&[[9u8; 32]]).unwrap();
    let (n, v) = encode_login(&attempt("s1", NOW), &names(), &foreign).unwrap();
    let h = format!("{n}={v}");
    let rc = RequestCookies::parse(&h);
    assert_eq!(finish_login(&rc, &names(), &keys(), "s1", NOW), None);
    // Duplicated cookie name: ambiguous, refused.
    let (n, v) = encode_login(&attempt("s1", NOW), &names(), &keys()).unwrap();
    let h = format!("{n}={v}; {n}={v}");
    let rc = RequestCookies::parse(&h);
    assert_eq!(finish_login(&rc, &names(), &keys(), "s1", NOW), None);
    // A session cookie's value does not open as a login attempt.
    let h = format!("{n}=AAAA{v}");
    let rc = RequestCookies::parse(&h);
    assert_eq!(finish_login(&rc, &names(), &keys(), "s1", NOW), None);
}

#[test]
fn future_attempts_are_refused() {
    let (n, v) = encode_login(&attempt("s1", NOW + 3600), &names(), &keys()).unwrap();
    let h = format!("{n}={v}");
    let rc = RequestCookies::parse(&h);
    assert_eq!(finish_login(&rc, &names(), &keys(), "s1", NOW), None);
}

#[test]
fn attempts_are_bounded_oldest_dropped_first() {
    // Existing: 6 live attempts of increasing age plus garbage and an expired one.
    let mut header = String::from("app=1; __Host-pc_login_junk=xyz");
    let expired = encode_login(&attempt("old", NOW - 601), &names(), &keys()).unwrap();
    header.push_str(&format!("; {}={}", expired.0, expired.1));
    for i in 0..6u64 {
        let (n, v) =
            encode_login(&attempt(&format!("s{i}"), NOW - 10 * i), &names(), &keys()).unwrap();
        header.push_str(&format!("; {n}={v}"));
    }
    let rc = RequestCookies::parse(&header);
    let out = start_login(&attempt("new", NOW), &rc, &names(), &keys(), NOW).unwrap();
    assert!(out[0].to_str().unwrap().contains(&attempt_id("new")));
    let mut gone = deleted(&out);
    gone.sort();
    let mut want = vec![
        "__Host-pc_login_junk".to_owned(),
        expired.0.clone(),
        names().login(&attempt_id("s4")),
        names().login(&attempt_id("s5")),
    ];
    want.sort();
    assert_eq!(gone, want);
    // Survivors: s0..s3 (4) + the new one = MAX_LOGIN_ATTEMPTS.
    assert_eq!(6 - 2 + 1, MAX_LOGIN_ATTEMPTS);
}

#[test]
fn few_attempts_are_all_kept() {
    let (n, v) = encode_login(&attempt("s0", NOW - 5), &names(), &keys()).unwrap();
    let h = format!("{n}={v}; __Host-pc=session");
    let rc = RequestCookies::parse(&h);
    let out = start_login(&attempt("s1", NOW), &rc, &names(), &keys(), NOW).unwrap();
    assert_eq!(out.len(), 1);
}

#[test]
fn oversized_return_to_fails() {
    let mut a = attempt("s", NOW);
    a.return_to = "/".repeat(4000);
    assert!(matches!(
        encode_login(&a, &names(), &keys()),
        Err(SessionError::TooLarge { .. })
    ));
    a.return_to = format!("/{}", "a".repeat(2047));
    assert!(encode_login(&a, &names(), &keys()).is_ok());
}
