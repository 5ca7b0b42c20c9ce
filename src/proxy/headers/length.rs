//! The request's `Content-Length` as the upstream gets it: one field, canonical decimal
//! (as nginx sends it). The server that parsed the request (hyper) framed the body by the
//! number, but the header map still holds the client's spelling: `007`, `7, 7`, or two
//! fields. An upstream with a laxer or a stricter parser could read those differently
//! (octal, the first of a list, a refusal after the body was already sent) and so
//! misframe the connection. Must never allocate for a value already canonical.

use http::header::{HeaderMap, HeaderValue, CONTENT_LENGTH};

/// A `Content-Length` that is not a plain decimal `u64` (or a list of equal ones): the
/// request is refused (400). hyper refuses these first; this is the second guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidContentLength;

/// Rewrites the request's `Content-Length` fields into one canonical value (`007` → `7`,
/// `7, 7` → `7`); leaves a single canonical field (the usual case) untouched.
pub fn canonical_content_length(headers: &mut HeaderMap) -> Result<(), InvalidContentLength> {
    let mut fields = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = fields.next() else {
        return Ok(());
    };
    if fields.next().is_none() && is_canonical(first.as_bytes()) {
        return Ok(());
    }
    let mut length: Option<u64> = None;
    for field in headers.get_all(CONTENT_LENGTH) {
        // RFC 9110 §8.6: a list of identical values may stand for one.
        for item in field.as_bytes().split(|&b| b == b',') {
            let n = decimal(item.trim_ascii()).ok_or(InvalidContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(InvalidContentLength);
            }
            length = Some(n);
        }
    }
    let length = length.ok_or(InvalidContentLength)?;
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    Ok(())
}

/// One to 19 digits without a leading zero (or `0` itself): never past `u64::MAX`.
fn is_canonical(v: &[u8]) -> bool {
    matches!(v, [b'0'] | [b'1'..=b'9', ..]) && v.len() <= 19 && v.iter().all(u8::is_ascii_digit)
}

/// A plain decimal number: digits only (no sign, no space), within `u64`.
fn decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(values: &[&str]) -> Result<Vec<String>, InvalidContentLength> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CONTENT_LENGTH, HeaderValue::from_str(v).expect("value"));
        }
        canonical_content_length(&mut h)?;
        Ok(h.get_all(CONTENT_LENGTH)
            .iter()
            .map(|v| v.to_str().expect("text").to_owned())
            .collect())
    }

    #[test]
    fn canonical_values_stay_others_become_canonical() {
        assert_eq!(after(&[]), Ok(vec![]));
        for v in ["0", "7", "1234567890", "9999999999999999999"] {
            assert_eq!(after(&[v]), Ok(vec![v.to_owned()]), "{v}");
        }
        for (values, want) in [
            (&["007"][..], "7"),
            (&["00"], "0"),
            (&["7, 7"], "7"),
            (&["7,007"], "7"),
            (&["7", "7"], "7"),
            (&["7", "007"], "7"),
            (&["18446744073709551615"], "18446744073709551615"),
            (&["000000000000000000000000000042"], "42"),
        ] {
            assert_eq!(after(values), Ok(vec![want.to_owned()]), "{values:?}");
        }
    }

    #[test]
    fn anything_but_plain_decimals_that_agree_is_refused() {
        for values in [
            &["-7"][..],
            &["+7"],
            &["7 7"],
            &["0x7"],
            &["7a"],
            &[""],
            &["7,"],
            &[",7"],
            &["7, 8"],
            &["7", "8"],
            &["18446744073709551616"],
            &["99999999999999999999999"],
            &["\u{663}"],
        ] {
            assert_eq!(after(values), Err(InvalidContentLength), "{values:?}");
        }
    }
}
