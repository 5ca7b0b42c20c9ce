// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Hostile-input tests for [`super::normalize_path`].

use super::*;

fn norm(p: &str) -> Result<String, PathError> {
    normalize_path(p).map(Cow::into_owned)
}

fn ok(p: &str) -> String {
    match normalize_path(p) {
        Ok(c) => c.into_owned(),
        Err(e) => panic!("{p:?} refused: {e}"),
    }
}

#[test]
fn clean_paths_are_borrowed() {
    for p in [
        "/",
        "/v1/items/42",
        "/v1/items/",
        "/a%20b",
        "/a%2Cb",
        "/.well-known/openid-configuration",
        "/a;b=c/d",
        "/...",
        "/a.b/c..d",
        "/%C3%A9",
    ] {
        assert!(
            matches!(normalize_path(p), Ok(Cow::Borrowed(s)) if s == p),
            "{p:?} should be borrowed unchanged"
        );
    }
}

#[test]
fn dot_segments_and_slash_runs() {
    let cases = [
        ("/a/../b", "/b"),
        ("//b", "/b"),
        ("///a////b///", "/a/b/"),
        ("/a/./b", "/a/b"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/..", "/"),
        ("/../..", "/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/.", "/"),
        ("/./", "/"),
        ("/a/b/../../../../c", "/c"),
        ("/a//../b", "/b"),
        ("/a/b/c/./../../g", "/a/g"),
        ("/mid/content=5/../6", "/mid/6"),
    ];
    for (input, want) in cases {
        assert_eq!(ok(input), want, "{input:?}");
    }
}

#[test]
fn encoded_dots_are_resolved() {
    let cases = [
        ("/%2e%2e/b", "/b"),
        ("/%2E./b", "/b"),
        ("/.%2e/b", "/b"),
        ("/a/%2e/b", "/a/b"),
        ("/a/b/%2E%2E", "/a/"),
        ("/%2e%2e%2e", "/..."),
        ("/public%23/../admin", "/admin"),
        ("/public/%2e%2e/admin", "/admin"),
    ];
    for (input, want) in cases {
        assert_eq!(ok(input), want, "{input:?}");
    }
}

#[test]
fn unreserved_escapes_are_decoded_others_uppercased() {
    let cases = [
        ("/%41%7a%30%2D%5F%7E", "/Az0-_~"),
        ("/a%2fb", "/a%2Fb"),
        ("/a%5cb", "/a%5Cb"),
        ("/a%23b", "/a%23b"),
        ("/a%3fb", "/a%3Fb"),
        ("/%c3%a9", "/%C3%A9"),
        ("/a%20b", "/a%20b"),
        ("/a%25", "/a%25"),
        ("/%252e%252e/", "/%252e%252e/"),
    ];
    for (input, want) in cases {
        assert_eq!(ok(input), want, "{input:?}");
    }
}

#[test]
fn encoded_slash_never_splits_a_segment() {
    assert_eq!(ok("/a%2fb"), "/a%2Fb");
    assert_eq!(ok("/a%2Fb/../c"), "/c");
    assert_eq!(ok("/repos/org%2Fname/issues"), "/repos/org%2Fname/issues");
}

#[test]
fn dot_segments_behind_encoded_separators_or_params_are_refused() {
    for p in [
        "/a/%2e%2e%2fadmin",
        "/a/..%2Fadmin",
        "/a/..%5Cadmin",
        "/a/x%2F..",
        "/a/x%2f%2e",
        "/public/..;/admin",
        "/public/.;x/admin",
        "/public/%2e%2e;/admin",
        "/..;",
        "/public/..%3b/private",
        "/public/..%3B/private",
        "/pp/health/%2e%2e%3Bx/secret",
        "/public/.%3B/admin",
    ] {
        assert_eq!(norm(p), Err(PathError::AmbiguousDotSegment), "{p:?}");
    }
    // A dot that is only part of a name is fine.
    assert_eq!(ok("/a/..x%2Fb"), "/a/..x%2Fb");
    assert_eq!(ok("/a/x;..%2Fb"), "/a/x;..%2Fb");
    assert_eq!(ok("/a/x%3B..%2Fb"), "/a/x%3B..%2Fb");
    assert_eq!(ok("/a/..x%3Bb"), "/a/..x%3Bb");
}

#[test]
fn trailing_slash_is_kept() {
    assert_eq!(ok("/v1/"), "/v1/");
    assert_eq!(ok("/v1//"), "/v1/");
    assert_eq!(ok("/v1"), "/v1");
}

#[test]
fn malformed_paths_are_refused() {
    let cases = [
        ("", PathError::NotAbsolute),
        ("a/b", PathError::NotAbsolute),
        ("*", PathError::NotAbsolute),
        ("http://x/", PathError::NotAbsolute),
        ("/a%00b", PathError::ControlChar),
        ("/a%0d%0aSet-Cookie:x", PathError::ControlChar),
        ("/a%7f", PathError::ControlChar),
        ("/a%20%09", PathError::ControlChar),
        ("/a\0b", PathError::ControlChar),
        ("/a\nb", PathError::ControlChar),
        ("/a b", PathError::ControlChar),
        ("/a%zz", PathError::InvalidEscape),
        ("/a%4", PathError::InvalidEscape),
        ("/a%", PathError::InvalidEscape),
        ("/a%g0", PathError::InvalidEscape),
        ("/a%%41", PathError::InvalidEscape),
        ("/a\\b", PathError::Backslash),
        ("/..\\admin", PathError::Backslash),
        ("/a?b", PathError::Delimiter),
        ("/a#b", PathError::Delimiter),
    ];
    for (input, want) in cases {
        assert_eq!(norm(input), Err(want), "{input:?}");
    }
}

#[test]
fn length_cap() {
    let at_cap = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
    assert!(matches!(normalize_path(&at_cap), Ok(Cow::Borrowed(_))));
    let over = format!("/{}", "a".repeat(MAX_PATH_LEN));
    assert_eq!(norm(&over), Err(PathError::TooLong));
    // Encoding raw UTF-8 triples its size: the output is capped too.
    let grows = format!("/{}", "é".repeat(MAX_PATH_LEN / 4));
    assert_eq!(norm(&grows), Err(PathError::TooLong));
}

#[test]
fn raw_unicode_is_percent_encoded() {
    assert_eq!(ok("/café"), "/caf%C3%A9");
    assert_eq!(ok("/café"), ok("/caf%c3%a9"));
    assert_eq!(ok("/日本/../x"), "/x");
    assert_eq!(ok("/\u{202e}"), "/%E2%80%AE");
}

/// Tiny deterministic generator so the property test needs no extra crate.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // Truncation is intended: only small indices are drawn.
        (self.0 >> 33) as usize
    }
}

