//! Fuzzes request-path normalisation: it must never panic, its output must be canonical
//! (normalising it again returns it unchanged, without allocating) and free of `//`, `.`
//! and `..` segments, and it must stay within the length cap.
//!
//! Then the route decision under each `server.escaped_slashes` mode: the path a mode
//! hands on is a fixed point of that mode; `reject` and `decode` leave no escaped
//! separator in it; and whenever the route table accepts it, a decoding upstream's
//! reading of it (every escaped `/`/`\` at any depth a separator, with or without `;`
//! parameters — computed here by a reference written for this target) takes the very
//! route the request was judged on.
#![no_main]

use std::borrow::Cow;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis::config::EscapedSlashes;
use portcullis::routing::{
    has_escaped_separator, normalize_path, request_path, without_params, RouteTable, MAX_PATH_LEN,
};

/// Routes whose prefixes an escaped slash could reach across.
const ROUTES: &str = "routes:
  - { name: open, upstream: \"http://127.0.0.1:1\", auth: none }
  - { name: admin, match: { path_prefix: /admin }, upstream: \"http://127.0.0.1:1\", auth: none }
  - { name: api, match: { path_prefix: /api/v1/ }, upstream: \"http://127.0.0.1:1\", auth: none }
  - { name: deep, match: { path_prefix: /a/b/c }, upstream: \"http://127.0.0.1:1\", auth: none }
";

fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| match portcullis::config::load_str(ROUTES) {
        Ok(cfg) => RouteTable::new(&cfg.routes),
        Err(e) => panic!("fuzz routes: {e}"),
    })
}

/// Reference: every `%` (`25`)* (`2F`|`5C`), any case, read as `/`.
fn decoding_upstream_reading(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let mut j = i + 1;
            while b.get(j..j + 2) == Some(b"25") {
                j += 2;
            }
            if let Some(w) = b.get(j..j + 2) {
                if w.eq_ignore_ascii_case(b"2f") || w.eq_ignore_ascii_case(b"5c") {
                    out.push('/');
                    i = j + 2;
                    continue;
                }
            }
        }
        out.push(char::from(b[i]));
        i += 1;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    for mode in [
        EscapedSlashes::Reject,
        EscapedSlashes::Decode,
        EscapedSlashes::Keep,
    ] {
        let Ok(path) = request_path(raw, mode) else {
            continue;
        };
        match request_path(&path, mode) {
            Ok(Cow::Borrowed(again)) => assert_eq!(again, &*path, "{mode:?} {raw:?}"),
            other => panic!("{mode:?}: {raw:?} -> {path:?} is no fixed point: {other:?}"),
        }
        if mode != EscapedSlashes::Keep {
            assert!(!has_escaped_separator(&path), "{mode:?}: {raw:?} -> {path:?}");
        }
        let Ok(route) = table().find_unambiguous(|| None, &path) else {
            continue;
        };
        // The output is ASCII (canonical), so the byte-wise reference is exact.
        let read = decoding_upstream_reading(&path);
        let Ok(reading) = normalize_path(&read) else {
            continue;
        };
        assert_eq!(
            table().find(None, &reading),
            route,
            "{mode:?}: {raw:?} judged as {path:?}, served as {reading:?}"
        );
        if let Some(bare) = without_params(&reading) {
            assert_eq!(table().find(None, &bare), route, "{raw:?} served as {bare:?}");
        }
    }

    let Ok(out) = normalize_path(raw) else {
        return;
    };
    if let Cow::Borrowed(b) = &out {
        assert_eq!(*b, raw, "borrowed output must be the input");
    }
    assert!(out.starts_with('/'), "{raw:?} -> {out:?}");
    assert!(out.len() <= MAX_PATH_LEN, "{raw:?} -> {out:?}");
    assert!(out.is_ascii(), "{raw:?} -> {out:?}");
    assert!(!out.contains("//"), "{raw:?} -> {out:?}");
    assert!(
        !out.contains("/../") && !out.ends_with("/.."),
        "{raw:?} -> {out:?}"
    );
    assert!(
        !out.contains("/./") && !out.ends_with("/."),
        "{raw:?} -> {out:?}"
    );
    assert!(!out.contains('\\'), "{raw:?} -> {out:?}");
    match normalize_path(&out) {
        Ok(Cow::Borrowed(again)) => assert_eq!(again, &*out, "not idempotent: {raw:?}"),
        other => panic!("{raw:?} -> {out:?} is not canonical: {other:?}"),
    }
});
