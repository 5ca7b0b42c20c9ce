//! Validation of a route's `match.host`, `upstream` URL and `upstream_tls`. Never echoes
//! an upstream URL (it may carry credentials).

use super::checks;
use super::model::{HostMatch, Upstream, UpstreamTls};
use super::raw::RawUpstreamTls;
use super::validate::Ctx;

/// `api.example.com` (exact) or `*.example.com` (stored as `.example.com`).
pub(super) fn host_match(s: &str) -> Result<HostMatch, String> {
    let s = s.trim();
    if s == "*" {
        return Err("`*` would match every host; leave match.host out instead".into());
    }
    if let Some(rest) = s.strip_prefix("*.") {
        return checks::check_host(rest).map(|h| HostMatch::Suffix(format!(".{h}")));
    }
    if s.contains('*') {
        return Err(format!(
            "`{s}`: a wildcard is allowed only as a leading `*.`, e.g. `*.example.com`"
        ));
    }
    checks::check_host(s).map(HostMatch::Exact)
}

pub(super) fn upstream(cx: &mut Ctx<'_>, path: &str, s: &str) -> Upstream {
    let fallback = |s: &str| Upstream {
        url: s.to_owned(),
        https: false,
        h2c: false,
        authority: http::uri::Authority::from_static("invalid"),
        base_path: String::new(),
    };
    if s.is_empty() {
        cx.push(path, "is required (e.g. `http://127.0.0.1:3000`)");
        return fallback(s);
    }
    // `h2c://host:port`: an http URL whose upstream speaks HTTP/2 with prior knowledge.
    let h2c = s
        .get(..6)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("h2c://"));
    let as_http = if h2c {
        std::borrow::Cow::Owned(format!("http://{}", &s[6..]))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    let url = match checks::parse_http_url(&as_http) {
        Ok(url) => url,
        Err(msg) => {
            cx.push(path, format!("{msg} (http://, https:// or h2c://)"));
            return fallback(s);
        }
    };
    if url.has_query {
        cx.push(path, "must not contain a query (`?...`)");
    }
    let base_path = match checks::normalize_path(&url.path) {
        Ok(p) => p.trim_end_matches('/').to_owned(),
        Err(_) => {
            cx.push(
                path,
                "has an invalid base path (no `..`, `%`, or whitespace)",
            );
            String::new()
        }
    };
    Upstream {
        url: s.to_owned(),
        https: url.https,
        h2c,
        authority: url.authority,
        base_path,
    }
}

pub(super) fn upstream_tls(
    cx: &mut Ctx<'_>,
    path: &str,
    t: RawUpstreamTls,
    https: bool,
) -> UpstreamTls {
    if !https {
        cx.push(path, "applies only to an https:// upstream");
    }
    let ca_file = cx.file(&format!("{path}.ca_file"), t.ca_file.as_deref());
    let cert_file = cx.file(&format!("{path}.cert_file"), t.cert_file.as_deref());
    let key_file = cx.file(&format!("{path}.key_file"), t.key_file.as_deref());
    match (&cert_file, &key_file) {
        (Some(_), None) => cx.push(
            &format!("{path}.key_file"),
            "is required when cert_file is set",
        ),
        (None, Some(_)) => cx.push(
            &format!("{path}.cert_file"),
            "is required when key_file is set",
        ),
        _ => {}
    }
    UpstreamTls {
        ca_file,
        cert_file,
        key_file,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn host_matches() {
        assert_eq!(
            host_match("*.Example.com").unwrap(),
            HostMatch::Suffix(".example.com".into())
        );
        assert_eq!(
            host_match("API.example.com").unwrap(),
            HostMatch::Exact("api.example.com".into())
        );
        assert!(host_match("*").is_err());
        assert!(host_match("a.*.com").is_err());
        assert!(host_match("a.com:80").is_err());
    }
}
