//! Validation of `routes[].identity_headers`: header names and `{placeholder}` templates.
//!
//! Refuses names the gateway or HTTP framing own (hop-by-hop, Host, Authorization, Cookie,
//! Content-Length, X-Forwarded-*, ...): a template overwriting them would break framing,
//! routing or the upstream's own authentication.

use http::HeaderName;

use super::issues::key_path;
use super::raw::OrderedStrMap;
use super::validate::Ctx;
use super::validate_provider::check_claim_path;

/// Identity headers used when a route does not list its own.
const DEFAULT_IDENTITY_HEADERS: [(&str, &str); 4] = [
    ("x-auth-user", "{username}"),
    ("x-auth-email", "{email}"),
    ("x-auth-groups", "{groups}"),
    ("x-auth-subject", "{sub}"),
];

/// Headers an identity header may not be: hop-by-hop ones (removed in transit anyway)
/// and the ones the gateway or HTTP framing own; letting a template overwrite them would
/// break framing, routing or the upstream's own authentication.
const RESERVED_HEADERS: [&str; 26] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    "host",
    "authorization",
    "cookie",
    "set-cookie",
    "content-length",
    "content-type",
    "content-encoding",
    "expect",
    "forwarded",
    "via",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
    "x-request-id",
    "www-authenticate",
];

const PLACEHOLDERS: &str = "{sub}, {username}, {email}, {groups}, {scopes} or {claims.<name>}";

pub(crate) fn identity_headers(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: Option<OrderedStrMap>,
) -> Vec<(HeaderName, String)> {
    let Some(raw) = raw else {
        return DEFAULT_IDENTITY_HEADERS
            .iter()
            .map(|(name, template)| (HeaderName::from_static(name), (*template).to_owned()))
            .collect();
    };
    let mut out: Vec<(HeaderName, String)> = Vec::with_capacity(raw.0.len());
    for (name, template) in raw.0 {
        let item = key_path(path, &name);
        let header = match HeaderName::from_bytes(name.trim().as_bytes()) {
            Ok(h) => h,
            Err(_) => {
                cx.push(&item, "is not a valid HTTP header name");
                continue;
            }
        };
        if RESERVED_HEADERS.contains(&header.as_str()) {
            cx.push(
                &item,
                format!("`{name}` cannot be an identity header (the gateway or HTTP owns it)"),
            );
            continue;
        }
        if out.iter().any(|(h, _)| *h == header) {
            cx.push(&item, "duplicate header name (names are case-insensitive)");
            continue;
        }
        if let Err(msg) = check_template(&template) {
            cx.push(&item, msg);
        }
        out.push((header, template));
    }
    out
}

/// A header template: literal text plus `{sub}`, `{username}`, `{email}`, `{groups}`,
/// `{scopes}` and `{claims.<dotted.path>}`; `{{` and `}}` are literal braces. Same grammar
/// as `auth::identity::Template`, checked here so check-config reports it with a path.
pub(crate) fn check_template(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Err(format!("template must not be empty (use {PLACEHOLDERS})"));
    }
    let mut rest = t;
    while let Some(pos) = rest.find(['{', '}']) {
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            rest = after;
            continue;
        }
        if tail.starts_with('}') {
            return Err("unmatched `}` in template (write `}}` for a literal `}`)".into());
        }
        let Some(end) = tail.find('}') else {
            return Err("unclosed `{` in template (write `{{` for a literal `{`)".into());
        };
        let name = &tail[1..end];
        let known = matches!(name, "sub" | "username" | "email" | "groups" | "scopes")
            || name
                .strip_prefix("claims.")
                .is_some_and(|claim| check_claim_path(claim).is_ok());
        if !known {
            return Err(format!(
                "unknown placeholder `{{{name}}}` (use {PLACEHOLDERS})"
            ));
        }
        rest = &tail[end + 1..];
    }
    if t.chars().any(|c| !(c == '\t' || (' '..='~').contains(&c))) {
        return Err("template may contain only printable ASCII (header values are ASCII)".into());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert!(check_template("{username}").is_ok());
        assert!(check_template("user={sub}; org={claims.org.id}").is_ok());
        assert!(check_template("{claims.}").is_err());
        assert!(check_template("{password}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(check_template("{sub").unwrap_err().contains("unclosed"));
        assert!(check_template("sub}").unwrap_err().contains("unmatched"));
        assert!(check_template("").is_err());
        assert!(check_template("{{{username}}}").is_ok());
        assert!(check_template("literal {{ and }}").is_ok());
        assert!(check_template("{{sub}").unwrap_err().contains("unmatched"));
        assert!(check_template("é{sub}").is_err());
    }
}
