// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests of reading credentials from the Authorization header.
use super::*;
use http::HeaderValue;

#[test]
fn byte_classes_match_the_grammar_for_every_byte() {
    for b in 0..=255u8 {
        let alnum = b.is_ascii_alphanumeric();
        assert_eq!(is_token68_byte(b), alnum || b"-._~+/".contains(&b), "{b}");
        assert_eq!(is_base64url_byte(b), alnum || b"-_".contains(&b), "{b}");
        let visible = HeaderValue::from_bytes(&[b]).is_ok_and(|v| v.to_str().is_ok());
        assert_eq!(is_visible_ascii(b), visible || b == b'\t', "{b}");
    }
    // Every position of a long value is checked (the vectorised blocks and the tail).
    let long = "a".repeat(1000);
    for i in [0, 31, 32, 500, 991, 999] {
        let mut bad = long.clone().into_bytes();
        bad[i] = b'!';
        assert!(!all_bytes(&bad, is_token68_byte), "{i}");
    }
    assert!(all_bytes(long.as_bytes(), is_token68_byte));
    assert!(is_token68("abc.DEF_~+/=="));
    assert!(!is_token68("=="));
    assert!(!is_token68("a b"));
    assert!(!is_token68("a\u{e9}"));
}

fn schemes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn headers(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
    }
    h
}

#[test]
fn accepts_configured_schemes_case_insensitively() {
    let s = schemes(&["bearer", "token"]);
    let h = headers(&["bEaReR abc.def-_~+/=="]);
    let c = from_headers(&h, &s).unwrap();
    assert_eq!((c.scheme, c.token), ("bEaReR", "abc.def-_~+/=="));
    let h = headers(&["Token  eyJ.eyJ.sig"]);
    assert_eq!(from_headers(&h, &s).unwrap().token, "eyJ.eyJ.sig");
}

#[test]
fn missing_and_foreign_schemes_are_missing() {
    let s = schemes(&["bearer"]);
    assert!(matches!(
        from_headers(&HeaderMap::new(), &s),
        Err(AuthError::Missing)
    ));
    let h = headers(&["Basic dXNlcjpwYXNz"]);
    assert!(matches!(from_headers(&h, &s), Err(AuthError::Missing)));
    let h = headers(&["Token abc"]);
    assert!(matches!(from_headers(&h, &s), Err(AuthError::Missing)));
}

#[test]
fn malformed_values() {
    let s = schemes(&["bearer"]);
    for bad in [
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Bearer a b",
        "Bearer a,b",
        "Bearer a\"b",
        "Bearer ===",
        "Bearer =abc",
        "Bearer abc=def",
        "Bearer abc\tdef",
        "",
    ] {
        let r = parse(bad, &s);
        assert!(matches!(r, Err(AuthError::Malformed(_))), "{bad:?} → {r:?}");
    }
    let h = headers(&["Bearer a", "Bearer b"]);
    assert!(matches!(from_headers(&h, &s), Err(AuthError::Malformed(_))));
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
    );
    assert!(matches!(from_headers(&h, &s), Err(AuthError::Malformed(_))));
}

#[test]
fn padding_is_token68() {
    // RFC 7235 §2.1 / RFC 6750 §2.1: `=` only at the end, any number of them.
    let s = schemes(&["bearer"]);
    for good in ["abc=", "abc==", "a.b.c=", "eyJ.eyJ.sig===", "dGVzdA=="] {
        assert_eq!(parse(&format!("Bearer {good}"), &s).unwrap().token, good);
    }
    // Trailing whitespace is field OWS, not part of the token.
    assert_eq!(parse("Bearer a= ", &s).unwrap().token, "a=");
    for bad in ["Bearer =", "Bearer a=b=", "Bearer a=.b"] {
        let r = parse(bad, &s);
        assert!(matches!(r, Err(AuthError::Malformed(_))), "{bad:?} → {r:?}");
    }
}

#[test]
fn hashes_are_stable_and_debug_never_shows_the_token() {
    let h = TokenHash::of("secret-token");
    assert_eq!(h, TokenHash::of("secret-token"));
    assert_ne!(h, TokenHash::of("secret-tokeN"));
    assert_eq!(h.short().to_string().len(), 16);
    let c = Credentials {
        scheme: "Bearer",
        token: "secret-token",
    };
    assert!(!format!("{c:?}").contains("secret-token"));
}

/// What `from_headers` answered before the split into `presented` + `check`: the
/// whole value checked as visible ASCII, then `parse`.
fn oracle(value: &HeaderValue, schemes: &[String]) -> Result<(String, String), String> {
    value
        .to_str()
        .map_err(|_| NOT_VISIBLE)
        .and_then(|v| parse(v, schemes))
        .map(|c| (c.scheme.to_owned(), c.token.to_owned()))
        .map_err(|e| format!("{e:?}"))
}

#[test]
fn presented_then_checked_answers_what_the_whole_value_check_did() {
    let schemes = schemes(&["bearer", "token"]);
    let mut cases: Vec<Vec<u8>> = [
        "Bearer abc",
        "bearer   abc==",
        "\t Bearer abc \t",
        "Bearer",
        "Bearer ",
        "Bearer  ",
        "",
        " ",
        "Basic abc",
        "Basic",
        "Bearer\tabc",
        "Bearer a b",
        "Bearer a\tb",
        "Bearer a!b",
        "Token x.y-z_~+/",
        "Bearer =",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    // A byte outside visible ASCII in each part: scheme, separator, token, trailer,
    // on an accepted and on a refused scheme.
    for bad in [0x01u8, 0x7f, 0x80, 0xe9, 0xff] {
        for template in [
            &b"Be?rer abc"[..],
            b"Bearer ?abc",
            b"Bearer a?c",
            b"Bearer abc?",
            b"Bearer abc ?",
            b"Basic a?c",
            b"Ba?ic abc",
            b"?",
            b"Bearer ?",
        ] {
            cases.push(
                template
                    .iter()
                    .map(|&b| if b == b'?' { bad } else { b })
                    .collect(),
            );
        }
    }
    for case in cases {
        let Ok(value) = HeaderValue::from_bytes(&case) else {
            continue;
        };
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, value.clone());
        let now = from_headers(&h, &schemes)
            .map(|c| (c.scheme.to_owned(), c.token.to_owned()))
            .map_err(|e| format!("{e:?}"));
        assert_eq!(now, oracle(&value, &schemes), "{case:?}");
        // The bytes a cache is probed with are the token `check` accepts.
        if let (Ok(p), Ok((_, token))) = (presented(&h, &schemes), &now) {
            assert_eq!(p.token(), token.as_bytes());
        }
    }
}
