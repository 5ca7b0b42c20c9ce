//! Request-path normalisation: the ONE canonical form of a path that routing, public-path
//! checks and forwarding all use.
//!
//! Owns the rules that decide what a path *means* (percent-decoding of unreserved bytes,
//! dot segments, `//` runs, encoded separators). Must never look at the query string, never
//! decode an encoded `/` or `\` into a separator (whether to do that is
//! `server.escaped_slashes`' decision, made in [`super::escaped`]), never let `..` climb
//! above the root, and never allocate for a path that is already canonical (the hot path).

use std::borrow::Cow;

use super::escaped::separator_escape_len;

/// Longest path (input or output, in bytes) accepted; longer paths are refused with 400.
pub const MAX_PATH_LEN: usize = 8 * 1024;

/// Why a path was refused. Every variant means "malformed request" (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty or does not start with `/`.
    #[error("path does not start with '/'")]
    NotAbsolute,
    /// The path (or its normalised form) is longer than [`MAX_PATH_LEN`].
    #[error("path longer than {MAX_PATH_LEN} bytes")]
    TooLong,
    /// A `%` not followed by two hex digits (`%zz`, `%4`).
    #[error("invalid percent-escape in path")]
    InvalidEscape,
    /// A control character, space or NUL, raw or percent-encoded (`%00`, `%0A`).
    #[error("control character in path")]
    ControlChar,
    /// A raw `\`: some upstreams treat it as a separator, so its meaning is ambiguous.
    #[error("backslash in path")]
    Backslash,
    /// A raw `?` or `#`: the caller passed more than the path component.
    #[error("'?' or '#' in path component")]
    Delimiter,
    /// A dot segment hidden behind an encoded separator (at any depth: `..%252F`) or a
    /// `;` parameter (`..%2Fadmin`, `..;`), which an upstream could resolve differently
    /// from us.
    #[error("ambiguous dot segment in path")]
    AmbiguousDotSegment,
    /// An escaped `/` or `\` (`%2F`, `%5c`, `%252F`) where `server.escaped_slashes`
    /// refuses it.
    #[error("escaped '/' or '\\' in path")]
    EscapedSlash,
}

/// Normalises a request path (no query) into its canonical form.
///
/// - must start with `/`; at most [`MAX_PATH_LEN`] bytes in and out;
/// - percent-encoded unreserved bytes (ALPHA DIGIT `-` `.` `_` `~`) are decoded, every other
///   escape is kept with upper-case hex (`%2f` → `%2F`), raw non-ASCII bytes are encoded;
/// - encoded `/` (`%2F`) and `\` (`%5C`) stay encoded inside their segment;
/// - `//` runs collapse, `.` and `..` resolve per RFC 3986 §5.2.4 (`..` at the root is
///   dropped), a trailing `/` is kept (`/a/.` and `/a/b/..` give `/a/`);
/// - refused: `\`, `?`, `#`, control bytes raw or encoded (`%00`, `%0A`), broken escapes,
///   and dot segments disguised by `%2F`/`%5C` or `;` (see [`PathError`]).
///
/// Returns `Cow::Borrowed` when the input is already canonical.
pub fn normalize_path(raw: &str) -> Result<Cow<'_, str>, PathError> {
    if raw.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_canonical(raw.as_bytes()) {
        return Ok(Cow::Borrowed(raw));
    }
    normalize_slow(raw).map(Cow::Owned)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 `unreserved`: the only bytes whose escapes are decoded, since decoding them
/// never changes a URI's meaning.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes refused when percent-encoded: C0 controls and DEL. Encoded CR/LF/NUL are refused
/// because naive upstreams decode them into header or log injection; `%20` is fine.
fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// Bytes refused raw: controls plus space, which can never appear in a request-target.
fn is_raw_forbidden(b: u8) -> bool {
    is_control(b) || b == b' '
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Value of an upper-case hex digit; lower-case ones are not canonical.
fn upper_hex(b: Option<&u8>) -> Option<u8> {
    b.copied()
        .filter(|b| !b.is_ascii_lowercase())
        .and_then(hex_val)
}

/// `path` with every segment's `;` parameters (also `%3B`) removed, as Servlet
/// containers (Tomcat, Jetty, Spring) read it: `/admin;x/users` is `/admin/users` there.
/// `None` when there are none (no allocation: the usual case).
pub fn without_params(path: &str) -> Option<String> {
    // A parameter anywhere in the path is one in some segment, which then gets cut.
    // (Two memchr scans first: the usual path has neither byte.)
    let has_param = path.contains(';')
        || (path.contains('%') && before_params(path.as_bytes()).len() != path.len());
    if !has_param {
        return None;
    }
    let mut bare = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            bare.push('/');
        }
        let name = before_params(seg.as_bytes());
        // `before_params` cuts at an ASCII byte: still UTF-8.
        bare.push_str(seg.get(..name.len()).unwrap_or(seg));
    }
    Some(bare)
}

/// A segment's name before any `;` parameters (Tomcat-style `..;x` means `..` there).
fn before_params(seg: &[u8]) -> &[u8] {
    // `%3B` too: an upstream that decodes before it strips path parameters reads
    // `..%3B` as `..;`.
    let end = (0..seg.len()).find(|&i| {
        seg[i] == b';'
            || seg
                .get(i..i + 3)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"%3B"))
    });
    match end {
        Some(i) => &seg[..i],
        None => seg,
    }
}

