// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Machine credentials: `api_keys`, `api_key_header`, `auth: api_key`, `accept`, `dpop`,
//! `dpop_window`, `dpop_nonce` and `protected_resource_metadata`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn keys_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.yaml");
    std::fs::write(&file, "[]").unwrap();
    let yaml = format!(
        "api_keys:\n  - {{ name: ci, file: \"{}\" }}\n",
        file.display()
    );
    (dir, yaml)
}

#[test]
fn api_key_routes_need_no_provider_and_any_may_skip_sessions() {
    let (_dir, keys) = keys_file();
    let text = format!(
        "{keys}api_key_header: X-API-Key\nroutes:\n  - name: ci\n    \
         upstream: \"http://127.0.0.1:1\"\n    auth: api_key\n"
    );
    let c = try_load(&text).unwrap();
    let r = &c.routes[0];
    assert_eq!(r.auth, AuthMode::ApiKey);
    assert_eq!(r.provider, None);
    assert!(r.accept.api_key && !r.accept.bearer && !r.accept.session);
    assert_eq!(c.api_keys.sources[0].name, "ci");
    assert_eq!(c.api_keys.header.as_ref().unwrap().as_str(), "x-api-key");

    // `any` without session in accept: no session secrets needed.
    let text = format!(
        "{keys}{PROVIDER}routes:\n  - name: mixed\n    upstream: \"http://127.0.0.1:1\"\n    \
         auth: any\n    accept: [bearer, api_key]\n"
    );
    let c = try_load(&text).unwrap();
    let a = c.routes[0].accept;
    assert!(a.bearer && a.api_key && !a.session);
}

#[test]
fn machine_settings_are_checked_with_paths() {
    let text = format!(
        r#"{PROVIDER}    dpop: sometimes
    dpop_window: 0s
    tokens: {{ schemes: [Bearer, DPoP] }}
api_key_header: Authorization
api_keys:
  - {{ name: "bad name", file: /nonexistent/keys.yaml }}
  - {{ name: nofile }}
routes:
  - name: a
    upstream: "http://127.0.0.1:1"
    auth: bearer
    accept: [bearer]
  - name: b
    upstream: "http://127.0.0.1:2"
    auth: any
    accept: [session, tokens, session]
  - name: c
    match: {{ path_prefix: /c/ }}
    upstream: "http://127.0.0.1:3"
    auth: session
    dpop: required
    dpop_nonce: true
    protected_resource_metadata: true
  - name: d
    match: {{ path_prefix: /d/ }}
    upstream: "http://127.0.0.1:4"
    auth: any
    accept: []
  - name: e
    match: {{ path_prefix: /e/ }}
    upstream: "http://127.0.0.1:5"
    auth: api_key
  - name: f
    match: {{ path_prefix: /mcp/ }}
    upstream: "http://127.0.0.1:6"
    auth: bearer
    protected_resource_metadata: true
  - name: g
    match: {{ path_prefix: /.well-known/ }}
    upstream: "http://127.0.0.1:7"
    auth: none
session:
  secrets: ["{KEY}"]
"#
    );
    let errs = errors(&text);
    assert_issue(&errs, "providers[0].dpop", "`sometimes` is not one of");
    assert_issue(&errs, "providers[0].dpop_window", "greater than zero");
    assert_issue(&errs, "providers[0].tokens.schemes", "must not list `DPoP`");
    assert_issue(&errs, "api_key_header", "cannot carry API keys");
    assert_issue(&errs, "api_keys[0].name", "may contain only");
    assert_issue(&errs, "api_keys[0].file", "");
    assert_issue(&errs, "api_keys[1].file", "is required");
    assert_issue(&errs, "routes[0].accept", "applies only to `auth: any`");
    assert_issue(&errs, "routes[1].accept[1]", "`tokens` is not one of");
    assert_issue(&errs, "routes[1].accept[2]", "listed twice");
    assert_issue(&errs, "routes[2].dpop", "accepts no access tokens");
    assert_issue(&errs, "routes[2].dpop_nonce", "needs `dpop: allowed`");
    assert_issue(
        &errs,
        "routes[2].protected_resource_metadata",
        "routes that accept access tokens",
    );
    assert_issue(&errs, "routes[3].accept", "at least one");
    assert_issue(
        &errs,
        "routes[5].protected_resource_metadata",
        "needs server.public_url",
    );
    assert_issue(
        &errs,
        "routes[6].match.path_prefix",
        "covers `/.well-known/oauth-protected-resource/mcp`",
    );
}

#[test]
fn api_key_routes_need_a_key_source() {
    let errs =
        errors("routes:\n  - name: e\n    upstream: \"http://127.0.0.1:5\"\n    auth: api_key\n");
    assert_issue(&errs, "routes[0].auth", "no `api_keys` sources");
    let errs = errors("api_key_header: X-Key\n");
    assert_issue(&errs, "api_key_header", "has no effect");
}

#[test]
fn dpop_resolves_from_route_or_provider() {
    let text = format!(
        r#"server: {{ public_url: "https://api.example.com" }}
{PROVIDER}    dpop: required
    dpop_window: 2m
routes:
  - name: inherits
    match: {{ path_prefix: /a/ }}
    upstream: "http://127.0.0.1:1"
    auth: bearer
    dpop_nonce: true
    protected_resource_metadata: true
  - name: own
    match: {{ path_prefix: /b/ }}
    upstream: "http://127.0.0.1:1"
    auth: bearer
    dpop: off
  - name: browser
    match: {{ path_prefix: /c/ }}
    upstream: "http://127.0.0.1:1"
    auth: session
  - name: catch_all
    upstream: "http://127.0.0.1:1"
    auth: none
session:
  secrets: ["{KEY}"]
"#
    );
    let c = try_load(&text).unwrap();
    assert_eq!(c.providers[0].dpop.mode, DpopMode::Required);
    assert_eq!(c.providers[0].dpop.window, Duration::from_secs(120));
    assert_eq!(c.routes[0].machine.dpop, DpopMode::Required);
    assert!(c.routes[0].machine.dpop_nonce && c.routes[0].machine.protected_resource_metadata);
    assert_eq!(c.routes[1].machine.dpop, DpopMode::Off);
    // A session route takes no tokens: DPoP does not apply to it.
    assert_eq!(c.routes[2].machine.dpop, DpopMode::Off);
}
