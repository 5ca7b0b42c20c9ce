// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Escaped separators under each `server.escaped_slashes` mode, and the decoded reading.

use std::borrow::Cow;

use super::*;
use EscapedSlashes::{Decode, Keep, Reject};

fn path(raw: &str, mode: EscapedSlashes) -> Result<String, PathError> {
    request_path(raw, mode).map(Cow::into_owned)
}

/// Every spelling of an escaped separator the modes must see: any case, `\` too, and
/// escaped again any number of times.
const ESCAPED: [&str; 9] = [
    "/admin%2Fx",
    "/admin%2fx",
    "/%2Fadmin/x",
    "/admin%5Cx",
    "/admin%5cx",
    "/admin%252Fx",
    "/admin%252fx",
    "/admin%25255Cx",
    "/a/b%2F",
];

#[test]
fn reject_refuses_every_spelling() {
    for raw in ESCAPED {
        assert_eq!(path(raw, Reject), Err(PathError::EscapedSlash), "{raw}");
    }
    // Unreserved escapes decoded by the normaliser cannot assemble one either.
    assert_eq!(path("/a%25%32%46b", Reject), Err(PathError::EscapedSlash));
    // Other escapes, and `%25` that escapes no separator, pass.
    assert_eq!(path("/a%20b%25", Reject).as_deref(), Ok("/a%20b%25"));
    assert_eq!(path("/a%252Gb", Reject).as_deref(), Ok("/a%252Gb"));
    assert_eq!(path("/a%2541", Reject).as_deref(), Ok("/a%2541"));
}

#[test]
fn decode_routes_and_forwards_the_decoded_path() {
    for (raw, want) in [
        ("/admin%2Fx", "/admin/x"),
        ("/admin%2fx", "/admin/x"),
        ("/%2Fadmin/x", "/admin/x"),
        ("/%2fadmin%2F%2Fx", "/admin/x"),
        ("/admin%5Cx", "/admin/x"),
        ("/admin%5cx/", "/admin/x/"),
        // Dot segments formed by decoding are resolved like any others.
        ("/a/..%2F..%2Fadmin", "/admin"),
        ("/pub/..%5Cadmin/x", "/admin/x"),
        ("/a%2F.%2Fb", "/a/b"),
        // Nothing to decode: the usual normal form.
        ("/a/./b//c", "/a/b/c"),
    ] {
        assert_eq!(path(raw, Decode).as_deref(), Ok(want), "{raw}");
    }
    // Decoded once, never twice: an escape escaped again stays one, and is refused.
    for raw in ["/admin%252Fx", "/admin%252fx", "/a%25%32%46b", "/a%255C"] {
        assert_eq!(path(raw, Decode), Err(PathError::EscapedSlash), "{raw}");
    }
    // `%%2F` is a broken escape, not a `%` before a separator.
    assert_eq!(path("/a%%2Fb", Decode), Err(PathError::InvalidEscape));
}

#[test]
fn keep_forwards_as_written_but_refuses_disguised_dot_segments() {
    assert_eq!(path("/admin%2fx", Keep).as_deref(), Ok("/admin%2Fx"));
    assert_eq!(path("/a%252fb", Keep).as_deref(), Ok("/a%252fb"));
    for raw in [
        "/a/..%2Fadmin",
        "/a/..%252Fadmin",
        "/a/x%255c..",
        "/a/.%25252F",
    ] {
        assert_eq!(
            path(raw, Keep),
            Err(PathError::AmbiguousDotSegment),
            "{raw}"
        );
    }
}

#[test]
fn the_decoded_reading_is_what_a_decoding_upstream_serves() {
    let reading = |p: &str| decoded_reading(p).map(|r| r.unwrap());
    assert_eq!(reading("/admin/x"), None);
    assert_eq!(reading("/a%20b"), None);
    assert_eq!(reading("/admin%2Fx").as_deref(), Some("/admin/x"));
    assert_eq!(reading("/%2Fadmin/x").as_deref(), Some("/admin/x"));
    assert_eq!(reading("/admin%252fx").as_deref(), Some("/admin/x"));
    assert_eq!(reading("/a%5C%2F").as_deref(), Some("/a/"));
}

