//! URL helpers for the browser: resolving `Location` references, origins, paths, query
//! parameters and percent-encoding.

/// Whether a browser following `url` stays on this machine (127.0.0.1 or localhost).
pub(super) fn is_local(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|r| {
        let authority = r.split(['/', '?', '#']).next().unwrap_or_default();
        !authority.contains('@')
            && (authority.starts_with("127.0.0.1:") || authority.starts_with("localhost:"))
    })
}

/// RFC 6265 path-match.
pub(super) fn path_matches(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request[cookie.len()..].starts_with('/')))
}

/// The path of an absolute URL (without query).
pub fn path_of(url: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    let p = after.find('/').map_or("/", |i| &after[i..]);
    p.split(['?', '#']).next().unwrap_or("/").to_owned()
}

/// The origin (`scheme://authority`) of an absolute URL.
pub fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            format!("{scheme}://{authority}")
        }
        None => String::new(),
    }
}

/// Resolves a `Location` against `base` (absolute, scheme-relative, absolute-path or
/// relative-path references).
pub fn resolve(base: &str, location: &str) -> String {
    let scheme = location.split(':').next().unwrap_or_default();
    let has_scheme = location.contains(':')
        && !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if has_scheme && !location.starts_with('/') {
        return location.to_owned();
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split_once("://").map_or("http", |(s, _)| s);
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{}{location}", origin_of(base));
    }
    let dir = path_of(base);
    let dir = &dir[..=dir.rfind('/').unwrap_or(0)];
    format!("{}{dir}{location}", origin_of(base))
}

/// The decoded query parameters of a URL.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    let q = q.split('#').next().unwrap_or_default();
    crate::support::fake_idp::Params::parse(q.as_bytes()).0
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for query values).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
