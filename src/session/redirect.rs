//! The open-redirect guard for `rd` (after login and after logout).
//!
//! Owns deciding whether a user-supplied return target is a same-site relative path, an
//! absolute URL on the public origin, or an absolute URL on an `allowed_redirect_domains`
//! entry, and the form the browser is then sent to. Must never return anything it has
//! not fully validated and never panic: this is a hand-written, deliberately strict
//! parser with no URL crate's leniency.
//!
//! The path is judged as the browser will resolve it: dot segments are removed first
//! (RFC 3986 §5.2.4, with `%2e` counting as `.` as browsers count it), and a path whose
//! resolved form starts with `//` or `/\` is refused, because browsers and app
//! frameworks turn it into a protocol-relative URL (`/app/..//evil.com`). The resolved
//! path is judged again as a framework that percent-decodes it reads it (`%2F` and
//! `%5C` as separators, then dot segments again). The value returned is the resolved
//! form, never the raw one: what the gateway stores and redirects to, and what the
//! browser then requests, is exactly what was judged.
//!
//! Allowed-domain semantics (as in CONFIG.md): `.example.com` matches sub-domains only
//! (`a.example.com`, `a.b.example.com`, not `example.com` itself); `example.com` matches
//! exactly that host; either scheme. Ports (like oauth2-proxy's whitelist): an entry
//! without a port matches only on the default port of the target's scheme or on the
//! public URL's port; `.example.com:8443` only on port 8443; `.example.com:*` on any
//! port. The public origin must match in scheme, host and (default-normalised) port.

/// Longer `rd` values are refused outright (they also would not fit a login cookie).
pub const MAX_REDIRECT_LEN: usize = 2048;

/// Returns where to send the browser for `rd` when it is a safe place, else `None` (the
/// caller falls back to `/`).
///
/// Accepted: a path starting with `/` (with query and fragment), or
/// `http(s)://host[:port][/…|?…|#…]` without user-info whose origin is `public_origin`
/// (`scheme://host[:port]`) or whose host and port match `allowed_domains`; in both, a
/// path whose resolved form (dot segments removed), decoded once (and once more with
/// `\` as `/` and dot segments removed again), is `/` or `/` followed by anything but
/// `/`, `\` or a space. The result is `rd` with its path's dot segments removed.
/// Refused as well: anything over [`MAX_REDIRECT_LEN`], any byte outside printable
/// ASCII (controls, tabs and newlines that browsers strip, whitespace, non-ASCII/IDN
/// hosts), any `\`, `"`, `<` or `>`, a malformed or control-character percent-escape,
/// and every other scheme.
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
        return resolve_reference(rd);
    }
    let target = Origin::parse(rd)?;
    let public = public_origin.and_then(Origin::parse);
    let on_public = public.as_ref().is_some_and(|o| *o == target);
    let public_port = public.as_ref().map(|o| o.port);
    let on_allowed = allowed_domains
        .iter()
        .any(|d| domain_matches(&target, d, public_port));
    if !(on_public || on_allowed) {
        return None;
    }
    // `Origin::parse` found `://`; the path (if any) starts at the authority's end.
    let authority_start = rd.find("://")? + 3;
    let path_start = rd[authority_start..]
        .find(['/', '?', '#'])
        .map_or(rd.len(), |i| authority_start + i);
    let (head, reference) = rd.split_at(path_start);
    if reference.starts_with('/') {
        resolve_reference(reference).map(|r| format!("{head}{r}"))
    } else {
        Some(rd.to_owned())
    }
}

/// `path[?query][#fragment]` (path starting with `/`) with the path's dot segments
/// removed as a browser removes them, or `None` when that path, as is or as a
/// percent-decoding framework reads it, starts an authority.
fn resolve_reference(reference: &str) -> Option<String> {
    let end = reference.find(['?', '#']).unwrap_or(reference.len());
    let (path, rest) = reference.split_at(end);
    let resolved = remove_dot_segments(path.as_bytes(), browser_dot);
    // The browser requests the resolved path; a framework behind it may decode it once.
    let mut decoded = percent_decode_bytes(&resolved)?;
    if !path_is_safe(&decoded) {
        return None;
    }
    // One that decodes before resolving sees `%2F`/`%5C` as separators and `%2e` as
    // `.`; those bytes may be anything, so this reading is judged, never returned.
    for b in &mut decoded {
        if *b == b'\\' {
            *b = b'/';
        }
    }
    if !path_is_safe(&remove_dot_segments(&decoded, plain_dot)) {
        return None;
    }
    // Only whole ASCII segments were dropped from an ASCII path.
    let resolved = String::from_utf8(resolved).ok()?;
    Some(format!("{resolved}{rest}"))
}

