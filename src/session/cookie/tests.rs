// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests for cookie naming, Set-Cookie attributes, tolerant parsing and stripping.

use http::header::COOKIE;

use super::*;

fn cookie_headers(h: &HeaderMap) -> Vec<&[u8]> {
    h.get_all(COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect()
}

#[test]
fn names_over_https_and_http() {
    let s = CookieNames::new("portcullis", true);
    assert_eq!(s.session(), "__Host-portcullis");
    assert_eq!(s.chunk(2), "__Host-portcullis_2");
    assert_eq!(s.login("ab12"), "__Host-portcullis_login_ab12");
    assert!(s.secure());
    assert_eq!(s.base(), "portcullis");
    let p = CookieNames::new("portcullis", false);
    assert_eq!(p.session(), "portcullis");
    assert!(!p.secure());
}

#[test]
fn classification() {
    let n = CookieNames::new("pc", true);
    assert_eq!(n.classify("__Host-pc"), Some(OwnCookie::Session));
    assert_eq!(n.classify("__Host-pc_0"), Some(OwnCookie::Chunk(Some(0))));
    assert_eq!(n.classify("__Host-pc_12"), Some(OwnCookie::Chunk(Some(12))));
    assert_eq!(n.classify("__Host-pc_012"), Some(OwnCookie::Chunk(None)));
    assert_eq!(n.classify("__Host-pc_100"), Some(OwnCookie::Chunk(None)));
    assert_eq!(
        n.classify("__Host-pc_login_x1"),
        Some(OwnCookie::Login("x1"))
    );
    assert_eq!(n.classify("__Host-pc_theme"), None);
    assert_eq!(n.classify("__Host-pcx"), None);
    assert_eq!(n.classify("pc"), None);
    assert_eq!(n.classify("__host-pc"), None);
    assert!(is_own_cookie("pc", "pc"));
    assert!(is_own_cookie("pc", "pc_1"));
    assert!(is_own_cookie("pc", "__Host-pc_login_a"));
    assert!(!is_own_cookie("pc", "pc_theme"));
    assert!(!is_own_cookie("pc", "__Secure-pc"));
    assert!(!is_own_cookie("pc", "xpc"));
}

#[test]
fn set_cookie_attributes() {
    let https = CookieNames::new("pc", true);
    let v = set_cookie(&https, "__Host-pc", "abc+/=", Duration::from_secs(3600)).unwrap();
    assert_eq!(
        v.to_str().unwrap(),
        "__Host-pc=abc+/=; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure"
    );
    let http = CookieNames::new("pc", false);
    let v = set_cookie(&http, "pc", "abc", Duration::from_millis(90_500)).unwrap();
    assert_eq!(
        v.to_str().unwrap(),
        "pc=abc; Path=/; Max-Age=90; HttpOnly; SameSite=Lax"
    );
    let d = delete_cookie(&https, "__Host-pc_1").unwrap();
    assert_eq!(
        d.to_str().unwrap(),
        "__Host-pc_1=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
    );
    assert!(set_cookie(&http, "bad\nname", "v", Duration::ZERO).is_err());
    assert_eq!(delete_cookies(&http, ["a", "bad\nname", "b"]).len(), 2);
}

#[test]
fn parsing_is_tolerant() {
    let raw = " a=1;b = 2 ;;c;=d; e=\"quoted\"; f==x; g=; h=\"; i=v w ";
    let rc = RequestCookies::parse(raw);
    let pairs: Vec<_> = rc.iter().collect();
    assert_eq!(
        pairs,
        vec![
            ("a", "1"),
            ("b", "2"),
            ("e", "quoted"),
            ("f", "=x"),
            ("g", ""),
            ("h", "\""),
            ("i", "v w"),
        ]
    );
    assert_eq!(rc.get_all("a").collect::<Vec<_>>(), vec!["1"]);
    assert!(RequestCookies::parse("").is_empty());
}

#[test]
fn several_headers_and_non_utf8() {
    let mut h = HeaderMap::new();
    h.append(COOKIE, HeaderValue::from_static("a=1; b=2"));
    h.append(
        COOKIE,
        HeaderValue::from_bytes(b"bad=\xff\xfe; c=3").unwrap(),
    );
    let rc = RequestCookies::from_headers(&h);
    assert_eq!(
        rc.iter().collect::<Vec<_>>(),
        vec![("a", "1"), ("b", "2"), ("c", "3")]
    );
    // Kept as bytes: text readers skip it, the raw reader sees it where it was sent.
    assert_eq!(rc.get_all("bad").count(), 0);
    assert_eq!(
        rc.iter_raw().collect::<Vec<_>>(),
        vec![
            ("a", &b"1"[..]),
            ("b", b"2"),
            ("bad", b"\xff\xfe"),
            ("c", b"3")
        ]
    );
}

#[test]
fn parsing_is_bounded() {
    let raw: String = (0..10_000).map(|i| format!("k{i}=v; ")).collect();
    let rc = RequestCookies::parse(&raw);
    assert_eq!(rc.len(), MAX_REQUEST_COOKIES);
}

#[test]
fn strip_keeps_app_cookies_byte_for_byte() {
    let mut h = HeaderMap::new();
    h.append(
        COOKIE,
        HeaderValue::from_static(
            "app=\"x y\";__Host-pc=SEALED; pc_theme=dark;  __Host-pc_1=C1 ;csrf=a=b",
        ),
    );
    h.append(
        COOKIE,
        HeaderValue::from_static("__Host-pc_login_0a1b=L; pc=OLD"),
    );
    h.append(COOKIE, HeaderValue::from_static("z=1;  y=2"));
    h.insert("x-other", HeaderValue::from_static("kept"));
    strip_own_cookies(&mut h, "pc");
    assert_eq!(
        cookie_headers(&h),
        vec![&b"app=\"x y\"; pc_theme=dark; csrf=a=b"[..], b"z=1;  y=2"]
    );
    assert_eq!(h.get("x-other").unwrap(), "kept");
}

#[test]
fn strip_leaves_untouched_headers_alone_and_removes_empty_ones() {
    let mut h = HeaderMap::new();
    h.append(COOKIE, HeaderValue::from_static(" a=1 ;; b=2 "));
    let before = h.clone();
    strip_own_cookies(&mut h, "pc");
    assert_eq!(h, before);

    let mut h = HeaderMap::new();
    h.append(
        COOKIE,
        HeaderValue::from_static("__Host-pc_0=a; __Host-pc_1=b"),
    );
    h.append(COOKIE, HeaderValue::from_static("pc=x"));
    strip_own_cookies(&mut h, "pc");
    assert!(h.get(COOKIE).is_none());

    let mut h = HeaderMap::new();
    strip_own_cookies(&mut h, "pc");
    assert!(h.is_empty());
}

#[test]
fn strip_keeps_non_utf8_app_cookies() {
    let mut h = HeaderMap::new();
    h.append(
        COOKIE,
        HeaderValue::from_bytes(b"app=\xe9t\xe9; __Host-pc=S; \xff=1").unwrap(),
    );
    strip_own_cookies(&mut h, "pc");
    assert_eq!(cookie_headers(&h), vec![&b"app=\xe9t\xe9; \xff=1"[..]]);
}

/// The two-pass strip this module had before the one-pass one: the reference the
/// generated corpus below is compared with.
fn strip_reference(headers: &mut HeaderMap, base: &str) {
    let own = |segment: &[u8]| {
        memchr::memchr(b'=', segment).is_some_and(|eq| {
            std::str::from_utf8(trim(&segment[..eq])).is_ok_and(|n| is_own_cookie(base, n))
        })
    };
    if !headers
        .get_all(COOKIE)
        .iter()
        .any(|v| segments(v.as_bytes()).any(own))
    {
        return;
    }
    let mut rebuilt = Vec::new();
    for value in headers.get_all(COOKIE) {
        let bytes = value.as_bytes();
        if !segments(bytes).any(own) {
            rebuilt.push(value.clone());
            continue;
        }
        let mut out = Vec::new();
        for segment in segments(bytes).map(trim) {
            if segment.is_empty() || own(segment) {
                continue;
            }
            if !out.is_empty() {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(segment);
        }
        if !out.is_empty() {
            rebuilt.push(HeaderValue::from_bytes(&out).unwrap());
        }
    }
    headers.remove(COOKIE);
    for v in rebuilt {
        headers.append(COOKIE, v);
    }
}

#[test]
fn one_pass_strip_equals_the_two_pass_reference_on_generated_headers() {
    let pieces: [&[u8]; 12] = [
        b"a=1",
        b" b=2 ",
        b"",
        b"  ",
        b"pc=S",
        b"__Host-pc=S",
        b" __Host-pc_3=C ",
        b"pc_login_ab=L",
        b"pc_theme=dark",
        b"noequals",
        b"x=\xe9",
        b"c=a=b",
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % n as u64).unwrap()
    };
    for _ in 0..3000 {
        let mut h = HeaderMap::new();
        h.insert("x-before", HeaderValue::from_static("1"));
        for _ in 0..next(4) {
            let mut value = Vec::new();
            for i in 0..next(5) {
                if i > 0 {
                    value.push(b';');
                }
                value.extend_from_slice(pieces[next(pieces.len())]);
            }
            h.append(COOKIE, HeaderValue::from_bytes(&value).unwrap());
        }
        let mut want = h.clone();
        strip_reference(&mut want, "pc");
        let mut got = h.clone();
        strip_own_cookies(&mut got, "pc");
        assert_eq!(got, want, "{h:?}");
        assert_eq!(cookie_headers(&got), cookie_headers(&want), "{h:?}");
    }
}
