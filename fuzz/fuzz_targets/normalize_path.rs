//! Fuzzes request-path normalisation: it must never panic, its output must be canonical
//! (normalising it again returns it unchanged, without allocating) and free of `//`, `.`
//! and `..` segments, and it must stay within the length cap.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use portcullis::routing::{normalize_path, MAX_PATH_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
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