#[test]
fn properties_on_generated_paths() {
    const PARTS: &[&str] = &[
        "/", "//", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "a", "B", "%41", "%61",
        "%20", ";", "é", "%zz", "%4", "%00", "\\", "~", "%7e", "%3b", "%23", "x.y", "%c3", "?",
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..200_000 {
        let mut p = String::from("/");
        for _ in 0..rng.next() % 9 {
            p.push_str(PARTS[rng.next() % PARTS.len()]);
        }
        let slow = normalize_slow(&p);
        let Ok(out) = normalize_path(&p) else {
            assert!(
                slow.is_err(),
                "fast path refused {p:?} that the slow path accepts"
            );
            continue;
        };
        assert_eq!(
            slow.as_deref(),
            Ok(&*out),
            "fast and slow paths disagree on {p:?}"
        );
        assert!(out.starts_with('/'), "{p:?} -> {out:?}");
        assert!(!out.contains("//"), "{p:?} -> {out:?}");
        assert!(
            !out.contains("/../") && !out.ends_with("/.."),
            "{p:?} -> {out:?}"
        );
        assert!(
            !out.contains("/./") && !out.ends_with("/."),
            "{p:?} -> {out:?}"
        );
        assert!(out.is_ascii(), "{p:?} -> {out:?}");
        match normalize_path(&out) {
            Ok(Cow::Borrowed(again)) => assert_eq!(again, &*out, "not idempotent: {p:?}"),
            other => panic!("normalised {p:?} -> {out:?} is not canonical: {other:?}"),
        }
    }
}

#[test]
fn path_parameters_are_removed_as_servlet_containers_read_them() {
    assert_eq!(without_params("/admin/users"), None);
    assert_eq!(without_params("/a%20b"), None, "an escape but no parameter");
    for (with, bare) in [
        ("/admin;x/users", "/admin/users"),
        ("/api;x/admin;y=1/users", "/api/admin/users"),
        ("/admin%3Bx/users", "/admin/users"),
        ("/admin%3bx", "/admin"),
        ("/users;jsessionid=1", "/users"),
        ("/;x/a", "//a"),
        ("/é;x/b", "/é/b"),
    ] {
        assert_eq!(without_params(with).as_deref(), Some(bare), "{with}");
    }
}
