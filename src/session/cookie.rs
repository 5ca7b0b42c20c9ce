//! Cookie plumbing: the gateway's cookie names, `Set-Cookie` lines, tolerant parsing of
//! incoming `Cookie` headers, and stripping the gateway's own cookies before forwarding.
//!
//! Owns naming (`__Host-` over https, numbered chunks, login attempts) and the cookie
//! attributes. Must never decrypt or interpret values (that is `codec`/`login`), never
//! alter the bytes of an application's cookie, never log a cookie value, and never panic
//! on garbage: parsing is linear and capped at [`MAX_REQUEST_COOKIES`] pairs.

use std::time::Duration;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use super::SessionError;

/// Prefix that makes browsers insist on `Secure`, `Path=/` and no `Domain` (RFC 6265bis).
pub const HOST_PREFIX: &str = "__Host-";
/// At most this many `name=value` pairs are read from a request; the rest are ignored.
pub const MAX_REQUEST_COOKIES: usize = 256;
/// Chunk indices at or above this are never produced, so they are never accepted.
pub const MAX_CHUNK_INDEX: usize = 100;
/// Marks a login-attempt cookie: `<session name>_login_<id>`.
const LOGIN_INFIX: &str = "_login_";

/// What one of the gateway's cookie names denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnCookie<'a> {
    /// The whole (unchunked) session cookie.
    Session,
    /// A numbered session chunk; `None` when the number is not canonical or too large
    /// (such a cookie is never produced, so its presence invalidates the session).
    Chunk(Option<usize>),
    /// A login-attempt cookie with this id.
    Login(&'a str),
}

/// The gateway's cookie names for one configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieNames {
    base: String,
    secure: bool,
    session: String,
}

impl CookieNames {
    /// `base` is `session.cookie_name` (a validated token without prefix); `secure` is
    /// whether the browser reaches the gateway over https.
    pub fn new(base: &str, secure: bool) -> CookieNames {
        let session = if secure {
            format!("{HOST_PREFIX}{base}")
        } else {
            base.to_owned()
        };
        CookieNames {
            base: base.to_owned(),
            secure,
            session,
        }
    }

    /// Whether cookies are marked `Secure` and `__Host-` prefixed.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The configured name without prefix.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The (unchunked) session cookie name, e.g. `__Host-portcullis`.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Name of session chunk `index`, e.g. `__Host-portcullis_1`.
    pub fn chunk(&self, index: usize) -> String {
        chunk_name(&self.session, index)
    }

    /// Name of the login-attempt cookie with `id`, e.g. `__Host-portcullis_login_3f…`.
    pub fn login(&self, id: &str) -> String {
        format!("{}{LOGIN_INFIX}{id}", self.session)
    }

    /// Classifies `name` against this configuration's names.
    pub fn classify<'n>(&self, name: &'n str) -> Option<OwnCookie<'n>> {
        classify(&self.session, name)
    }
}

/// Name of chunk `index` of the session cookie called `session`.
pub fn chunk_name(session: &str, index: usize) -> String {
    format!("{session}_{index}")
}

/// Classifies `name` as one of the cookies derived from the session name `session`.
pub fn classify<'n>(session: &str, name: &'n str) -> Option<OwnCookie<'n>> {
    let rest = name.strip_prefix(session)?;
    if rest.is_empty() {
        return Some(OwnCookie::Session);
    }
    if let Some(id) = rest.strip_prefix(LOGIN_INFIX) {
        return Some(OwnCookie::Login(id));
    }
    let digits = rest.strip_prefix('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Only the canonical spelling we emit counts; `_01` or a huge index is an intruder.
    let canonical = digits == "0" || !digits.starts_with('0');
    let index = digits
        .parse::<usize>()
        .ok()
        .filter(|i| canonical && *i < MAX_CHUNK_INDEX);
    Some(OwnCookie::Chunk(index))
}

