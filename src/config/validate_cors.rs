//! Validation of `routes[].cors`: origins (exact, one-label `*.` patterns, or `*`),
//! methods, header names, `max_age`, and the combinations browsers refuse or that would
//! open a route to every site (`*` with credentials, `null`).
//!
//! Origins are normalised to the form browsers send (lower-case scheme and host, no
//! default port), so a match is a byte comparison at request time.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};

use super::checks;
use super::issues::index_path;
use super::model::cors::{
    is_dns_label, parse_port, AllowedHeaders, AllowedOrigins, CorsConfig, OriginPattern,
};
use super::raw::RawCors;
use super::validate::Ctx;

/// Methods a preflight may ask for when `allow_methods` is left out.
const DEFAULT_METHODS: [Method; 3] = [Method::GET, Method::HEAD, Method::POST];
/// The longest `max_age` taken: Firefox caps preflights at 24 h (Chromium at 2 h).
const MAX_AGE_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// Validates one route's `cors` block; `path` is `routes[i].cors`.
pub(crate) fn cors(cx: &mut Ctx<'_>, path: &str, raw: RawCors) -> CorsConfig {
    let credentials = raw.allow_credentials;
    let origins = origins(
        cx,
        &format!("{path}.allow_origins"),
        &raw.allow_origins,
        credentials,
    );
    let allow_methods = methods(cx, &format!("{path}.allow_methods"), raw.allow_methods);
    let allow_headers = match names(cx, &format!("{path}.allow_headers"), &raw.allow_headers) {
        Names::Any => AllowedHeaders::Any,
        Names::List(list) => AllowedHeaders::List(list),
    };
    let expose_path = format!("{path}.expose_headers");
    let expose_headers = match names(cx, &expose_path, &raw.expose_headers) {
        Names::Any if credentials => {
            cx.push(
                &expose_path,
                "`*` is taken literally by browsers when allow_credentials is true; list the \
                 header names",
            );
            Vec::new()
        }
        Names::Any => vec!["*".to_owned()],
        Names::List(list) => list.iter().map(|n| n.as_str().to_owned()).collect(),
    };
    let max_age = raw.max_age.as_deref().map(|s| {
        let age_path = format!("{path}.max_age");
        let d = cx.duration(&age_path, s, false);
        if d > MAX_AGE_LIMIT {
            cx.push(
                &age_path,
                "must be at most 24h (browsers cap it: Chromium at 2h)",
            );
        }
        d
    });
    let joined = |items: &mut dyn Iterator<Item = &str>| {
        let text = items.collect::<Vec<_>>().join(", ");
        HeaderValue::from_str(&text).ok()
    };
    let methods_value = joined(&mut allow_methods.iter().map(Method::as_str))
        .unwrap_or(HeaderValue::from_static("GET, HEAD, POST"));
    let expose_value = if expose_headers.is_empty() {
        None
    } else {
        joined(&mut expose_headers.iter().map(String::as_str))
    };
    CorsConfig {
        origins,
        allow_methods,
        allow_headers,
        expose_headers,
        allow_credentials: credentials,
        max_age_value: max_age.map(|d| HeaderValue::from(d.as_secs())),
        max_age,
        allow_private_network: raw.allow_private_network,
        methods_value,
        expose_value,
    }
}

fn origins(cx: &mut Ctx<'_>, path: &str, raw: &[String], credentials: bool) -> AllowedOrigins {
    if raw.is_empty() {
        cx.push(
            path,
            "lists no origin; add the origins of the pages that call this route, e.g. \
             `https://app.example.com`",
        );
    }
    let mut exact: Vec<String> = Vec::new();
    let mut patterns: Vec<OriginPattern> = Vec::new();
    for (i, item) in raw.iter().enumerate() {
        let item_path = index_path(path, i);
        let s = item.trim();
        if s == "*" {
            if credentials {
                cx.push(
                    &item_path,
                    "`*` cannot be combined with allow_credentials: true (browsers refuse it, \
                     and answering every origin with credentials would let any site act as \
                     the signed-in user); list the origins",
                );
            } else if raw.len() > 1 {
                cx.push(
                    &item_path,
                    "`*` already allows every origin; list nothing else",
                );
            } else {
                return AllowedOrigins::Any;
            }
            continue;
        }
        match origin(s) {
            Ok(Origin::Exact(o)) if !exact.contains(&o) => exact.push(o),
            Ok(Origin::Exact(_)) => {}
            Ok(Origin::Pattern(p)) if !patterns.contains(&p) => patterns.push(p),
            Ok(Origin::Pattern(_)) => {}
            Err(msg) => cx.push(&item_path, msg),
        }
    }
    AllowedOrigins::List { exact, patterns }
}

