//! Escaped path separators: `%2F` (`/`) and `%5C` (`\`), in any case, also escaped again
//! any number of times (`%252F`, `%25255c`). The gateway's normal form keeps them inside
//! their segment, but WSGI servers, older Go and PHP decode them into separators, so
//! `/admin%2Fx` (route `/`) is `/admin/x` there. This module owns what
//! `server.escaped_slashes` does about it (Envoy's `path_with_escaped_slashes_action`)
//! and the reading such an upstream takes, which [`super::RouteTable::find_unambiguous`]
//! compares routes with. It never decodes anything else and never decodes twice.

use std::borrow::Cow;

use super::path::{normalize_path, PathError};
use crate::config::EscapedSlashes;

/// The path to route on and forward: the normal form of `raw` (see [`normalize_path`])
/// under `mode`.
///
/// - `Reject`: a path holding an escaped separator (any depth) is refused;
/// - `Decode`: `%2F` and `%5C` (any case) become `/` before normalisation, so dot
///   segments and `//` they form are resolved like any others; one escaped again
///   (`%252F`) is refused, since decoding it once would leave an escaped separator for
///   the next decoder;
/// - `Keep`: the normal form as it is; [`super::RouteTable::find_unambiguous`] refuses it
///   when the decoded reading takes another route.
///
/// Borrows `raw` when it is already canonical and holds no `%` (the hot path: no scan
/// beyond [`normalize_path`]'s and one `memchr`).
pub fn request_path(raw: &str, mode: EscapedSlashes) -> Result<Cow<'_, str>, PathError> {
    let path = match mode {
        EscapedSlashes::Decode => match decode_once(raw) {
            Cow::Borrowed(raw) => normalize_path(raw)?,
            Cow::Owned(decoded) => Cow::Owned(normalize_path(&decoded)?.into_owned()),
        },
        EscapedSlashes::Reject | EscapedSlashes::Keep => normalize_path(raw)?,
    };
    if mode != EscapedSlashes::Keep && has_escaped_separator(&path) {
        return Err(PathError::EscapedSlash);
    }
    Ok(path)
}

/// Length of the escaped separator that starts `s` (`%2F` → 3, `%252f` → 5, `%25255C`
/// → 7), 0 when there is none. The hex after `%25` is matched in any case because the
/// normal form keeps it as plain text (`2f` is unreserved), which a second decoder reads.
pub(super) fn separator_escape_len(s: &[u8]) -> usize {
    if s.first() != Some(&b'%') {
        return 0;
    }
    let mut i = 1;
    while s.get(i..i + 2) == Some(b"25") {
        i += 2;
    }
    match s.get(i..i + 2) {
        Some(w) if w.eq_ignore_ascii_case(b"2F") || w.eq_ignore_ascii_case(b"5C") => i + 2,
        _ => 0,
    }
}

/// Whether `path` holds an escaped separator at any depth.
pub fn has_escaped_separator(path: &str) -> bool {
    let bytes = path.as_bytes();
    // One memchr for the usual path without any escape.
    let Some(first) = path.find('%') else {
        return false;
    };
    (first..bytes.len()).any(|i| separator_escape_len(&bytes[i..]) > 0)
}

/// The normal path as an upstream that decodes escaped separators reads it: every one of
/// them (at any depth: the strictest reading) a `/`, then normalised again (`//` and dot
/// segments). `None` when `path` holds none; `Some(Err)` when the reading is no valid
/// path, which the caller treats as ambiguous.
pub(super) fn decoded_reading(path: &str) -> Option<Result<String, PathError>> {
    if !has_escaped_separator(path) {
        return None;
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let len = separator_escape_len(&bytes[i..]);
        if len == 0 {
            i += 1;
            continue;
        }
        // Escapes are ASCII: `i` and `i + len` are char boundaries.
        out.push_str(path.get(copied..i).unwrap_or_default());
        out.push('/');
        i += len;
        copied = i;
    }
    out.push_str(path.get(copied..).unwrap_or_default());
    Some(normalize_path(&out).map(Cow::into_owned))
}

/// `raw` with each `%2F` / `%5C` (any case) replaced by `/`, escape by escape (so
/// `%252F` stays: its escape is `%25`); other bytes, broken escapes included, are left
/// for the normaliser to judge.
fn decode_once(raw: &str) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let is_sep = |i: usize| {
        bytes
            .get(i + 1..i + 3)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"2F") || w.eq_ignore_ascii_case(b"5C"))
    };
    let mut i = match raw.find('%') {
        Some(i) => i,
        None => return Cow::Borrowed(raw),
    };
    let mut out: Option<String> = None;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        if is_sep(i) {
            let o = out.get_or_insert_with(|| String::with_capacity(raw.len()));
            o.push_str(raw.get(copied..i).unwrap_or_default());
            o.push('/');
            copied = i + 3;
        }
        // A whole escape (or what looks like one) is stepped over, never re-read: the
        // `2F` of `%252F` is no escape.
        i += 3;
    }
    match out {
        Some(mut o) => {
            o.push_str(raw.get(copied..).unwrap_or_default());
            Cow::Owned(o)
        }
        None => Cow::Borrowed(raw),
    }
}

#[cfg(test)]
mod tests;
