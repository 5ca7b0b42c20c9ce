//! Fuzzes route lookup with arbitrary hosts and paths: no panic, and a path that does not
//! lie under a route's prefix (segment-bounded) never selects that route.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::routing::{host_only, is_public, normalize_path, prefix_matches, strip_prefix};

const PREFIXES: [&str; 5] = ["/", "/api", "/api/v1/", "/public", "/a%2Fb"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (host, raw_path) = text.split_once('\n').unwrap_or(("", text));
    let _ = host_only(host);
    let Ok(path) = normalize_path(raw_path) else {
        return;
    };
    for prefix in PREFIXES {
        let matched = prefix_matches(prefix, &path);
        let base = prefix.strip_suffix('/').unwrap_or(prefix);
        if matched {
            // Segment-bounded: the path equals the prefix or continues with a new segment.
            let rest = &path[base.len()..];
            assert!(
                rest.is_empty() || rest.starts_with('/'),
                "{prefix} ~ {path}"
            );
            assert!(strip_prefix(&path, prefix).starts_with('/'));
        } else {
            assert_eq!(strip_prefix(&path, prefix), &*path);
        }
    }
    let public = vec!["/public".to_owned()];
    if is_public(&public, &path) {
        assert!(path == "/public" || path.starts_with("/public/"), "{path}");
    }
});
