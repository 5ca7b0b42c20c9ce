//! Route lookup: host + normalised path → index of the configured route.
//!
//! Owns the precedence rules (exact host > wildcard host > any host, then longest
//! segment-bounded path prefix, then file order) and the matching of public paths and
//! `strip_prefix`. Must never be handed an un-normalised path (see
//! [`super::normalize_path`]), never allocate per lookup, and never match a prefix in the
//! middle of a segment (`/api` never matches `/apix`).

use super::escaped::decoded_reading;
use super::path::without_params;
use crate::config::model::{HostMatch, RouteConfig};

/// The host condition of one entry, ordered by precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKey {
    /// Lower-case host, no port, no trailing dot.
    Exact(Box<str>),
    /// Lower-case suffix with its leading dot (`.example.com`).
    Suffix(Box<str>),
    /// No host condition.
    Any,
}

impl HostKey {
    /// Lower sorts first (wins).
    fn class(&self) -> u8 {
        match self {
            HostKey::Exact(_) => 0,
            HostKey::Suffix(_) => 1,
            HostKey::Any => 2,
        }
    }

    fn matches(&self, host: Option<&str>) -> bool {
        match (self, host) {
            (HostKey::Any, _) => true,
            (_, None) => false,
            (HostKey::Exact(want), Some(h)) => h.eq_ignore_ascii_case(want),
            (HostKey::Suffix(suffix), Some(h)) => {
                // Strictly longer, so `*.example.com` never matches `example.com` itself; the
                // suffix carries its dot, so `evilexample.com` never matches either.
                h.len() > suffix.len()
                    && h.get(h.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    host: HostKey,
    prefix: Box<str>,
    index: usize,
}

/// Routes pre-sorted by precedence; [`RouteTable::find`] returns the first entry that
/// matches, which is therefore the most specific one.
///
/// Precedence: routes with an exact host, then wildcard hosts (longer suffix first, so
/// `*.a.example.com` beats `*.example.com`), then host-less routes; inside each class the
/// longest `path_prefix` wins; remaining ties go to the route written first.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    entries: Vec<Entry>,
}

impl RouteTable {
    /// Builds the table; the indices returned by [`find`](Self::find) index `routes`.
    pub fn new(routes: &[RouteConfig]) -> Self {
        let mut entries: Vec<Entry> = routes
            .iter()
            .enumerate()
            .map(|(index, r)| Entry {
                host: match &r.host {
                    None => HostKey::Any,
                    Some(HostMatch::Exact(h)) => {
                        HostKey::Exact(trim_host(h).to_ascii_lowercase().into())
                    }
                    Some(HostMatch::Suffix(s)) => {
                        let s = trim_host(s).trim_start_matches('*');
                        let s = s.strip_prefix('.').unwrap_or(s);
                        HostKey::Suffix(format!(".{}", s.to_ascii_lowercase()).into())
                    }
                },
                prefix: r.path_prefix.as_str().into(),
                index,
            })
            .collect();
        entries.sort_by(|a, b| {
            let suffix_len = |e: &Entry| match &e.host {
                HostKey::Suffix(s) => s.len(),
                _ => 0,
            };
            a.host
                .class()
                .cmp(&b.host.class())
                .then(suffix_len(b).cmp(&suffix_len(a)))
                .then(b.prefix.len().cmp(&a.prefix.len()))
                .then(a.index.cmp(&b.index))
        });
        RouteTable { entries }
    }

    /// Number of routes in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no routes.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Index of the route serving `host` (Host header or URI authority, port and trailing
    /// dot tolerated, any case) and the NORMALISED `path`; `None` means 404.
    ///
    /// A missing or malformed host only matches host-less routes.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<usize> {
        self.find_by(|| host, path)
    }

    /// [`find_by`](Self::find_by), refusing a path that a lenient upstream reads as one
    /// of another route, whichever route is stricter:
    /// - `;` parameters: Servlet containers drop them (`/admin;x/users` is `/admin/users`
    ///   there; Spring Security CVE-2016-9879, Shiro CVE-2020-1957);
    /// - escaped separators kept in the path (`server.escaped_slashes: keep`): WSGI, older
    ///   Go and PHP decode them (`/admin%2Fx` is `/admin/x` there), also both at once.
    ///
    /// A path with neither (`memchr` for `;` and `%`) costs one lookup.
    pub fn find_unambiguous<'h>(
        &self,
        host: impl Fn() -> Option<&'h str>,
        path: &str,
    ) -> Result<Option<usize>, AmbiguousRoute> {
        let found = self.find_by(&host, path);
        let elsewhere = |reading: &str| self.find_by(&host, reading) != found;
        if without_params(path).is_some_and(|bare| elsewhere(&bare)) {
            return Err(AmbiguousRoute::Params);
        }
        match decoded_reading(path) {
            None => Ok(found),
            Some(Ok(decoded))
                if !elsewhere(&decoded)
                    && !without_params(&decoded).is_some_and(|bare| elsewhere(&bare)) =>
            {
                Ok(found)
            }
            Some(_) => Err(AmbiguousRoute::EscapedSlash),
        }
    }

    /// [`find`](Self::find) with the host read (and parsed) only when a route bound to
    /// a host has a prefix that matches: never for a table of host-less routes.
    pub fn find_by<'h>(&self, host: impl FnOnce() -> Option<&'h str>, path: &str) -> Option<usize> {
        let mut host = Some(host);
        let mut parsed = None;
        self.entries
            .iter()
            .find(|e| {
                prefix_matches(&e.prefix, path)
                    && match &e.host {
                        HostKey::Any => true,
                        key => key.matches(*parsed.get_or_insert_with(|| {
                            host.take().and_then(|h| h()).and_then(host_only)
                        })),
                    }
            })
            .map(|e| e.index)
    }
}