enum Origin {
    Exact(String),
    Pattern(OriginPattern),
}

/// `scheme://host[:port]` (normalised) or `scheme://*.domain[:port]`.
fn origin(s: &str) -> Result<Origin, String> {
    let shape = "an origin is `http(s)://host[:port]` or `https://*.example.com`";
    if s.eq_ignore_ascii_case("null") {
        return Err(
            "`null` is the origin of sandboxed frames and local files, which any site can \
             produce; it is never allowed"
                .into(),
        );
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!("`{s}`: {shape}"));
    };
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(format!("`{s}`: the scheme must be http or https")),
    };
    if rest.contains(['/', '?', '#']) {
        return Err(format!(
            "`{s}`: an origin has no path (browsers send `{scheme}://host[:port]`)"
        ));
    }
    if rest.contains('@') {
        return Err(format!("`{s}`: an origin has no user part"));
    }
    let (host, port) = split_port(rest).map_err(|why| format!("`{s}`: {why}"))?;
    let port = port.filter(|p| *p != default_port);
    let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
    if let Some(parent) = host.strip_prefix("*.") {
        let parent = checks::check_host(parent).map_err(|why| format!("`{s}`: {why}"))?;
        if !parent.split('.').all(is_dns_label) {
            return Err(format!("`{s}`: `{parent}` is not a DNS name"));
        }
        if !parent.contains('.') && parent != "localhost" {
            return Err(format!(
                "`{s}` would allow every site under the top-level domain `{parent}`"
            ));
        }
        return Ok(Origin::Pattern(OriginPattern {
            scheme,
            suffix: format!(".{parent}"),
            port,
        }));
    }
    if host.contains('*') {
        return Err(format!(
            "`{s}`: a wildcard is allowed only as the whole first label (`https://*.example.com`)"
        ));
    }
    let host = checks::check_host(host).map_err(|why| format!("`{s}`: {why}"))?;
    Ok(Origin::Exact(format!("{scheme}://{host}{port_text}")))
}

/// `host[:port]` with bracketed IPv6 literals.
fn split_port(rest: &str) -> Result<(&str, Option<u16>), &'static str> {
    let (host, port) = if rest.starts_with('[') {
        match rest.find(']') {
            Some(end) => match &rest[end + 1..] {
                "" => (&rest[..=end], None),
                tail => (&rest[..=end], Some(tail.strip_prefix(':').unwrap_or(tail))),
            },
            None => return Err("unclosed `[`"),
        }
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    match port {
        None => Ok((host, None)),
        Some(p) => match parse_port(p) {
            Some(p) => Ok((host, Some(p))),
            None => Err("the port must be a number 1-65535"),
        },
    }
}

fn methods(cx: &mut Ctx<'_>, path: &str, raw: Option<Vec<String>>) -> Vec<Method> {
    let Some(raw) = raw else {
        return DEFAULT_METHODS.to_vec();
    };
    if raw.is_empty() {
        cx.push(path, "lists no method; leave it out for GET, HEAD, POST");
    }
    let mut out: Vec<Method> = Vec::with_capacity(raw.len());
    for (i, m) in raw.iter().enumerate() {
        let m = m.trim().to_ascii_uppercase();
        if m == "*" {
            cx.push(&index_path(path, i), "list the methods (`*` is not taken)");
            continue;
        }
        match Method::from_bytes(m.as_bytes()) {
            Ok(method) if checks::is_http_token(&m) => {
                if !out.contains(&method) {
                    out.push(method);
                }
            }
            _ => cx.push(&index_path(path, i), format!("`{m}` is not an HTTP method")),
        }
    }
    out
}

enum Names {
    Any,
    List(Vec<HeaderName>),
}

/// Header names (lower-cased), or `*` alone.
fn names(cx: &mut Ctx<'_>, path: &str, raw: &[String]) -> Names {
    let mut out: Vec<HeaderName> = Vec::with_capacity(raw.len());
    for (i, n) in raw.iter().enumerate() {
        let n = n.trim();
        if n == "*" {
            if raw.len() == 1 {
                return Names::Any;
            }
            cx.push(
                &index_path(path, i),
                "`*` stands for every name; list nothing else",
            );
            continue;
        }
        match HeaderName::from_bytes(n.as_bytes()) {
            Ok(name) if checks::is_http_token(n) => {
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            _ => cx.push(&index_path(path, i), format!("`{n}` is not a header name")),
        }
    }
    Names::List(out)
}

#[cfg(test)]
mod tests;
