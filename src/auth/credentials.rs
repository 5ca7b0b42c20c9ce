//! The presented credential: parsing `Authorization: <scheme> <token>` against a
//! provider's accepted schemes, the byte classes a token is checked against, and the
//! token's fingerprint (SHA-256): the only form in which a token may appear in logs.
//!
//! Zero-copy: parsing returns slices of the header. Must never log, store or echo a raw
//! token, and never panics on hostile input.

use std::fmt;

use aws_lc_rs::digest;
use http::header::AUTHORIZATION;
use http::HeaderMap;

use super::AuthError;

/// A parsed `Authorization` header, borrowing from the request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The scheme as the client wrote it (e.g. `Bearer`, `token`).
    pub scheme: &'a str,
    /// The token68 value.
    pub token: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field("token", &TokenHash::of(self.token))
            .finish()
    }
}

/// Extracts the token from the request's `Authorization` header for a provider accepting
/// `schemes` (lower-case, as the validated config stores them).
///
/// - no header → [`AuthError::Missing`];
/// - two or more headers, a non-ASCII value, an empty token or a token outside the token68
///   alphabet → [`AuthError::Malformed`];
/// - a scheme the provider does not accept (e.g. `Basic` on a Bearer route) →
///   [`AuthError::Missing`]: for this route the client presented no usable credentials, and
///   RFC 6750 §3.1 answers that with a bare 401 challenge naming the schemes we do accept.
pub fn from_headers<'a>(
    headers: &'a HeaderMap,
    schemes: &[String],
) -> Result<Credentials<'a>, AuthError> {
    presented(headers, schemes)?.check()
}

/// A token as presented in the `Authorization` header, its scheme accepted, the token
/// itself not checked yet ([`Presented::check`]).
#[derive(Clone, Copy)]
pub struct Presented<'a> {
    scheme: &'a str,
    token: &'a [u8],
}

impl fmt::Debug for Presented<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl<'a> Presented<'a> {
    /// The scheme as the client wrote it (one of the accepted ones).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// The token's bytes, unchecked: fit only to look up tokens verified before (a token
    /// byte-equal to one of those passed every check then).
    pub fn token(&self) -> &'a [u8] {
        self.token
    }

    /// The checks [`from_headers`] makes on the token: visible ASCII, then token68.
    pub fn check(self) -> Result<Credentials<'a>, AuthError> {
        // One scan when the token is good: token68 is visible ASCII. The visible-ASCII
        // scan only picks the message of a refusal.
        if !is_token68_bytes(self.token) {
            return Err(if all_bytes(self.token, is_visible_ascii) {
                AuthError::Malformed("token has characters outside token68")
            } else {
                NOT_VISIBLE
            });
        }
        let token = std::str::from_utf8(self.token).map_err(|_| NOT_VISIBLE)?;
        Ok(Credentials {
            scheme: self.scheme,
            token,
        })
    }
}

const NOT_VISIBLE: AuthError = AuthError::Malformed("Authorization header is not visible ASCII");

/// The header split as [`parse`] splits it, every refusal of [`from_headers`] made except
/// those about the token's own bytes ([`Presented::check`]), in the same order: a value
/// that is not visible ASCII is refused before its scheme is weighed, wherever the
/// offending byte is.
pub fn presented<'a>(
    headers: &'a HeaderMap,
    schemes: &[String],
) -> Result<Presented<'a>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::Missing);
    };
    if values.next().is_some() {
        return Err(AuthError::Malformed("more than one Authorization header"));
    }
    let value = trim_sp_tab(value.as_bytes());
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], &value[i + 1..]),
        None => (value, &[][..]),
    };
    // Short: checked here whatever the outcome. The rest only when refusing now, else
    // with the token (the rest is spaces, then the token).
    if !all_bytes(scheme, is_visible_ascii) {
        return Err(NOT_VISIBLE);
    }
    let scheme = std::str::from_utf8(scheme).map_err(|_| NOT_VISIBLE)?;
    let visible_rest = || all_bytes(rest, is_visible_ascii);
    if scheme.is_empty() {
        return Err(AuthError::Malformed("empty Authorization header"));
    }
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(if visible_rest() {
            AuthError::Missing
        } else {
            NOT_VISIBLE
        });
    }
    // RFC 7235 allows 1*SP between scheme and credentials.
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let token = &rest[start..];
    if token.is_empty() {
        return Err(AuthError::Malformed("empty token"));
    }
    Ok(Presented { scheme, token })
}

