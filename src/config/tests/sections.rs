// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Per-section value checks, each refusal with its field path: provider resolution of
//! routes, route, server and provider values, `session.allowed_redirect_domains`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[test]
fn provider_resolution_rules() {
    let two = r#"
providers:
  - { name: a, issuer: "http://127.0.0.1:9000", client_id: a, client_auth: none }
  - { name: b, issuer: "http://localhost:9001/realms/x", client_id: b, client_auth: none }
routes:
  - { name: r1, upstream: "http://a", auth: bearer }
  - { name: r2, upstream: "http://a", auth: bearer, provider: b, match: { path_prefix: /b } }
  - { name: r3, upstream: "http://a", auth: bearer, provider: zz, match: { path_prefix: /c } }
"#;
    let errs = errors(two);
    assert_issue(
        &errs,
        "routes[0].provider",
        "2 providers are configured (a, b)",
    );
    assert_issue(
        &errs,
        "routes[2].provider",
        "unknown provider `zz` (configured: a, b)",
    );
    assert_eq!(errs.0.len(), 2, "{errs}");
    let none = "routes: [{ name: r, upstream: 'http://a', auth: session }]";
    let errs = errors(none);
    assert_issue(&errs, "routes[0].auth", "`providers:` is empty");
}

#[test]
fn route_checks() {
    let text = r#"
routes:
  - name: a
    upstream: "http://a"
    auth: none
    allow: { users: [alice] }
    public_paths: ["/x"]
    upstream_tls: { ca_file: /nonexistent/ca.pem }
    identity_headers: { Host: "{sub}", X-A: "{password}", x-b: "{sub}", X-B: "{sub}" }
  - name: "bad name"
    match: { path_prefix: /oauth2/x }
    upstream: "http://a"
    auth: none
  - name: c
    upstream: "http://a"
    auth: none
"#;
    let errs = errors(text);
    assert_issue(&errs, "routes[0].allow", "no effect with `auth: none`");
    assert_issue(&errs, "routes[0].public_paths", "no effect");
    assert_issue(&errs, "routes[0].upstream_tls", "https");
    assert_issue(
        &errs,
        "routes[0].upstream_tls.ca_file",
        "cannot read /nonexistent/ca.pem",
    );
    assert_issue(
        &errs,
        "routes[0].identity_headers.Host",
        "cannot be an identity header",
    );
    assert_issue(
        &errs,
        "routes[0].identity_headers.X-A",
        "unknown placeholder `{password}`",
    );
    assert_issue(&errs, "routes[0].identity_headers.X-B", "duplicate");
    assert_issue(&errs, "routes[1].name", "may contain only");
    assert_issue(&errs, "routes[1].match.path_prefix", "proxy_prefix");
    assert_issue(
        &errs,
        "routes[2].match",
        "same host and path_prefix as routes[0]",
    );
}

#[test]
fn server_checks() {
    let text = r#"
server:
  listen: "0.0.0.0:8080"
  public_url: "https://gw.example.com/app"
  tls: { cert_file: /nonexistent/cert.pem }
  proxy_prefix: "/"
  escaped_slashes: unescape
  limits: { max_header_bytes: 10 }
admin: { listen: "127.0.0.1:8080" }
log: { format: xml, level: infoo }
"#;
    let errs = errors(text);
    assert_issue(&errs, "server.public_url", "without path");
    assert_issue(&errs, "server.tls.cert_file", "cannot read");
    assert_issue(
        &errs,
        "server.tls.key_file",
        "is required when cert_file is set",
    );
    assert_issue(&errs, "server.proxy_prefix", "must not be `/`");
    assert_issue(
        &errs,
        "server.escaped_slashes",
        "`unescape` is not one of: reject, decode, keep",
    );
    assert_issue(&errs, "server.limits.max_header_bytes", "between 1024");
    assert_issue(&errs, "admin.listen", "must differ from server.listen");
    assert_issue(&errs, "log.format", "`xml`");
    assert_issue(&errs, "log.level", "`infoo` is not a level");
    let c = try_load("server: {listen: '127.0.0.1:0'}\nadmin: {listen: '127.0.0.1:0'}").unwrap();
    assert_eq!(c.admin.listen.unwrap().port(), 0);
    let c = try_load("admin: {listen: off}").unwrap();
    assert!(c.admin.listen.is_none());
}

#[test]
fn provider_checks() {
    let text = r#"
providers:
  - name: a
    issuer: "https://idp.example.com"
    client_id: ""
    client_auth: client_secret_post
    scopes: [profile]
    auth_params: { state: x, prompt: login }
    signing_algs: [none, XX256]
    tokens: { schemes: [], leeway: 10m, audiences: [] }
    claims: { username: [], groups: ["a..b"] }
  - name: a
    issuer: "https://idp2.example.com"
    client_id: b
    client_auth: private_key_jwt
    tokens: { introspection: { client_id: x } }
"#;
    let errs = errors(text);
    assert_issue(&errs, "providers[0].client_id", "is required");
    assert_issue(&errs, "providers[0].scopes", "`openid`");
    assert_issue(
        &errs,
        "providers[0].auth_params.state",
        "set by the gateway",
    );
    assert_issue(&errs, "providers[0].signing_algs[0]", "never accepted");
    assert_issue(
        &errs,
        "providers[0].signing_algs[1]",
        "not a supported JWS algorithm",
    );
    assert_issue(&errs, "providers[0].tokens.schemes", "at least one");
    assert_issue(&errs, "providers[0].tokens.leeway", "at most 5m");
    assert_issue(&errs, "providers[0].tokens.audiences", "must not be empty");
    assert_issue(&errs, "providers[0].claims.username", "at least one");
    assert_issue(&errs, "providers[0].claims.groups[0]", "empty segment");
    assert_issue(&errs, "providers[1].name", "duplicate provider name `a`");
    assert_issue(
        &errs,
        "providers[1].tokens.introspection.client_secret",
        "is required",
    );
}

#[test]
fn allowed_redirect_domains_take_a_port_or_a_star() {
    let cfg = |domains: &str| {
        format!(
            "session: {{ secrets: [\"{KEY}\"], allowed_redirect_domains: {domains} }}\nroutes: \
             [{{ name: r, upstream: 'http://a', auth: none }}]\n"
        )
    };
    let ok = try_load(&cfg(
        "[\".Example.com:8443\", \"a.org:*\", \"[::1]:3000\", \"[::1]\", b.org]",
    ))
    .unwrap();
    assert_eq!(
        ok.session.allowed_redirect_domains,
        [
            ".example.com:8443",
            "a.org:*",
            "[::1]:3000",
            "[::1]",
            "b.org"
        ]
    );
    let errs = errors(&cfg(
        "[ok.org, \"a.org:\", \"b.org:0\", \"c.org:65536\", \"d.org:x\", \"https://e.org\", \
         \"*.f.org:443\", \"g.org:443/x\", \"[::1]:\"]",
    ));
    for i in 1..=4 {
        assert_issue(
            &errs,
            &format!("session.allowed_redirect_domains[{i}]"),
            "1 to 65535, or `*`",
        );
    }
    assert_issue(&errs, "session.allowed_redirect_domains[5]", "");
    assert_issue(
        &errs,
        "session.allowed_redirect_domains[6]",
        "every subdomain",
    );
    assert_issue(&errs, "session.allowed_redirect_domains[7]", "");
    assert_issue(&errs, "session.allowed_redirect_domains[8]", "1 to 65535");
    assert!(!has(&errs, "session.allowed_redirect_domains[0]", ""));
}
