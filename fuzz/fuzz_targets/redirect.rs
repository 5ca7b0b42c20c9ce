//! Fuzzes the open-redirect guard: never panics, and anything it accepts is either a
//! `/`-relative path whose second character (after decoding percent-escapes once) is not
//! `/`, `\` or a space, or an http(s) URL without user-info whose host is the public
//! host or under an allowed domain. The check here is deliberately independent of the
//! guard's own parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::session::redirect::{safe_redirect, MAX_REDIRECT_LEN};

const ORIGIN: &str = "https://public.host";

fn decode_once(s: &str) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn host_is_allowed(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains(['@', '\\', '%', '[']) {
        return false;
    }
    let host = authority.split(':').next().unwrap_or("");
    host == "public.host" || (host.ends_with(".example.com") && host.len() > ".example.com".len())
}

fn check(rd: &str) {
    let allowed = [".example.com".to_owned()];
    let Some(out) = safe_redirect(rd, Some(ORIGIN), &allowed) else {
        return;
    };
    assert_eq!(out, rd, "the original string is returned");
    assert!(rd.len() <= MAX_REDIRECT_LEN);
    assert!(rd.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'));
    assert!(!decode_once(rd).iter().any(|b| b.is_ascii_control()));
    if rd.starts_with('/') {
        let d = decode_once(rd);
        assert!(
            d.len() == 1 || !matches!(d[1], b'/' | b'\\' | b' '),
            "accepted protocol-relative {rd:?}"
        );
    } else {
        assert!(host_is_allowed(rd), "accepted foreign host {rd:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check(s);
        // Same input behind common prefixes, to reach the absolute-URL paths more often.
        for prefix in ["/", "https://", "https://public.host", "http://a.example.com"] {
            check(&format!("{prefix}{s}"));
        }
    }
});