fn is_dot_name(s: &[u8]) -> bool {
    s == b"." || s == b".."
}

/// Conservative check that `normalize_slow` would return `bytes` unchanged; any doubt
/// answers `false` and the slow path decides (and reports errors).
fn is_canonical(bytes: &[u8]) -> bool {
    let mut seg_start = 1;
    // Whether the current segment holds an encoded separator and needs the ambiguity check.
    let mut seg_has_sep = false;
    let mut i = 1;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'/' => {
                if !segment_is_canonical(&bytes[seg_start..i], seg_has_sep) {
                    return false;
                }
                seg_start = i + 1;
                seg_has_sep = false;
                i += 1;
            }
            b'%' => {
                // Only an upper-case escape we would keep as it is can stay on the fast path.
                let (Some(hv), Some(lv)) =
                    (upper_hex(bytes.get(i + 1)), upper_hex(bytes.get(i + 2)))
                else {
                    return false;
                };
                let v = hv << 4 | lv;
                if is_unreserved(v) || is_control(v) {
                    return false;
                }
                // `%25` may start a separator escaped again (`%252F`).
                seg_has_sep |= matches!(v, b'/' | b'\\' | b'%');
                i += 3;
            }
            b'\\' | b'?' | b'#' => return false,
            _ if is_raw_forbidden(b) || !b.is_ascii() => return false,
            _ => i += 1,
        }
    }
    // The last segment may be empty: that is the trailing slash.
    let last = &bytes[seg_start..];
    last.is_empty() || segment_is_canonical(last, seg_has_sep)
}

/// A non-final segment between two `/`: not empty, not a dot segment (plain or with `;`
/// parameters), and free of disguised dot segments when it holds `%2F`/`%5C`.
fn segment_is_canonical(seg: &[u8], has_encoded_sep: bool) -> bool {
    let refused = seg.is_empty()
        || is_dot_name(before_params(seg))
        || (has_encoded_sep && check_ambiguous(seg).is_err());
    !refused
}

/// The full normaliser: one pass that decodes each segment straight into the output and
/// resolves dot segments by truncating it, so no per-segment allocation happens.
fn normalize_slow(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len() + 8);
    let mut i = 1; // past the leading '/', checked by the caller
    let mut trailing_slash;
    loop {
        let seg_out = out.len();
        out.push('/');
        let content = out.len();
        while let Some(&b) = bytes.get(i) {
            if b == b'/' {
                break;
            }
            match b {
                b'%' => {
                    let hv = bytes.get(i + 1).copied().and_then(hex_val);
                    let lv = bytes.get(i + 2).copied().and_then(hex_val);
                    let (Some(hv), Some(lv)) = (hv, lv) else {
                        return Err(PathError::InvalidEscape);
                    };
                    let v = hv << 4 | lv;
                    if is_control(v) {
                        return Err(PathError::ControlChar);
                    }
                    push_byte(&mut out, v, is_unreserved(v));
                    i += 3;
                }
                b'\\' => return Err(PathError::Backslash),
                b'?' | b'#' => return Err(PathError::Delimiter),
                _ if is_raw_forbidden(b) => return Err(PathError::ControlChar),
                // Raw UTF-8 is percent-encoded so `/é` and `/%C3%A9` are the same path.
                _ => {
                    push_byte(&mut out, b, b.is_ascii());
                    i += 1;
                }
            }
        }
        let last = i >= bytes.len();
        let seg = &out.as_bytes()[content..];
        if seg.is_empty() || seg == b"." {
            out.truncate(seg_out);
            trailing_slash = true;
        } else if seg == b".." {
            out.truncate(seg_out);
            // Pop the previous segment; at the root there is none and `..` is dropped.
            let parent = out.rfind('/').unwrap_or(0);
            out.truncate(parent);
            trailing_slash = true;
        } else {
            check_ambiguous(seg)?;
            trailing_slash = false;
        }
        if last {
            break;
        }
        i += 1; // the '/'
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    if out.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    Ok(out)
}

/// Appends `b` literally when `literal` (it is ASCII then), else as `%XX`.
fn push_byte(out: &mut String, b: u8, literal: bool) {
    if literal {
        out.push(char::from(b));
    } else {
        out.push('%');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

/// Refuses a kept segment that some upstream could read as a dot segment: `..;x` (path
/// parameters) or a `.`/`..` piece next to an encoded `/` or `\`, escaped once or more
/// (`..%2Fadmin`, `..%255C`). Legit encoded slashes (`a%2Fb`) pass.
fn check_ambiguous(seg: &[u8]) -> Result<(), PathError> {
    let mut start = 0;
    let mut i = 0;
    let mut split = false;
    while i <= seg.len() {
        let sep_len = seg.get(i..).map_or(0, separator_escape_len);
        let sep = sep_len > 0;
        if sep || i == seg.len() {
            let piece = &seg[start..i];
            let name = before_params(piece);
            // A plain `.`/`..` segment never reaches here (resolved by the caller), so a
            // dot name here always came with a separator or a parameter.
            if is_dot_name(name) && (split || sep || name.len() != piece.len()) {
                return Err(PathError::AmbiguousDotSegment);
            }
            if sep {
                split = true;
                i += sep_len;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