/// `b` without SP and HTAB at both ends (what [`parse`] trims).
fn trim_sp_tab(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| *c == b' ' || *c == b'\t';
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// Parses one `Authorization` value; see [`from_headers`] for the outcomes.
pub fn parse<'a>(value: &'a str, schemes: &[String]) -> Result<Credentials<'a>, AuthError> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, rest),
        None => (value, ""),
    };
    if scheme.is_empty() {
        return Err(AuthError::Malformed("empty Authorization header"));
    }
    if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(AuthError::Missing);
    }
    // RFC 7235 allows 1*SP between scheme and credentials.
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(AuthError::Malformed("empty token"));
    }
    if !is_token68(token) {
        return Err(AuthError::Malformed("token has characters outside token68"));
    }
    Ok(Credentials { scheme, token })
}

/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 7235 §2.1).
pub fn is_token68(s: &str) -> bool {
    is_token68_bytes(s.as_bytes())
}

fn is_token68_bytes(s: &[u8]) -> bool {
    let body_len = s.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    body_len > 0 && all_bytes(&s[..body_len], is_token68_byte)
}

/// Whether every byte of `s` satisfies `ok`. A branch-free fold over 32-byte blocks,
/// which the compiler vectorises: a token (often 1 kB or more) is checked on every
/// request, and a byte-at-a-time loop with an early exit cost ~7 instructions a byte.
#[inline]
pub fn all_bytes(s: &[u8], ok: impl Fn(u8) -> bool) -> bool {
    let mut blocks = s.chunks_exact(32);
    for block in &mut blocks {
        if !block.iter().fold(true, |all, &b| all & ok(b)) {
            return false;
        }
    }
    blocks.remainder().iter().all(|&b| ok(b))
}

#[inline]
fn is_alnum(b: u8) -> bool {
    (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 26)
}

/// A token68 byte other than the `=` padding: ALPHA / DIGIT / `-._~+/`.
#[inline]
pub fn is_token68_byte(b: u8) -> bool {
    is_alnum(b) | (b == b'-') | (b == b'.') | (b == b'_') | (b == b'~') | (b == b'+') | (b == b'/')
}

/// A base64url byte (RFC 4648 §5): ALPHA / DIGIT / `-_`.
#[inline]
pub fn is_base64url_byte(b: u8) -> bool {
    is_alnum(b) | (b == b'-') | (b == b'_')
}

/// Visible ASCII or a tab: what `HeaderValue::to_str` accepts.
#[inline]
fn is_visible_ascii(b: u8) -> bool {
    (b == b'\t') | (b.wrapping_sub(0x20) < 0x5f)
}

/// SHA-256 of a token: the cache key of userinfo answers and refresh results, and
/// (shortened) the only way a token shows up in logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes `token`.
    pub fn of(token: &str) -> TokenHash {
        let d = digest::digest(&digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        TokenHash(out)
    }

    /// A short hex prefix for log lines (8 bytes: enough to correlate, useless to replay).
    pub fn short(&self) -> ShortHash<'_> {
        ShortHash(&self.0[..8])
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.short())
    }
}

/// Display adaptor printing a hash prefix as lower-case hex without allocating.
pub struct ShortHash<'a>(&'a [u8]);

impl fmt::Display for ShortHash<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
