//! The presented credential: parsing `Authorization: <scheme> <token>` against a
//! provider's accepted schemes, the byte classes a token is checked against, and the
//! token's fingerprint (SHA-256): the only form in which a token may appear in logs.
//!
//! Zero-copy: parsing returns slices of the header. Must never log, store or echo a raw
//! token, and never panics on hostile input.

use std::fmt;

use aws_lc_rs::digest;
use http::header::AUTHORIZATION;
use http::HeaderMap;

use super::AuthError;

/// A parsed `Authorization` header, borrowing from the request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The scheme as the client wrote it (e.g. `Bearer`, `token`).
    pub scheme: &'a str,
    /// The token68 value.
    pub token: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field("token", &TokenHash::of(self.token))
            .finish()
    }
}

/// Extracts the token from the request's `Authorization` header for a provider accepting
/// `schemes` (lower-case, as the validated config stores them).
///
/// - no header → [`AuthError::Missing`];
/// - two or more headers, a non-ASCII value, an empty token or a token outside the token68
///   alphabet → [`AuthError::Malformed`];
/// - a scheme the provider does not accept (e.g. `Basic` on a Bearer route) →
///   [`AuthError::Missing`]: for this route the client presented no usable credentials, and
///   RFC 6750 §3.1 answers that with a bare 401 challenge naming the schemes we do accept.
pub fn from_headers<'a>(
    headers: &'a HeaderMap,
    schemes: &[String],
) -> Result<Credentials<'a>, AuthError> {
    presented(headers, schemes)?.check()
}

/// A token as presented in the `Authorization` header, its scheme accepted, the token
/// itself not checked yet ([`Presented::check`]).
#[derive(Clone, Copy)]
pub struct Presented<'a> {
    scheme: &'a str,
    token: &'a [u8],
}

impl fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl<'a> Presented<'a> {
    /// The scheme as the client wrote it (one of the accepted ones).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The token's bytes, unchecked: fit only to look up tokens verified before (a token
    /// byte-equal to one of those passed every check then).
    pub fn token(&self) -> &'a [u8] {
        self.token
    }

    /// The checks [`from_headers`] makes on the token: visible ASCII, then token68.
    pub fn check(self) -> Result<Credentials<'a>, AuthError> {
        // One scan when the token is good: token68 is visible ASCII. The visible-ASCII
        // scan only picks the message of a refusal.
        if !is_token68_bytes(self.token) {
            return Err(if all_bytes(self.token, is_visible_ascii) {
                AuthError::Malformed("token has characters outside token68")
            } else {
                NOT_VISIBLE
            });
        }
        let token = std::str::from_utf8(self.token).map_err(|_| NOT_VISIBLE)?;
        Ok(Credentials {
            scheme: self.scheme,
            token,
        })
    }
}

const NOT_VISIBLE: AuthError = AuthError::Malformed("Authorization header is not visible ASCII");

/// The header split as [`parse`] splits it, every refusal of [`from_headers`] made except
/// those about the token's own bytes ([`Presented::check`]), in the same order: a value
/// that is not visible ASCII is refused before its scheme is weighed, wherever the
/// offending byte is.
pub fn presented<'a>(
    headers: &'a HeaderMap,
    schemes: &[String],
) -> Result<Presented<'a>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::Malformed("more than one Authorization header"));
    }
    let value = trim_sp_tab(value.as_bytes());
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], &value[i + 1..]),
        None => (value, &[][..]),
    };
    // Short: checked here whatever the outcome. The rest only when refusing now, else
    // with the token (the rest is spaces, then the token).
    if !all_bytes(scheme, is_visible_ascii) {
        return Err(NOT_VISIBLE);
    }
    let scheme = std::str::from_utf8(scheme).map_err(|_| NOT_VISIBLE)?;
    let visible_rest = || all_bytes(rest, is_visible_ascii);
    if scheme.is_empty() {
        return Err(AuthError::Malformed("empty Authorization header"));
    }
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(if visible_rest() {
            AuthError::Missing
        } else {
            NOT_VISIBLE
        });
    }
    // RFC 7235 allows 1*SP between scheme and credentials.
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let token = &rest[start..];
    if token.is_empty() {
        return Err(AuthError::Malformed("empty token"));
    }
    Ok(Presented { scheme, token })
}

/// `b` without SP and HTAB at both ends (what [`parse`] trims).
fn trim_sp_tab(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// Parses one `Authorization` value; see [`from_headers`] for the outcomes.
pub fn parse<'a>(value: &'a str, schemes: &[String]) -> Result<Credentials<'a>, AuthError> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, rest),
        None => (value, ""),
    };
    if scheme.is_empty() {
        return Err(AuthError::Malformed("empty Authorization header"));
    }
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(AuthError::Missing);
    }
    // RFC 7235 allows 1*SP between scheme and credentials.
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(AuthError::Malformed("empty token"));
    }
    if !is_token68(token) {
        return Err(AuthError::Malformed("token has characters outside token68"));
    }
    Ok(Credentials { scheme, token })
}

/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 7235 §2.1).
pub fn is_token68(s: &str) -> bool {
    is_token68_bytes(s.as_bytes())
}

fn is_token68_bytes(s: &[u8]) -> bool {
    let body_len = s.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    body_len > 0 && all_bytes(&s[..body_len], is_token68_byte)
}

/// Whether every byte of `s` satisfies `ok`. A branch-free fold over 32-byte blocks,
/// which the compiler vectorises: a token (often 1 kB or more) is checked on every
/// request, and a byte-at-a-time loop with an early exit cost ~7 instructions a byte.
#[inline]
pub fn all_bytes(s: &[u8], ok: impl Fn(u8) -> bool) -> bool {
    let mut blocks = s.chunks_exact(32);
    for block in &mut blocks {
        if !block.iter().fold(true, |all, &b| all & ok(b)) {
            return false;
        }
    }
    blocks.remainder().iter().all(|&b| ok(b))
}

#[inline]
fn is_alnum(b: u8) -> bool {
    (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 26)
}

/// A token68 byte other than the `=` padding: ALPHA / DIGIT / `-._~+/`.
#[inline]
pub fn is_token68_byte(b: u8) -> bool {
    is_alnum(b) | (b == b'-') | (b == b'.') | (b == b'_') | (b == b'~') | (b == b'+') | (b == b'/')
}

/// A base64url byte (RFC 4648 §5): ALPHA / DIGIT / `-_`.
#[inline]
pub fn is_base64url_byte(b: u8) -> bool {
    is_alnum(b) | (b == b'-') | (b == b'_')
}

/// Visible ASCII or a tab: what `HeaderValue::to_str` accepts.
#[inline]
fn is_visible_ascii(b: u8) -> bool {
    (b == b'\t') | (b.wrapping_sub(0x20) < 0x5f)
}

/// SHA-256 of a token: the cache key of userinfo answers and refresh results, and
/// (shortened) the only way a token shows up in logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes `token`.
    pub fn of(token: &str) -> TokenHash {
        let d = digest::digest(&digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        TokenHash(out)
    }

    /// A short hex prefix for log lines (8 bytes: enough to correlate, useless to replay).
    pub fn short(&self) -> ShortHash<'_> {
        ShortHash(&self.0[..8])
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.short())
    }
}

/// Display adaptor printing a hash prefix as lower-case hex without allocating.
pub struct ShortHash<'a>(&'a [u8]);

impl fmt::Display for ShortHash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
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
}
