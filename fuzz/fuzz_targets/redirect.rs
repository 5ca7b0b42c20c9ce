//! Fuzzes the open-redirect guard: never panics; anything it accepts is its own fixed
//! point (resolving again changes nothing), no longer than the input, free of dot
//! segments in every spelling a browser accepts, and either a `/`-relative path or an
//! http(s) URL without user-info whose host is the public host or under an allowed
//! domain on an allowed port; and its path, decoded once, neither starts with `/`
//! followed by `/`, `\` or a space, nor does so after `\` → `/` and resolving `.`/`..`.
//! The checks here are deliberately independent of the guard's own parser.
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

/// A segment browsers treat as `.` or `..` (`%2e` = `.`).
fn is_dot_segment(seg: &str) -> bool {
    let s = seg.to_ascii_lowercase().replace("%2e", ".");
    s == "." || s == ".."
}

/// Plain `.`/`..` resolution with a stack (a reference, not the guard's algorithm).
fn resolve(path: &[u8]) -> Vec<u8> {
    let mut stack: Vec<&[u8]> = Vec::new();
    let parts: Vec<&[u8]> = path[1..].split(|b| *b == b'/').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        match *part {
            b"." | b".." => {
                if *part == b".." {
                    stack.pop();
                }
                if last {
                    stack.push(b"");
                }
            }
            p => stack.push(p),
        }
    }
    let mut out = Vec::new();
    for p in stack {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}

fn starts_authority(path: &[u8]) -> bool {
    path.len() > 1 && matches!(path[1], b'/' | b'\\' | b' ')
}

/// The path of a relative reference or absolute URL (empty when none).
fn path_of(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(i) if !url.starts_with('/') => {
            let after = &url[i + 3..];
            &after[after.find(['/', '?', '#']).unwrap_or(after.len())..]
        }
        _ => url,
    };
    &rest[..rest.find(['?', '#']).unwrap_or(rest.len())]
}

fn host_is_allowed(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let (https, rest) = match (lower.strip_prefix("https://"), lower.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains(['@', '\\', '%', '[']) {
        return false;
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()),
        None => (authority, Some(if https { 443 } else { 80 })),
    };
    let Some(port) = port else { return false };
    let sub = host.ends_with(".example.com") && host.len() > ".example.com".len();
    (host == "public.host" && https && port == 443)
        || (sub && (port == 443 || port == if https { 443 } else { 80 }))
        || host == "exact.org"
}

fn check(rd: &str) {
    let allowed = [".example.com".to_owned(), "exact.org:*".to_owned()];
    let Some(out) = safe_redirect(rd, Some(ORIGIN), &allowed) else {
        return;
    };
    assert!(rd.len() <= MAX_REDIRECT_LEN);
    assert!(out.len() <= rd.len(), "{rd:?} grew into {out:?}");
    assert!(rd.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'));
    assert!(!decode_once(rd).iter().any(|b| b.is_ascii_control()));
    assert_eq!(
        safe_redirect(&out, Some(ORIGIN), &allowed).as_deref(),
        Some(out.as_str()),
        "{rd:?} → {out:?} is not a fixed point"
    );
    let path = path_of(&out);
    assert!(
        !path.split('/').any(is_dot_segment),
        "{rd:?} → {out:?} kept a dot segment"
    );
    if !path.is_empty() {
        let mut d = decode_once(path);
        assert!(!starts_authority(&d), "accepted protocol-relative {rd:?} → {out:?}");
        for b in &mut d {
            if *b == b'\\' {
                *b = b'/';
            }
        }
        assert!(
            !starts_authority(&resolve(&d)),
            "accepted {rd:?} → {out:?}, protocol-relative once decoded"
        );
    }
    if !out.starts_with('/') {
        assert!(host_is_allowed(&out), "accepted foreign host {rd:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check(s);
        // Same input behind common prefixes, to reach the absolute-URL paths more often.
        for prefix in [
            "/",
            "/a/",
            "https://",
            "https://public.host",
            "http://a.example.com",
            "https://exact.org:",
        ] {
            check(&format!("{prefix}{s}"));
        }
    }
});
