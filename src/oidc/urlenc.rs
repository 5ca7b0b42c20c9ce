//! Query-string reading for the gateway's own endpoints: finds one parameter and
//! percent-decodes it (`+` as space), or finds a repeated parameter name. Invalid UTF-8
//! or escapes make the value absent.

use std::borrow::Cow;
use std::collections::HashSet;

/// The first value of `name` in `query`, decoded.
pub fn query_get<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, str>> {
    let query = query?;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(k).as_deref() == Some(name) {
            return decode(v);
        }
    }
    None
}

/// The first parameter name (decoded) that occurs more than once in `query`, if any.
///
/// RFC 6749 §3.1: request and response parameters must not be included more than once;
/// with two values, which one counts depends on the reader. Names are compared after
/// decoding (`%63ode` is `code`); an undecodable name is compared as written.
pub fn repeated_name(query: Option<&str>) -> Option<Cow<'_, str>> {
    // A set, not a list: thousands of distinct names fit in one request line.
    let mut seen: HashSet<Cow<'_, str>> = HashSet::new();
    for pair in query?.split('&').filter(|p| !p.is_empty()) {
        let raw = pair.split_once('=').map_or(pair, |(k, _)| k);
        let name = decode(raw).unwrap_or(Cow::Borrowed(raw));
        if seen.contains(&name) {
            return Some(name);
        }
        seen.insert(name);
    }
    None
}

/// Percent-decodes `s` (`+` → space); `None` on a bad escape or invalid UTF-8.
pub fn decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| char::from(*b).to_digit(16))?;
                let lo = bytes.get(i + 2).and_then(|b| char::from(*b).to_digit(16))?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_decodes() {
        let q = Some("a=1&rd=%2Fapp%3Fx%3D1&hint=a+b&empty");
        assert_eq!(query_get(q, "rd").as_deref(), Some("/app?x=1"));
        assert_eq!(query_get(q, "hint").as_deref(), Some("a b"));
        assert_eq!(query_get(q, "empty").as_deref(), Some(""));
        assert_eq!(query_get(q, "missing"), None);
        assert_eq!(query_get(None, "rd"), None);
    }

    #[test]
    fn repeated_names_are_found_in_any_spelling() {
        assert_eq!(repeated_name(None), None);
        assert_eq!(repeated_name(Some("")), None);
        assert_eq!(repeated_name(Some("code=a&state=b&iss=c&&")), None);
        for (q, name) in [
            ("code=a&code=b", "code"),
            ("state=a&code=x&state=a", "state"),
            ("iss=x&iss", "iss"),
            ("error=a&error=a", "error"),
            ("code=a&%63ode=b", "code"),
            ("code=a&c%6Fde=b", "code"),
            ("a+b=1&a%20b=2", "a b"),
            ("session_state=1&session_state=2", "session_state"),
            ("x=%zz&%zz=1&%zz=2", "%zz"),
        ] {
            assert_eq!(repeated_name(Some(q)).as_deref(), Some(name), "{q}");
        }
    }

    #[test]
    fn bad_escapes_are_absent_not_panics() {
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%ff%fe"), None);
        assert_eq!(decode("%E2%82%AC").as_deref(), Some("€"));
    }
}