/// Whether `name` is one of the gateway's cookies for `base`, in either the https
/// (`__Host-`) or the plain-http spelling: a cookie left over from a dev setup or a
/// scheme change still carries tokens and must not reach the upstream.
pub fn is_own_cookie(base: &str, name: &str) -> bool {
    let plain = classify(base, name).is_some();
    plain
        || name
            .strip_prefix(HOST_PREFIX)
            .is_some_and(|n| classify(base, n).is_some())
}

/// A `Set-Cookie` value carrying `value` for `max_age` (whole seconds).
///
/// Always `Path=/; HttpOnly; SameSite=Lax` (Lax so the top-level redirect back from the
/// provider carries the login cookie); `Secure` when `names.secure()`.
pub fn set_cookie(
    names: &CookieNames,
    name: &str,
    value: &str,
    max_age: Duration,
) -> Result<HeaderValue, SessionError> {
    build(names, name, value, max_age.as_secs())
}

/// A `Set-Cookie` value that makes the browser drop cookie `name` (`Max-Age=0` with the
/// same attributes, which `__Host-` cookies require to be replaced).
pub fn delete_cookie(names: &CookieNames, name: &str) -> Result<HeaderValue, SessionError> {
    build(names, name, "", 0)
}

fn build(
    names: &CookieNames,
    name: &str,
    value: &str,
    max_age: u64,
) -> Result<HeaderValue, SessionError> {
    let secure = if names.secure() { "; Secure" } else { "" };
    let line = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&line).map_err(|_| SessionError::InvalidHeader {
        name: name.to_owned(),
    })
}

/// Deletions for every name in `names_to_delete`; an invalid name (impossible for names
/// taken from a parsed request) is skipped rather than failing a logout.
pub fn delete_cookies<'a>(
    names: &CookieNames,
    names_to_delete: impl IntoIterator<Item = &'a str>,
) -> Vec<HeaderValue> {
    names_to_delete
        .into_iter()
        .filter_map(|n| delete_cookie(names, n).ok())
        .collect()
}

/// The `name=value` pairs of a request's `Cookie` header(s), in order.
///
/// Several `Cookie` headers (HTTP/2 splits them) are read in order. Tolerant: empty
/// segments, segments without `=`, and non-UTF-8 names are skipped; a value in double
/// quotes is unquoted. Bounded: at most [`MAX_REQUEST_COOKIES`] pairs are kept.
///
/// Values are kept as bytes and checked as UTF-8 only when read as text ([`Self::iter`],
/// [`Self::get_all`] skip the others): a session cookie is kilobytes, and its reader
/// ([`Self::iter_raw`]) needs bytes that its own decoding checks anyway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCookies<'a> {
    pairs: Vec<(&'a str, &'a [u8])>,
}

impl<'a> RequestCookies<'a> {
    /// Parses every `Cookie` header of `headers`.
    pub fn from_headers(headers: &'a HeaderMap) -> RequestCookies<'a> {
        RequestCookies::from_values(headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes))
    }