#[test]
fn separator_escapes_are_measured_whole() {
    assert_eq!(separator_escape_len(b"%2F"), 3);
    assert_eq!(separator_escape_len(b"%5cx"), 3);
    assert_eq!(separator_escape_len(b"%252F"), 5);
    assert_eq!(separator_escape_len(b"%2525255c"), 9);
    assert_eq!(separator_escape_len(b"%25"), 0);
    assert_eq!(separator_escape_len(b"%2"), 0);
    assert_eq!(separator_escape_len(b"2F"), 0);
    assert_eq!(separator_escape_len(b""), 0);
    assert!(!has_escaped_separator("/a%2541"));
    assert!(has_escaped_separator("/a%41%2F"));
}

#[test]
fn the_hot_path_borrows() {
    for mode in [Reject, Decode, Keep] {
        assert!(matches!(
            request_path("/api/v1/items", mode),
            Ok(Cow::Borrowed(_))
        ));
    }
}

/// Reference for a decoding upstream: every `%` (`25`)* (`2F`|`5C`), any case, is `/`.
fn upstream_reading(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let mut j = i + 1;
        while b[i] == b'%' && b.get(j..j + 2) == Some(b"25") {
            j += 2;
        }
        match b.get(j..j + 2) {
            Some(w)
                if b[i] == b'%'
                    && (w.eq_ignore_ascii_case(b"2f") || w.eq_ignore_ascii_case(b"5c")) =>
            {
                out.push('/');
                i = j + 2;
            }
            _ => {
                out.push(char::from(b[i]));
                i += 1;
            }
        }
    }
    out
}

/// The fuzz target's properties (fuzz/fuzz_targets/normalize_path.rs) on generated paths:
/// each mode's path is a fixed point of it, `reject`/`decode` leave no escaped separator,
/// and a path the table accepts reaches the same route as a decoding upstream reads it.
#[test]
fn no_accepted_spelling_is_served_from_another_route() {
    const PARTS: &[&str] = &[
        "/", "//", ".", "..", "%2e", "%2f", "%2F", "%5c", "%5C", "%25", "%252f", "%255C", "25",
        "2F", "admin", "api", "v1", "a", "b", "c", ";", ";x", "%3b", "%", "x",
    ];
    let cfg = crate::config::load_str(
        "routes:
  - { name: open, upstream: \"http://127.0.0.1:1\", auth: none }
  - { name: admin, match: { path_prefix: /admin }, upstream: \"http://127.0.0.1:1\", auth: none }
  - { name: api, match: { path_prefix: /api/v1/ }, upstream: \"http://127.0.0.1:1\", auth: none }
  - { name: deep, match: { path_prefix: /a/b/c }, upstream: \"http://127.0.0.1:1\", auth: none }
",
    )
    .unwrap();
    let table = crate::routing::RouteTable::new(&cfg.routes);
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % 1_000_003).unwrap()
    };
    let mut judged = 0;
    for _ in 0..100_000 {
        let mut raw = String::new();
        for _ in 0..1 + next() % 8 {
            raw.push_str(PARTS[next() % PARTS.len()]);
        }
        if !raw.starts_with('/') {
            raw.insert(0, '/');
        }
        for mode in [Reject, Decode, Keep] {
            let Ok(p) = request_path(&raw, mode) else {
                continue;
            };
            assert!(
                matches!(request_path(&p, mode), Ok(Cow::Borrowed(again)) if again == p),
                "{mode:?}: {raw:?} -> {p:?} is no fixed point"
            );
            if mode != Keep {
                assert!(!has_escaped_separator(&p), "{mode:?}: {raw:?} -> {p:?}");
            }
            let Ok(route) = table.find_unambiguous(|| None, &p) else {
                continue;
            };
            let read = upstream_reading(&p);
            let Ok(reading) = normalize_path(&read) else {
                continue;
            };
            judged += 1;
            assert_eq!(
                table.find(None, &reading),
                route,
                "{mode:?}: {raw:?} judged as {p:?}, served as {reading:?}"
            );
            if let Some(bare) = crate::routing::without_params(&reading) {
                assert_eq!(table.find(None, &bare), route, "{raw:?} served as {bare:?}");
            }
        }
    }
    assert!(judged > 10_000, "too few paths accepted: {judged}");
}
