//! Access tokens sent the other RFC 6750 ways (§2.2 form body, §2.3 query parameter):
//! finding an `access_token` parameter in a query string or a form body the way lenient
//! upstream frameworks would read it, so a request authenticated by its `Authorization`
//! header can be refused when it carries a second, unchecked token.
//!
//! Pure byte scanning, no allocation unless a name is percent-encoded. Must never log or
//! return a parameter's value, and never panics on hostile input.

use std::borrow::Cow;

/// The name's letters and digits, lower-cased: what `access_token` reduces to.
const SKELETON: &[u8] = b"accesstoken";

/// Percent-decoding passes applied to a name: lenient stacks (and proxies in front of
/// them) decode more than once, so `access%255Ftoken` may reach a handler as
/// `access_token`.
const DECODE_ROUNDS: usize = 3;

/// Whether `input` (a query string, or an `application/x-www-form-urlencoded` body)
/// has a parameter that an upstream may read as `access_token`. Pairs are split on `&`
/// and `;` (older Python and Go servers split on both); see [`is_access_token_name`] for
/// the names that count.
pub fn carries_access_token(input: &[u8]) -> bool {
    input
        .split(|b| *b == b'&' || *b == b';')
        .filter_map(|pair| pair.split(|b| *b == b'=').next())
        .any(is_access_token_name)
}

/// Whether a raw (still encoded) parameter name may be read as `access_token`: after
/// percent-decoding (up to three times), cut at the first `[` (PHP, Rails and `qs` read
/// `access_token[]` and `access_token[x]` as that name), its ASCII letters and digits,
/// lower-cased, spell `accesstoken`. So `ACCESS_TOKEN`, `access%5Ftoken`, `access.token`
/// and `access token` (PHP maps `.` and space to `_`), `access-token` and `accessToken`
/// all count: no framework uses such a name for anything but a token.
pub fn is_access_token_name(raw: &[u8]) -> bool {
    let mut name: Cow<'_, [u8]> = Cow::Borrowed(raw);
    for _ in 0..DECODE_ROUNDS {
        if !name.contains(&b'%') {
            break;
        }
        let decoded = percent_decode(&name);
        if decoded.as_slice() == name.as_ref() {
            break;
        }
        name = Cow::Owned(decoded);
    }
    let base = name.split(|b| *b == b'[').next().unwrap_or_default();
    let mut letters = base
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase);
    SKELETON.iter().all(|want| letters.next() == Some(*want)) && letters.next().is_none()
}

/// `%XX` → byte; anything else (including a `%` without two hex digits) is kept.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        let hex = |j: usize| s.get(j).and_then(|c| char::from(*c).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits: at most 255.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Whether a `Content-Type` value is `application/x-www-form-urlencoded` (case-insensitive,
/// parameters such as `charset` ignored): the only body RFC 6750 §2.2 puts a token in,
/// and the only one PHP, Rails, Django or Express decode into parameters by default.
pub fn is_form_content_type(value: &[u8]) -> bool {
    let media = value.split(|b| *b == b';').next().unwrap_or_default();
    media
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_an_upstream_decodes_as_access_token_counts() {
        for q in [
            "access_token=abc",
            "a=1&access_token=abc",
            "a=1;access_token=abc",
            "access_token",
            "access_token=",
            "ACCESS_TOKEN=x",
            "Access_Token=x",
            "access%5Ftoken=x",
            "access%5ftoken=x",
            "%61ccess_token=x",
            "access%255Ftoken=x",
            "access%25255Ftoken=x",
            "access_token[]=x",
            "access_token[0]=x",
            "access_token%5B%5D=x",
            "access.token=x",
            "access+token=x",
            "access%20token=x",
            "access-token=x",
            "accessToken=x",
            "access_token%00=x",
            "x=1&&access_token=y&z",
        ] {
            assert!(carries_access_token(q.as_bytes()), "{q}");
        }
    }

    #[test]
    fn other_names_and_values_do_not() {
        for q in [
            "",
            "a=access_token",
            "token=x",
            "id_token=x",
            "refresh_token=x",
            "my_access_token=x",
            "access_tokens=x",
            "access_token_hint=x",
            "[access_token]=x",
            "foo[access_token]=x",
            "access%2",
            "%%%",
            "access%2525255Ftoken=x",
            "=access_token",
        ] {
            assert!(!carries_access_token(q.as_bytes()), "{q}");
        }
    }

    #[test]
    fn decoding_is_bounded_and_total() {
        assert_eq!(percent_decode(b"%41%4a%zz%"), b"AJ%zz%");
        assert_eq!(percent_decode(b"%ff"), [0xff]);
        // Non-UTF-8 and huge names never panic.
        assert!(!is_access_token_name(&[0xff, b'%', 0xfe]));
        assert!(!is_access_token_name(&b"%25".repeat(10_000)));
    }

    #[test]
    fn form_content_type() {
        for yes in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-URLEncoded; charset=utf-8",
            " application/x-www-form-urlencoded ;",
        ] {
            assert!(is_form_content_type(yes.as_bytes()), "{yes}");
        }
        for no in [
            "",
            "multipart/form-data; boundary=x",
            "application/json",
            "application/x-www-form-urlencodedx",
        ] {
            assert!(!is_form_content_type(no.as_bytes()), "{no}");
        }
    }
}
