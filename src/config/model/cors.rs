//! `routes[].cors`: a route's validated CORS policy and the one rule that says whether a
//! request's `Origin` is allowed.
//!
//! Origins are compared with the serialisation browsers send (lower-case scheme and host,
//! no default port, no path); a value in any other form never matches. Nothing here ever
//! allows an origin it has not matched: with credentials there is no wildcard at all.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};

/// `routes[].cors`, validated, with its response field values rendered once.
#[derive(Debug, Clone)]
pub struct CorsConfig {
    /// Which origins may read the route's responses.
    pub origins: AllowedOrigins,
    /// Methods a preflight may ask for (upper-case, as written).
    pub allow_methods: Vec<Method>,
    /// Request header names a preflight may ask for.
    pub allow_headers: AllowedHeaders,
    /// Response header names the page's script may read (lower-case; `*` = all, only
    /// without credentials).
    pub expose_headers: Vec<String>,
    /// `Access-Control-Allow-Credentials: true` (cookies, HTTP auth, client certificates).
    pub allow_credentials: bool,
    /// How long a browser may cache a preflight answer; `None` = no `Max-Age` (browsers
    /// then keep it 5 s).
    pub max_age: Option<Duration>,
    /// Answer Private Network Access preflights (`Access-Control-Request-Private-Network`)
    /// with `Access-Control-Allow-Private-Network: true`; otherwise they are refused.
    pub allow_private_network: bool,
    /// `Access-Control-Allow-Methods`, rendered.
    pub methods_value: HeaderValue,
    /// `Access-Control-Expose-Headers`, rendered (`None` when empty).
    pub expose_value: Option<HeaderValue>,
    /// `Access-Control-Max-Age` in seconds, rendered.
    pub max_age_value: Option<HeaderValue>,
}

/// `allow_origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// `*`: every origin, answered with `Access-Control-Allow-Origin: *` (never together
    /// with credentials: validation refuses that).
    Any,
    /// Exact origins and `scheme://*.domain[:port]` patterns.
    List {
        /// Serialised origins (`https://app.example.com`, `http://127.0.0.1:8080`).
        exact: Vec<String>,
        /// One-label wildcard patterns.
        patterns: Vec<OriginPattern>,
    },
}

/// `https://*.example.com[:port]`: any ONE DNS label in place of `*` (like a TLS wildcard
/// certificate), never the bare `https://example.com`, never deeper names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    /// `http` or `https`.
    pub scheme: String,
    /// `.example.com` (lower-case, leading dot).
    pub suffix: String,
    /// The port as written (`None`: the scheme's default port, which browsers omit).
    pub port: Option<u16>,
}

/// `allow_headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHeaders {
    /// `*`: every requested name is allowed and named back one by one (so it also
    /// covers `Authorization` and works with credentials).
    Any,
    /// These names only (case-insensitive).
    List(Vec<HeaderName>),
}

impl CorsConfig {
    /// Whether `origin` (an `Origin` field value) may read this route's responses.
    pub fn allows_origin(&self, origin: &[u8]) -> bool {
        match &self.origins {
            AllowedOrigins::Any => true,
            AllowedOrigins::List { exact, patterns } => {
                exact.iter().any(|e| e.as_bytes() == origin)
                    || (!patterns.is_empty() && patterns.iter().any(|p| p.matches(origin)))
            }
        }
    }

    /// The `Access-Control-Allow-Origin` value for an allowed `origin`: `*` for
    /// `allow_origins: ["*"]`, else the origin itself.
    pub fn allow_origin_value(&self, origin: &HeaderValue) -> HeaderValue {
        match self.origins {
            AllowedOrigins::Any => HeaderValue::from_static("*"),
            AllowedOrigins::List { .. } => origin.clone(),
        }
    }

    /// Whether a preflight may ask for `method` (compared case-sensitively, as RFC 9110
    /// methods are; browsers upper-case the standard ones).
    pub fn allows_method(&self, method: &[u8]) -> bool {
        self.allow_methods
            .iter()
            .any(|m| m.as_str().as_bytes() == method)
    }

    /// Whether a preflight may ask for header `name` (any case).
    pub fn allows_header(&self, name: &str) -> bool {
        match &self.allow_headers {
            AllowedHeaders::Any => true,
            AllowedHeaders::List(names) => {
                names.iter().any(|n| n.as_str().eq_ignore_ascii_case(name))
            }
        }
    }
}

impl OriginPattern {
    /// Whether a serialised origin matches: same scheme and port, and a host that is
    /// exactly one label followed by the suffix.
    pub fn matches(&self, origin: &[u8]) -> bool {
        let Ok(origin) = std::str::from_utf8(origin) else {
            return false;
        };
        let Some(rest) = origin
            .strip_prefix(self.scheme.as_str())
            .and_then(|r| r.strip_prefix("://"))
        else {
            return false;
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => match parse_port(port) {
                Some(p) => (host, Some(p)),
                None => return false,
            },
            None => (rest, None),
        };
        if port != self.port {
            return false;
        }
        let Some(label) = host.strip_suffix(self.suffix.as_str()) else {
            return false;
        };
        is_dns_label(label)
    }
}

/// A port as browsers serialise it: 1–65535, digits only, no leading zero.
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

/// One lower-case DNS label (letters, digits, inner hyphens), at most 63 bytes.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(scheme: &str, suffix: &str, port: Option<u16>) -> OriginPattern {
        OriginPattern {
            scheme: scheme.into(),
            suffix: suffix.into(),
            port,
        }
    }

    #[test]
    fn patterns_match_one_label_only() {
        let p = pattern("https", ".example.com", None);
        assert!(p.matches(b"https://app.example.com"));
        assert!(p.matches(b"https://a-1.example.com"));
        for no in [
            "https://example.com",
            "https://.example.com",
            "https://a.b.example.com",
            "http://app.example.com",
            "https://app.example.com:443",
            "https://app.example.com:8443",
            "https://app.example.com.evil.net",
            "https://appexample.com",
            "https://APP.example.com",
            "https://-a.example.com",
            "https://app.example.com/",
            "null",
            "",
        ] {
            assert!(!p.matches(no.as_bytes()), "{no}");
        }
        let p = pattern("http", ".localhost", Some(8080));
        assert!(p.matches(b"http://spa.localhost:8080"));
        assert!(!p.matches(b"http://spa.localhost"));
        assert!(!p.matches(b"http://spa.localhost:08080"));
        assert!(!p.matches(b"http://localhost:8080"));
        assert!(!p.matches(b"\xff"));
    }

    #[test]
    fn ports_and_labels() {
        assert_eq!(parse_port("8080"), Some(8080));
        for bad in ["", "0", "080", "65536", "+1", "1a"] {
            assert_eq!(parse_port(bad), None, "{bad}");
        }
        assert!(is_dns_label("a"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(!is_dns_label("a_b"));
    }
}
