//! Small value checks shared by the validators: URLs, hosts, paths, HTTP tokens, files,
//! session keys.
//!
//! Each returns `Err(message)` written so that it never echoes the checked value when that
//! value may be a secret (URLs may carry credentials; they are never echoed).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use http::uri::{Authority, Uri};

/// Minimum decoded length of a session key.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

/// An absolute http(s) URL, split into what the validators need.
#[derive(Debug)]
pub(crate) struct HttpUrl {
    pub https: bool,
    pub authority: Authority,
    /// Host without brackets or port, lower-case.
    pub host: String,
    /// Path as written (`/` when absent).
    pub path: String,
    pub has_query: bool,
}

/// Parses an absolute `http://` or `https://` URL with a host and no userinfo/fragment.
pub(crate) fn parse_http_url(s: &str) -> Result<HttpUrl, String> {
    const NOT_URL: &str = "not an absolute http(s) URL";
    let has_scheme = |scheme: &[u8]| {
        s.as_bytes()
            .get(..scheme.len())
            .is_some_and(|b| b.eq_ignore_ascii_case(scheme))
    };
    if !(has_scheme(b"http://") || has_scheme(b"https://")) {
        return Err(NOT_URL.into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{NOT_URL} (contains whitespace)"));
    }
    if s.contains('#') {
        return Err("must not contain a fragment (`#...`)".into());
    }
    let uri: Uri = s.parse().map_err(|_| NOT_URL.to_owned())?;
    let authority = uri.authority().cloned().ok_or_else(|| NOT_URL.to_owned())?;
    if authority.as_str().contains('@') {
        return Err("must not contain credentials (`user:password@`)".into());
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(format!("{NOT_URL} (no host)"));
    }
    Ok(HttpUrl {
        // Schemes are case-insensitive; `HTTPS://` must never be treated as plain http.
        https: uri
            .scheme_str()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https")),
        authority,
        host,
        path: uri.path().to_owned(),
        has_query: uri.query().is_some(),
    })
}

/// Whether `host` (no brackets) is a loopback name or address.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An issuer-like URL: https, or http only for loopback (a development IdP).
pub(crate) fn check_idp_url(s: &str) -> Result<HttpUrl, String> {
    let url = parse_http_url(s)?;
    if !url.https && !is_loopback_host(&url.host) {
        return Err(
            "must use https (plain http is allowed only for loopback hosts such as 127.0.0.1 \
             or localhost)"
                .into(),
        );
    }
    Ok(url)
}

/// An RFC 9110 token (header names, auth schemes, cookie names).
pub(crate) fn is_http_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Names used in metrics labels, realms and references: `[A-Za-z0-9._-]+`.
pub(crate) fn check_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is required".into());
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(format!(
            "`{s}` may contain only letters, digits, `.`, `_` and `-`"
        ));
    }
    Ok(())
}

/// A DNS name or IP literal without port, lower-cased.
pub(crate) fn check_host(s: &str) -> Result<String, String> {
    let host = s.trim().to_ascii_lowercase();
    if host.is_empty() {
        return Err("must not be empty".into());
    }
    if host.starts_with('[') && host.ends_with(']') {
        let inner = &host[1..host.len() - 1];
        return match inner.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(host),
            Err(_) => Err(format!("`{s}` is not a valid IPv6 literal")),
        };
    }
    if host.contains("://") || host.contains('/') {
        return Err(format!(
            "`{s}` must be a host name only, without scheme or path"
        ));
    }
    if host.contains(':') {
        return Err(format!("`{s}` must not include a port"));
    }
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !labels_ok || host.len() > 253 {
        return Err(format!("`{s}` is not a valid host name"));
    }
    Ok(host)
}

/// A domain that is either exact (`example.com`) or a dot-bounded suffix (`.example.com`).
pub(crate) fn check_domain(s: &str) -> Result<String, String> {
    let trimmed = s.trim();
    if trimmed.starts_with("*.") {
        return Err(format!(
            "`{s}`: write `{}` to allow every subdomain",
            &trimmed[1..]
        ));
    }
    match trimmed.strip_prefix('.') {
        Some(rest) => check_host(rest).map(|h| format!(".{h}")),
        None => check_host(trimmed),
    }
}

/// An `allowed_redirect_domains` entry: a [`check_domain`] host, optionally followed by
/// `:<port>` (1–65535) or `:*`; returned lower-cased and trimmed.
pub(crate) fn check_redirect_domain(s: &str) -> Result<String, String> {
    let trimmed = s.trim();
    // An IPv6 literal has colons of its own: the port can only follow its `]`.
    let port_at = match trimmed.rfind(']') {
        Some(close) => trimmed[close..].find(':').map(|i| close + i),
        None => trimmed.rfind(':'),
    };
    let Some(colon) = port_at else {
        return check_domain(trimmed);
    };
    let (host, port) = (&trimmed[..colon], &trimmed[colon + 1..]);
    let port_ok = port == "*"
        || (!port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p != 0));
    if !port_ok {
        return Err(format!(
            "`{s}`: the port must be a number from 1 to 65535, or `*` for any port"
        ));
    }
    check_domain(host).map(|h| format!("{h}:{port}"))
}

