// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Errors: all collected in one pass with field paths, unknown-key hints, secrets never
//! echoed, and no panic on malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[test]
fn all_errors_are_collected_with_paths() {
    let text = r#"
server:
  listen: "nonsense"
  timeouts: { idle: 30 }
  trusted_proxies: ["10.0.0.0/33"]
routs: []
providers:
  - name: corp
    issuer: "http://idp.example.com"
    client_id: portcullis
    client_secret: s
    signing_algs: [HS256, RS256]
routes:
  - name: a
    upstream: "ftp://x"
    auth: bearer
  - name: a
    upstream: "http://127.0.0.1:1"
  - name: c
    upstream: "http://127.0.0.1:1"
    auth: sesion
    strip_prefix: maybe
    match: { path_prefix: "v1" }
"#;
    let errs = errors(text);
    assert_issue(&errs, "server.listen", "not an IP:port");
    assert_issue(&errs, "server.timeouts.idle", "has no unit");
    assert_issue(&errs, "server.trusted_proxies[0]", "prefix length");
    assert_issue(&errs, "routs", "did you mean `routes`");
    assert_issue(&errs, "providers[0].issuer", "https");
    assert_issue(
        &errs,
        "providers[0].signing_algs[0]",
        "HS256 is symmetric and cannot be used with provider keys",
    );
    assert_issue(&errs, "routes[0].upstream", "not an absolute http(s) URL");
    assert_issue(&errs, "routes[1].name", "duplicate route name `a`");
    assert_issue(
        &errs,
        "routes[1].auth",
        "missing; one of bearer|session|any|api_key|none",
    );
    assert_issue(&errs, "routes[2].auth", "`sesion` is not one of");
    assert_issue(&errs, "routes[2].strip_prefix", "expected true or false");
    assert_issue(&errs, "routes[2].match.path_prefix", "must start with `/`");
    assert!(errs.0.len() >= 12, "{errs}");
    // Display: one `path: message` per line.
    assert_eq!(errs.to_string().lines().count(), errs.0.len());
    assert!(errs
        .to_string()
        .contains("routes[0].upstream: not an absolute http(s) URL"));
}

#[test]
fn every_unknown_key_is_reported_with_a_hint() {
    let text = r#"
routs: []
server: { listn: "0.0.0.0:80", timeout: { idle: 1s } }
session: { secret: [] }
providers:
  - { name: a, issuer: "https://a", client_id: a, client_secret: s, client-auth: none }
"#;
    let errs = errors(text);
    assert_issue(&errs, "routs", "did you mean `routes`?");
    assert_issue(&errs, "server.listn", "did you mean `listen`?");
    assert_issue(&errs, "server.timeout", "did you mean `timeouts`?");
    assert_issue(&errs, "session.secret", "did you mean `secrets`?");
    assert_issue(
        &errs,
        "providers[0].client-auth",
        "did you mean `client_auth`?",
    );
    assert_eq!(errs.0.len(), 5, "{errs}");
    let errs =
        errors("routes:\n  - name: a\n    host: x.com\n    upstream: http://a\n    auth: none\n");
    assert_issue(&errs, "routes[0].host", "did you mean `match.host`?");
}

#[test]
fn type_errors_carry_paths() {
    let text = r#"
server: { limits: { max_header_bytes: -1 }, trusted_proxies: "10.0.0.0/8" }
admin: { listen: [1] }
routes:
  - name: x
    upstream: { url: "http://a" }
    auth: none
    timeouts: "5s"
"#;
    let errs = errors(text);
    assert_issue(
        &errs,
        "server.limits.max_header_bytes",
        "non-negative integer",
    );
    assert_issue(&errs, "server.trusted_proxies", "expected a list");
    assert_issue(&errs, "admin.listen", "expected a string, got a list");
    assert_issue(
        &errs,
        "routes[0].upstream",
        "expected a string, got a mapping",
    );
    assert_issue(&errs, "routes[0].timeouts", "expected a mapping");
    // The bad upstream is reported once, not again as "is required".
    assert_eq!(
        errs.0
            .iter()
            .filter(|i| i.path == "routes[0].upstream")
            .count(),
        1
    );
}

#[test]
fn secrets_never_appear_in_errors() {
    let secrets = [
        "hunter2-client",
        "c2hvcnRrZXk",
        "redis-pa55",
        "intro-s3cret",
        "env-s3cret",
        "url-pa55",
    ];
    let env = |name: &str| (name == "SECRET").then(|| "env-s3cret".to_owned());
    let text = r#"
providers:
  - name: corp
    issuer: "ftp://idp"
    client_id: portcullis
    client_secret: hunter2-client
    client_auth: bogus
    tokens:
      verified_cache_size: "${SECRET}"
      introspection: { client_id: x, client_secret: intro-s3cret, auth_method: private_key_jwt }
session:
  secrets: ["c2hvcnRrZXk", "${SECRET}"]
  store: redis
  redis: { url: "http://:redis-pa55@host" }
routes:
  - name: a
    upstream: "http://user:url-pa55@127.0.0.1:1/?x"
    auth: session
"#;
    let errs = load_str_with_env(text, &env).unwrap_err();
    let shown = errs.to_string();
    for secret in secrets {
        assert!(!shown.contains(secret), "`{secret}` leaked:\n{shown}");
    }
    assert_issue(
        &errs,
        "session.secrets[0]",
        "must be base64 of at least 32 random bytes (got 8 bytes)",
    );
    assert_issue(&errs, "session.secrets[1]", "not valid base64");
    assert_issue(&errs, "session.redis.url", "redis://");
    assert_issue(&errs, "routes[0].upstream", "credentials");
    assert_issue(
        &errs,
        "providers[0].tokens.verified_cache_size",
        "non-negative integer",
    );
}

#[test]
fn syntax_errors_and_odd_documents_do_not_panic() {
    let odd = [
        "a: [1\nb: 2",
        "- just\n- a list",
        "42",
        "~",
        "routes: 5",
        "routes: [~]",
        "routes: [[1]]",
        "server: {listen: {a: 1}}",
        "server: !tagged {}",
        "routes: [{name: a, allow: {claims: {x: {y: 1}}}}]",
        "{1: 2, true: x}",
        "a: &x 1\nb: *x",
        "base: &b {listen: '1.2.3.4:5'}\nserver: {<<: *b}",
        "server: {listen: '\u{0}'}",
        "routes: [{name: \"\u{1F600}\", upstream: \"http://\u{1F600}\", auth: none}]",
        "routes: [{name: a, upstream: 'http://a', auth: none, identity_headers: {'bad name': x, 'X-A': '{nope}'}}]",
        "log: {level: \"${\"}",
        "---\na: 1\n---\nb: 2",
    ];
    for text in odd {
        let _ = load_str_with_env(text, &no_env);
    }
    let errs = load_str_with_env("a: [1\nb: 2", &no_env).unwrap_err();
    assert_eq!(errs.0.len(), 1);
    assert!(errs.0[0].message.contains("line 2"), "{errs}");
    let errs = load_str_with_env("- a", &no_env).unwrap_err();
    assert!(errs.to_string().contains("must be a mapping"));
}
