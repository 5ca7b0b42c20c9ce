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
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() + 0 && i + 2 <= b.len() - 1 {
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
    let Some(rest) = url
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
        .or_else(|| {
            url.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("http://"))
                .map(|_| &url[7..])
        })
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') || authority.contains('\\') || authority.contains('%') {
        return false;
    }
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') && !h.contains(':') || p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
    .to_ascii_lowercase();
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
