//! Fuzzes reading bearer credentials from arbitrary bytes: the `Authorization` header
//! (one or two fields, split at the first newline) and the query string / form body
//! scan for a second `access_token`. Never panics; every decision matches a reference
//! written here from the grammar (RFC 7235 §2.1 credentials, RFC 6750 §2.1 b64token),
//! independently of the parser: accepted means `<scheme> 1*SP <token68>` with an
//! accepted scheme, and the token is returned unchanged.
#![no_main]

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis::auth::credentials::{from_headers, is_token68};
use portcullis::auth::token_params::{carries_access_token, is_access_token_name};
use portcullis::auth::AuthError;

/// The reference decision for one header value: `Some((scheme, token))` when it is
/// well-formed bearer credentials for an accepted scheme.
fn reference<'a>(value: &'a str, schemes: &[String]) -> Result<(&'a str, &'a str), bool> {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    if scheme.is_empty() {
        return Err(true);
    }
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(false);
    }
    let token = rest.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let token68 = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if token68 {
        Ok((scheme, token))
    } else {
        Err(true)
    }
}

fuzz_target!(|data: &[u8]| {
    let schemes = vec!["bearer".to_owned(), "token".to_owned()];
    let mut headers = HeaderMap::new();
    let fields: Vec<&[u8]> = data.splitn(2, |b| *b == b'\n').collect();
    for f in &fields {
        if let Ok(v) = HeaderValue::from_bytes(f) {
            headers.append(AUTHORIZATION, v);
        }
    }
    let n = headers.get_all(AUTHORIZATION).iter().count();
    let got = from_headers(&headers, &schemes);
    match n {
        0 => assert!(matches!(got, Err(AuthError::Missing))),
        1 => {
            let value = headers.get(AUTHORIZATION).expect("one field");
            match value.to_str() {
                Err(_) => assert!(matches!(got, Err(AuthError::Malformed(_)))),
                Ok(text) => match (reference(text, &schemes), &got) {
                    (Ok((scheme, token)), Ok(c)) => {
                        assert_eq!((c.scheme, c.token), (scheme, token));
                        assert!(is_token68(c.token));
                    }
                    (Err(false), Err(AuthError::Missing)) => {}
                    (Err(true), Err(AuthError::Malformed(_))) => {}
                    (want, got) => panic!("{text:?}: reference {want:?}, parser {got:?}"),
                },
            }
        }
        _ => assert!(matches!(got, Err(AuthError::Malformed(_)))),
    }

    // The same bytes as a query string or form body: no panic, and a plain
    // `access_token` parameter is always found.
    let found = carries_access_token(data);
    let plain = data
        .split(|b| *b == b'&' || *b == b';')
        .any(|pair| pair.split(|b| *b == b'=').next() == Some(b"access_token".as_slice()));
    assert!(!plain || found, "missed a plain access_token in {data:?}");
    // Case never hides one: an upper-cased copy is found exactly when the original is
    // (percent-escapes keep their meaning in either case).
    assert_eq!(carries_access_token(&data.to_ascii_uppercase()), found);
    // Without '%', a name counts exactly when its letters and digits before any '['
    // spell accesstoken.
    for pair in data.split(|b| *b == b'&' || *b == b';') {
        let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
        if !name.contains(&b'%') {
            let base = name.split(|b| *b == b'[').next().unwrap_or_default();
            let skeleton: Vec<u8> = base
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_lowercase)
                .collect();
            assert_eq!(
                is_access_token_name(name),
                skeleton == b"accesstoken",
                "{name:?}"
            );
        }
    }
});
