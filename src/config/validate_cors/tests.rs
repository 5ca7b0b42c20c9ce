// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! `routes[].cors` loading: normalised origins, patterns, defaults, and every refusal
//! with its field path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::config::model::cors::{AllowedHeaders, AllowedOrigins, CorsConfig};
use crate::config::{load_str_with_env, ConfigErrors};

fn yaml(cors: &str) -> String {
    format!(
        "routes:\n  - name: api\n    upstream: \"http://127.0.0.1:1\"\n    auth: none\n    \
         cors: {cors}\n"
    )
}

fn load(cors: &str) -> Result<CorsConfig, ConfigErrors> {
    let cfg = load_str_with_env(&yaml(cors), &|_| None)?;
    Ok(cfg.routes[0].cors.clone().unwrap())
}

#[track_caller]
fn refused(cors: &str, path: &str, needle: &str) {
    let errs = load(cors)
        .err()
        .unwrap_or_else(|| panic!("accepted: {cors}"));
    assert!(
        errs.0
            .iter()
            .any(|i| i.path == path && i.message.contains(needle)),
        "{cors}: want `{path}: …{needle}…`, got:\n{errs}"
    );
}

#[test]
fn origins_are_normalised_and_defaults_apply() {
    let c = load(
        "{ allow_origins: [\"HTTPS://App.Example.COM:443\", \"http://127.0.0.1:8080\", \
         \"http://Local:80\", \"https://*.Example.com\", \"http://[::1]:3000\"] }",
    )
    .unwrap();
    let AllowedOrigins::List { exact, patterns } = &c.origins else {
        panic!("{:?}", c.origins)
    };
    assert_eq!(
        exact,
        &[
            "https://app.example.com",
            "http://127.0.0.1:8080",
            "http://local",
            "http://[::1]:3000"
        ]
    );
    assert_eq!(patterns.len(), 1);
    assert_eq!(patterns[0].suffix, ".example.com");
    assert_eq!(patterns[0].port, None);
    assert!(c.allows_origin(b"https://app.example.com"));
    assert!(c.allows_origin(b"https://other.example.com"));
    assert!(!c.allows_origin(b"https://example.com"));
    assert!(!c.allows_origin(b"null"));
    assert_eq!(c.methods_value, "GET, HEAD, POST");
    assert!(!c.allow_credentials && !c.allow_private_network);
    assert_eq!(c.allow_headers, AllowedHeaders::List(Vec::new()));
    assert!(c.expose_value.is_none() && c.max_age_value.is_none());
}

#[test]
fn lists_render_once() {
    let c = load(
        "{ allow_origins: [\"https://a.example\"], allow_methods: [get, PUT, get], \
         allow_headers: [Authorization, content-type], expose_headers: [X-Trace-Id, ETag], \
         allow_credentials: true, max_age: 10m }",
    )
    .unwrap();
    assert_eq!(c.methods_value, "GET, PUT");
    assert!(c.allows_method(b"PUT") && !c.allows_method(b"put") && !c.allows_method(b"DELETE"));
    assert!(c.allows_header("AUTHORIZATION") && c.allows_header("content-type"));
    assert!(!c.allows_header("x-other"));
    assert_eq!(c.expose_value.unwrap(), "x-trace-id, etag");
    assert_eq!(c.max_age_value.unwrap(), "600");
    let any = load("{ allow_origins: [\"*\"], allow_headers: [\"*\"], expose_headers: [\"*\"] }")
        .unwrap();
    assert_eq!(any.origins, AllowedOrigins::Any);
    assert!(any.allows_origin(b"https://anything.example") && any.allows_header("x-any"));
    assert_eq!(any.expose_value.unwrap(), "*");
}

#[test]
fn wildcards_with_credentials_are_refused() {
    let o = "routes[0].cors.allow_origins[0]";
    refused(
        "{ allow_origins: [\"*\"], allow_credentials: true }",
        o,
        "cannot be combined with allow_credentials",
    );
    refused(
        "{ allow_origins: [\"https://a.example\"], expose_headers: [\"*\"], allow_credentials: true }",
        "routes[0].cors.expose_headers",
        "taken literally",
    );
    refused(
        "{ allow_origins: [\"*\", \"https://a.example\"] }",
        o,
        "list nothing else",
    );
}

#[test]
fn bad_origins_are_refused_with_their_path() {
    let o = "routes[0].cors.allow_origins[0]";
    for (origin, needle) in [
        ("null", "never allowed"),
        ("NULL", "never allowed"),
        ("app.example.com", "an origin is"),
        ("ftp://app.example.com", "http or https"),
        ("https://app.example.com/", "has no path"),
        ("https://app.example.com/x", "has no path"),
        ("https://app.example.com?x", "has no path"),
        ("https://u@app.example.com", "no user part"),
        ("https://app.example.com:0", "port must be"),
        ("https://app.example.com:99999", "port must be"),
        ("https://app.example.com:", "port must be"),
        ("https://*.com", "top-level domain"),
        ("https://*.*.example.com", "not a valid host name"),
        ("https://*.exa_mple.com", "not a DNS name"),
        ("https://a.*.example.com", "whole first label"),
        ("https://*example.com", "whole first label"),
        ("https://*", "whole first label"),
        ("https://*.", "must not be empty"),
        ("https://[::1", "unclosed"),
        ("https://ex ample.com", "not a valid host"),
    ] {
        refused(&format!("{{ allow_origins: [\"{origin}\"] }}"), o, needle);
    }
    refused(
        "{ allow_origins: [] }",
        "routes[0].cors.allow_origins",
        "lists no origin",
    );
    refused(
        "{ allow_methods: [GET] }",
        "routes[0].cors.allow_origins",
        "lists no origin",
    );
}

#[test]
fn bad_methods_headers_and_ages_are_refused() {
    let base = "allow_origins: [\"https://a.example\"]";
    refused(
        &format!("{{ {base}, allow_methods: [] }}"),
        "routes[0].cors.allow_methods",
        "lists no method",
    );
    refused(
        &format!("{{ {base}, allow_methods: [\"*\"] }}"),
        "routes[0].cors.allow_methods[0]",
        "list the methods",
    );
    refused(
        &format!("{{ {base}, allow_methods: [\"GE T\"] }}"),
        "routes[0].cors.allow_methods[0]",
        "not an HTTP method",
    );
    refused(
        &format!("{{ {base}, allow_headers: [\"x-a\", \"*\"] }}"),
        "routes[0].cors.allow_headers[1]",
        "list nothing else",
    );
    refused(
        &format!("{{ {base}, allow_headers: [\"bad:name\"] }}"),
        "routes[0].cors.allow_headers[0]",
        "not a header name",
    );
    refused(
        &format!("{{ {base}, max_age: 25h }}"),
        "routes[0].cors.max_age",
        "at most 24h",
    );
    refused(
        &format!("{{ {base}, max_age: soon }}"),
        "routes[0].cors.max_age",
        "",
    );
    refused(
        &format!("{{ {base}, allow_origin: [\"https://b.example\"] }}"),
        "routes[0].cors.allow_origin",
        "allow_origins",
    );
}