    /// Parses raw `Cookie` header values (each `a=b; c=d`).
    pub fn from_values(values: impl IntoIterator<Item = &'a [u8]>) -> RequestCookies<'a> {
        let mut pairs = Vec::new();
        for value in values {
            for segment in segments(value) {
                if pairs.len() >= MAX_REQUEST_COOKIES {
                    return RequestCookies { pairs };
                }
                if let Some(pair) = parse_pair(segment) {
                    pairs.push(pair);
                }
            }
        }
        RequestCookies { pairs }
    }

    /// Parses one header value given as text (tests, fuzzing).
    pub fn parse(header: &'a str) -> RequestCookies<'a> {
        RequestCookies::from_values([header.as_bytes()])
    }

    /// The pairs whose value is UTF-8, in request order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.pairs
            .iter()
            .filter_map(|&(n, v)| std::str::from_utf8(v).ok().map(|v| (n, v)))
    }

    /// All pairs in request order, values as sent (unquoted).
    pub fn iter_raw(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        self.pairs.iter().copied()
    }

    /// Values of every cookie called `name`, in request order.
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Number of pairs kept.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether no pair was found.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The `;`-separated segments of a `Cookie` value (like `split`, empty ones included).
fn segments(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b';', value).chain(std::iter::once(value.len()));
    std::iter::from_fn(move || {
        let end = ends.next()?;
        let segment = value.get(start..end)?;
        start = end + 1;
        Some(segment)
    })
}

fn parse_pair(segment: &[u8]) -> Option<(&str, &[u8])> {
    let eq = memchr::memchr(b'=', segment)?;
    let name = std::str::from_utf8(trim(&segment[..eq])).ok()?;
    let mut value = trim(&segment[eq + 1..]);
    if value.len() >= 2 && value.starts_with(b"\"") && value.ends_with(b"\"") {
        value = &value[1..value.len() - 1];
    }
    (!name.is_empty()).then_some((name, value))
}

/// Appends a kept cookie (trimmed; empty ones dropped) to a rebuilt `Cookie` value.
fn push_segment(out: &mut Vec<u8>, segment: &[u8]) {
    let segment = trim(segment);
    if segment.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.extend_from_slice(b"; ");
    }
    out.extend_from_slice(segment);
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Removes the gateway's own cookies (session, chunks, login attempts — both the https
/// and plain-http spellings of `base`) from the request's `Cookie` header(s) before it
/// goes upstream.
///
/// A header without own cookies is left exactly as it was. In a header that had some,
/// the remaining segments keep their bytes and are re-joined with `"; "`; a header left
/// empty is removed. Never fails open: if a rewritten header were somehow invalid, it is
/// dropped rather than forwarding gateway tokens.
pub fn strip_own_cookies(headers: &mut HeaderMap, base: &str) {
    let is_own_segment = |segment: &[u8]| {
        let name = match memchr::memchr(b'=', segment) {
            Some(eq) => &segment[..eq],
            None => return false,
        };
        std::str::from_utf8(trim(name)).is_ok_and(|n| is_own_cookie(base, n))
    };
    // One pass over each value (a session cookie is kilobytes): a value is copied only
    // from its first own cookie on, the segments before it rewritten then.
    // Values before the first one with an own cookie are cloned only then.
    let mut rebuilt: Option<Vec<HeaderValue>> = None;
    for (index, value) in headers.get_all(COOKIE).iter().enumerate() {
        let bytes = value.as_bytes();
        let mut out: Option<Vec<u8>> = None;
        let mut before = 0;
        for segment in segments(bytes) {
            let own = is_own_segment(segment);
            let out = match (&mut out, own) {
                (Some(out), _) => out,
                (None, false) => {
                    before += 1;
                    continue;
                }
                (None, true) => {
                    // Grown by what is kept: a value of only own cookies (the session
                    // cookie alone, kilobytes) allocates nothing.
                    let mut fresh = Vec::new();
                    for kept in segments(bytes).take(before) {
                        push_segment(&mut fresh, kept);
                    }
                    out.insert(fresh)
                }
            };
            if !own {
                push_segment(out, segment);
            }
        }
        match (out, &mut rebuilt) {
            (None, None) => {}
            (None, Some(rebuilt)) => rebuilt.push(value.clone()),
            (Some(out), rebuilt) => {
                let rebuilt = rebuilt.get_or_insert_with(|| {
                    headers
                        .get_all(COOKIE)
                        .iter()
                        .take(index)
                        .cloned()
                        .collect()
                });
                if !out.is_empty() {
                    if let Ok(v) = HeaderValue::from_bytes(&out) {
                        rebuilt.push(v);
                    }
                }
            }
        }
    }
    let Some(rebuilt) = rebuilt else {
        return;
    };
    headers.remove(COOKIE);
    for v in rebuilt {
        headers.append(COOKIE, v);
    }
}

mod guard;
pub use guard::sets_own_cookie;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
