//! The open-redirect guard for `rd` (after login and after logout).
//!
//! Owns deciding whether a user-supplied return target is a same-site relative path, an
//! absolute URL on the public origin, or an absolute URL on an `allowed_redirect_domains`
//! entry. Must never return anything it has not fully validated, never return a rewritten
//! value (the caller gets the original string or `None`), and never panic: this is a
//! hand-written, deliberately strict parser with no URL crate's leniency.
//!
//! Allowed-domain semantics (as in CONFIG.md): `.example.com` matches sub-domains only
//! (`a.example.com`, `a.b.example.com`, not `example.com` itself); `example.com` matches
//! exactly that host. Any port and either scheme is accepted for an allowed domain; the
//! public origin must match in scheme, host and (default-normalised) port.

/// Longer `rd` values are refused outright (they also would not fit a login cookie).
pub const MAX_REDIRECT_LEN: usize = 2048;

/// Returns `rd` when it is a safe place to send the browser, else `None` (the caller
/// falls back to `/`).
///
/// Accepted: `/` or a path starting with `/` followed by anything but `/`, `\` or a space
/// (checked after decoding percent-escapes once, so `/%2F%2Fevil.com` counts as
/// `//evil.com`); or `http(s)://host[:port][/…|?…|#…]` without user-info whose origin is
/// `public_origin` (`scheme://host[:port]`) or whose host matches `allowed_domains`.
/// Refused as well: anything over [`MAX_REDIRECT_LEN`], any byte outside printable
/// ASCII (controls, whitespace, non-ASCII/IDN hosts), any `\`, `"`, `<` or `>`, a
/// malformed or control-character percent-escape, and every other scheme.
pub fn safe_redirect(
    rd: &str,
    public_origin: Option<&str>,
    allowed_domains: &[String],
) -> Option<String> {
    if rd.is_empty() || rd.len() > MAX_REDIRECT_LEN {
        return None;
    }
    // Browsers strip tabs/newlines and turn `\` into `/` in special URLs; refusing them
    // outright removes that whole class of parser differentials. `"`, `<`, `>` never
    // appear raw in a browser-serialised URL; refusing them keeps the value inert if a
    // page ever embeds it, and keeps its JSON form (login cookie) free of escapes.
    if !rd
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'\\' | b'"' | b'<' | b'>'))
    {
        return None;
    }
    let decoded = percent_decode_once(rd)?;
    if decoded.iter().any(|b| b.is_ascii_control()) {
        return None;
    }
    if rd.starts_with('/') {
        return relative_is_safe(&decoded).then(|| rd.to_owned());
    }
    let target = Origin::parse(rd)?;
    let on_public = public_origin
        .and_then(Origin::parse)
        .is_some_and(|o| o == target);
    let on_allowed = allowed_domains
        .iter()
        .any(|d| domain_matches(&target.host, d));
    (on_public || on_allowed).then(|| rd.to_owned())
}

/// `/` alone, or `/` followed by a character that cannot start an authority or a
/// browser-normalised `//`.
fn relative_is_safe(decoded: &[u8]) -> bool {
    match decoded {
        [b'/'] => true,
        [b'/', second, ..] => !matches!(second, b'/' | b'\\' | b' '),
        _ => false,
    }
}

/// Decodes `%XX` escapes once; `None` on a malformed escape.
fn percent_decode_once(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Scheme, lower-cased host and effective port of an absolute http(s) URL.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `http(s)://authority[/?#…]`. Exactly `://` must follow the scheme (so
    /// `https:evil.com` and `https:/evil.com` fail); the authority ends at the first `/`,
    /// `?` or `#` and must not hold `@` (user-info) or `%`.
    fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.split_once("://")?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return None;
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.contains(['@', '%', '\\']) {
            return None;
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => parse_port(p)?,
        };
        Some(Origin {
            https,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

/// Splits `host[:port]` / `[v6][:port]`, validating the host's shape.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, rest) = authority.split_at(close + 1);
        let inner = &host[1..host.len() - 1];
        let v6_ok = !inner.is_empty()
            && inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !v6_ok {
            return None;
        }
        return match rest {
            "" => Some((host, None)),
            _ => Some((host, Some(rest.strip_prefix(':')?))),
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    is_dns_name(host).then_some((host, port))
}

/// LDH labels of 1–63 characters (no leading/trailing `-`), no empty label, ≤ 253 in
/// total. IDN hosts must arrive as punycode and then match an entry exactly.
fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// 1–5 digits, 1..=65535.
fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|p| *p != 0)
}

/// `.example.com` = strict sub-domains; anything else = exact host (case-insensitive).
fn domain_matches(host: &str, entry: &str) -> bool {
    let entry = entry.trim();
    if entry.len() > 1 && entry.starts_with('.') {
        host.len() > entry.len()
            && host
                .get(host.len() - entry.len()..)
                .is_some_and(|suffix| suffix.eq_ignore_ascii_case(entry))
    } else {
        !entry.is_empty() && host.eq_ignore_ascii_case(entry)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