/// Normalises an absolute path: resolves `.`/`..` segments and collapses `//`, keeping a
/// trailing `/`. Errors on a missing leading `/`, query, fragment, `%` or whitespace,
/// because a prefix that differs from the request normaliser's output would never match.
pub(crate) fn normalize_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') {
        return Err(format!("`{s}` must start with `/`"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| matches!(c, '?' | '#' | '%') || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "`{}` must not contain `{}` (write the plain, decoded path)",
            s.escape_debug(),
            c.escape_debug()
        ));
    }
    let mut out: Vec<&str> = Vec::new();
    for segment in s.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(format!("`{s}` climbs above the root with `..`"));
                }
            }
            seg => out.push(seg),
        }
    }
    let mut path = String::with_capacity(s.len());
    for seg in &out {
        path.push('/');
        path.push_str(seg);
    }
    let trailing = s.ends_with('/') || s.ends_with("/.") || s.ends_with("/..");
    if trailing || path.is_empty() {
        path.push('/');
    }
    // A prefix must be in the exact form request paths take after normalisation, or it
    // could never match (e.g. raw non-ASCII, which requests carry percent-encoded).
    match crate::urlpath::normalize_path(&path) {
        Ok(n) if n == path => Ok(path),
        _ => Err(format!(
            "`{}` is not a plain ASCII path (use only ASCII letters, digits and `-._~!$&'()*+,;=:@`)",
            s.escape_debug()
        )),
    }
}

/// Resolves a configured file path (relative to the config file's directory when known)
/// and checks that it can be opened for reading now, so mistakes surface at check-config
/// and reload time rather than at the first TLS handshake.
pub(crate) fn readable_file(s: &str, base_dir: Option<&Path>) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let path = PathBuf::from(s);
    let path = match base_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path,
    };
    match std::fs::File::open(&path) {
        Ok(file) => match file.metadata() {
            Ok(meta) if meta.is_dir() => Err(format!("{} is a directory", path.display())),
            _ => Ok(path),
        },
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

const STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a session key written as standard or URL-safe base64, padding optional.
pub(crate) fn decode_base64_key(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    STANDARD_ANY_PAD
        .decode(s)
        .or_else(|_| URL_SAFE_ANY_PAD.decode(s))
        .ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_http_url("https://Api.Example.com:8443/base").unwrap();
        assert!(u.https);
        assert_eq!(u.host, "api.example.com");
        assert_eq!(u.authority.as_str(), "Api.Example.com:8443");
        assert_eq!(u.path, "/base");
        assert!(parse_http_url("ftp://x").is_err());
        assert!(parse_http_url("example.com").is_err());
        assert!(parse_http_url("http://").is_err());
        assert!(!parse_http_url("HTTP://a").unwrap().https);
        assert!(parse_http_url("HTTPS://a").unwrap().https);
        assert!(parse_http_url("http://\u{e9}").is_err());
        let e = parse_http_url("https://user:hunter2@x.com").unwrap_err();
        assert!(!e.contains("hunter2"));
        assert!(parse_http_url("https://x.com/#a").is_err());
        assert!(parse_http_url("https://x.com/a b").is_err());
        assert!(parse_http_url("https://x.com/?q").unwrap().has_query);
        assert!(check_idp_url("http://127.0.0.5:8080").is_ok());
        assert!(check_idp_url("http://[::1]:8080").is_ok());
        assert!(check_idp_url("http://localhost").is_ok());
        assert!(check_idp_url("http://idp.example.com").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(normalize_path("/").unwrap(), "/");
        assert_eq!(normalize_path("/v1/").unwrap(), "/v1/");
        assert_eq!(normalize_path("/v1").unwrap(), "/v1");
        assert_eq!(normalize_path("//a/./b/../c//").unwrap(), "/a/c/");
        assert_eq!(normalize_path("/a/..").unwrap(), "/");
        assert!(normalize_path("v1").is_err());
        assert!(normalize_path("/..").is_err());
        assert!(normalize_path("/a%2fb").is_err());
        assert!(normalize_path("/a?x").is_err());
        assert!(normalize_path("/café").is_err());
        assert!(normalize_path("/a\\b").is_err());
    }

    #[test]
    fn hosts_and_domains() {
        assert_eq!(check_host("API.example.com").unwrap(), "api.example.com");
        assert!(check_host("api.example.com:443").is_err());
        assert!(check_host("https://x").is_err());
        assert!(check_host("a..b").is_err());
        assert_eq!(check_host("[::1]").unwrap(), "[::1]");
        assert_eq!(check_domain(".Example.com").unwrap(), ".example.com");
        assert!(check_domain("*.example.com")
            .unwrap_err()
            .contains("`.example.com`"));
    }

    #[test]
    fn tokens_and_keys() {
        assert!(is_http_token("Bearer"));
        assert!(!is_http_token("Bear er"));
        assert!(!is_http_token(""));
        let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";
        assert_eq!(decode_base64_key(key).unwrap().len(), 32);
        assert_eq!(decode_base64_key(&format!("{key}=")).unwrap().len(), 32);
        assert_eq!(decode_base64_key("-_-_").unwrap().len(), 3);
        assert!(decode_base64_key("not base64!").is_none());
    }
}