/// A path that a lenient upstream reads as one of another route
/// ([`RouteTable::find_unambiguous`]); always a 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmbiguousRoute {
    /// Its `;` parameters would change its route.
    Params,
    /// Its escaped separators, decoded, would change its route.
    EscapedSlash,
}

impl AmbiguousRoute {
    /// The refusal's text for the log (never the client's bytes).
    pub fn why(self) -> &'static str {
        match self {
            AmbiguousRoute::Params => "path parameters would change the route",
            AmbiguousRoute::EscapedSlash => "escaped slashes would change the route",
        }
    }
}

/// Removes one trailing dot (`example.com.` is the same host).
fn trim_host(h: &str) -> &str {
    h.strip_suffix('.').unwrap_or(h)
}

/// The host part of a Host header / authority: port and trailing dot removed; `None` when it
/// is empty or holds bytes no host name has (userinfo `@`, spaces, `/`), so garbage can
/// never match a host-bound route.
pub fn host_only(authority: &str) -> Option<&str> {
    let host = if authority.starts_with('[') {
        // IPv6 literal: keep the brackets, drop what follows `]`.
        let end = authority.find(']')?;
        let (lit, rest) = authority.split_at(end + 1);
        if !(rest.is_empty() || rest.starts_with(':')) {
            return None;
        }
        if !lit[1..end]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        lit
    } else {
        let h = match authority.split_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            Some(_) => return None,
            None => authority,
        };
        let h = trim_host(h);
        if !h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return None;
        }
        h
    };
    (!host.is_empty()).then_some(host)
}

/// Segment-bounded prefix match on a normalised path.
///
/// `/api` matches `/api`, `/api/` and `/api/x`, never `/apix`. A prefix with a trailing
/// slash (`/v1/`) matches everything under `/v1/` and also the bare `/v1`, so the two
/// spellings mean the same thing and a client cannot dodge a `/v1/` rule (or public path)
/// by leaving the slash off. `/` matches every path.
///
/// `;` parameters and escaped separators are part of the segment here (`/admin` matches
/// neither `/admin;x` nor `/admin%2Fx`); [`RouteTable::find_unambiguous`] refuses a path
/// whose parameters or escaped separators would change its route.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    let base = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(base) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether the normalised `path` lies under one of the route's `public_paths` (same
/// segment-bounded rule as route prefixes). Never pass a raw path or one with a query.
pub fn is_public(public_paths: &[String], path: &str) -> bool {
    public_paths.iter().any(|p| prefix_matches(p, path))
}

/// The path to forward when a route has `strip_prefix`: `path` without `prefix`, always
/// starting with `/` (`/api/x` − `/api` = `/x`; `/api` − `/api/` = `/`). Returns `path`
/// unchanged when `prefix` does not match it.
pub fn strip_prefix<'a>(path: &'a str, prefix: &str) -> &'a str {
    let base = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(base) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

#[cfg(test)]
mod tests;