/// `/` alone, or `/` followed by a character that cannot start an authority or a
/// browser-normalised `//`.
fn path_is_safe(path: &[u8]) -> bool {
    match path {
        [b'/'] => true,
        [b'/', second, ..] => !matches!(second, b'/' | b'\\' | b' '),
        _ => false,
    }
}

/// What a path segment means to dot-segment removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dot {
    /// An ordinary segment.
    No,
    /// `.`: dropped.
    One,
    /// `..`: drops itself and the segment before it.
    Two,
}

/// Dot segments as the WHATWG URL parser knows them: `%2e` (any case) is a `.`.
fn browser_dot(segment: &[u8]) -> Dot {
    let is = |s: &[u8], spellings: &[&[u8]]| spellings.iter().any(|d| s.eq_ignore_ascii_case(d));
    if is(segment, &[b".", b"%2e"]) {
        Dot::One
    } else if is(segment, &[b"..", b".%2e", b"%2e.", b"%2e%2e"]) {
        Dot::Two
    } else {
        Dot::No
    }
}

/// Dot segments of an already decoded path.
fn plain_dot(segment: &[u8]) -> Dot {
    match segment {
        b"." => Dot::One,
        b".." => Dot::Two,
        _ => Dot::No,
    }
}

/// RFC 3986 §5.2.4 on an absolute path (starting with `/`): a `.` or `..` in last
/// position leaves a trailing `/`, and `..` at the root stays at the root.
fn remove_dot_segments(path: &[u8], dot: fn(&[u8]) -> Dot) -> Vec<u8> {
    let segments: Vec<&[u8]> = path
        .strip_prefix(b"/")
        .unwrap_or(path)
        .split(|b| *b == b'/')
        .collect();
    let last = segments.len().saturating_sub(1);
    let mut kept: Vec<&[u8]> = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        let kind = dot(segment);
        match kind {
            Dot::No => kept.push(segment),
            Dot::One => {}
            Dot::Two => {
                kept.pop();
            }
        }
        if i == last && kind != Dot::No {
            kept.push(b"");
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for segment in kept {
        out.push(b'/');
        out.extend_from_slice(segment);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Decodes `%XX` escapes once; `None` on a malformed escape.
fn percent_decode_once(s: &str) -> Option<Vec<u8>> {
    percent_decode_bytes(s.as_bytes())
}

/// [`percent_decode_once`] on bytes.
fn percent_decode_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
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

/// Which ports an `allowed_redirect_domains` entry admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRule {
    /// No port named: the default port of the target's scheme, or the public URL's.
    Default,
    /// `host:8443`: exactly this port.
    Exactly(u16),
    /// `host:*`: any port.
    Any,
}

/// Splits an `allowed_redirect_domains` entry into its host part (`.example.com`,
/// `example.com`, `[::1]`) and port rule; `None` when the port is neither a number in
/// 1..=65535 nor `*` (such an entry matches nothing; validation refuses it at load).
pub fn split_domain_entry(entry: &str) -> Option<(&str, PortRule)> {
    let entry = entry.trim();
    // An IPv6 literal has colons of its own: the port can only follow its `]`.
    let port_at = match entry.rfind(']') {
        Some(close) => entry[close..].find(':').map(|i| close + i),
        None => entry.rfind(':'),
    };
    let Some(colon) = port_at else {
        return Some((entry, PortRule::Default));
    };
    let (host, port) = (&entry[..colon], &entry[colon + 1..]);
    let rule = match port {
        "*" => PortRule::Any,
        p => PortRule::Exactly(parse_port(p)?),
    };
    Some((host, rule))
}

/// Whether `target` matches `entry`: `.example.com` = strict sub-domains, anything else
/// = exact host (case-insensitive); then the entry's [`PortRule`], where `public_port`
/// is the public URL's effective port.
fn domain_matches(target: &Origin, entry: &str, public_port: Option<u16>) -> bool {
    let Some((entry, rule)) = split_domain_entry(entry) else {
        return false;
    };
    let host = target.host.as_str();
    let host_ok = if entry.len() > 1 && entry.starts_with('.') {
        host.len() > entry.len()
            && host
                .get(host.len() - entry.len()..)
                .is_some_and(|suffix| suffix.eq_ignore_ascii_case(entry))
    } else {
        !entry.is_empty() && host.eq_ignore_ascii_case(entry)
    };
    let default_port = if target.https { 443 } else { 80 };
    host_ok
        && match rule {
            PortRule::Any => true,
            PortRule::Exactly(port) => target.port == port,
            PortRule::Default => target.port == default_port || Some(target.port) == public_port,
        }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
