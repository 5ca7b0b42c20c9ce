// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Several providers on one route (`routes[].providers`, `providers[].display_name` and
//! `domains`) and `h2c://` upstreams.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const TWO: &str = r#"
providers:
  - name: corp
    issuer: "https://corp.example.com"
    client_id: portcullis
    client_secret: s
    display_name: "  Corp SSO "
    domains: [corp.example, .Corp.Example]
  - name: partner
    issuer: "https://partner.example.com"
    client_id: portcullis
    client_secret: s
session:
  secrets: ["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]
"#;

fn with_routes(routes: &str) -> String {
    format!("{TWO}routes:\n{routes}")
}

#[test]
fn a_route_lists_several_providers_and_keeps_the_first_as_its_provider() {
    let cfg = try_load(&with_routes(
        "  - { name: app, upstream: \"http://127.0.0.1:1\", auth: session, providers: [partner, corp] }\n\
         \x20 - { name: one, match: { path_prefix: /one }, upstream: \"http://127.0.0.1:1\", auth: any, provider: corp }\n\
         \x20 - { name: open, match: { path_prefix: /open }, upstream: \"http://127.0.0.1:1\", auth: none }\n",
    ))
    .unwrap();
    assert_eq!(cfg.routes[0].providers, vec![1, 0]);
    assert_eq!(cfg.routes[0].provider, Some(1));
    assert_eq!(cfg.routes[1].providers, vec![0]);
    assert_eq!(cfg.routes[1].provider, Some(0));
    assert!(cfg.routes[2].providers.is_empty());
    let corp = &cfg.providers[0];
    assert_eq!(corp.display_name, "Corp SSO");
    assert_eq!(corp.domains, vec!["corp.example", ".corp.example"]);
    // Without display_name the chooser shows the name.
    assert_eq!(cfg.providers[1].display_name, "partner");
    assert!(cfg.providers[1].domains.is_empty());
}

#[test]
fn impossible_provider_lists_are_refused_with_their_path() {
    let errs = errors(&with_routes(
        "  - { name: a, upstream: \"http://127.0.0.1:1\", auth: session, provider: corp, providers: [corp] }\n\
         \x20 - { name: b, match: { path_prefix: /b }, upstream: \"http://127.0.0.1:1\", auth: bearer, providers: [corp, partner] }\n\
         \x20 - { name: c, match: { path_prefix: /c }, upstream: \"http://127.0.0.1:1\", auth: any, providers: [corp, partner] }\n\
         \x20 - { name: d, match: { path_prefix: /d }, upstream: \"http://127.0.0.1:1\", auth: session, providers: [corp, nobody, corp] }\n\
         \x20 - { name: e, match: { path_prefix: /e }, upstream: \"http://127.0.0.1:1\", auth: session, providers: [] }\n\
         \x20 - { name: f, match: { path_prefix: /f }, upstream: \"http://127.0.0.1:1\", auth: none, providers: [corp] }\n",
    ));
    assert_issue(
        &errs,
        "routes[0].providers",
        "either `provider` or `providers`",
    );
    assert_issue(
        &errs,
        "routes[1].providers",
        "only an `auth: session` route",
    );
    assert_issue(
        &errs,
        "routes[2].providers",
        "only an `auth: session` route",
    );
    assert_issue(&errs, "routes[3].providers[1]", "unknown provider `nobody`");
    assert_issue(&errs, "routes[3].providers[2]", "`corp` is listed twice");
    assert_issue(&errs, "routes[4].providers", "at least one provider");
    assert_issue(&errs, "routes[5].providers", "no effect with `auth: none`");
}

#[test]
fn bad_display_names_and_domains_are_refused() {
    let text = r#"
providers:
  - name: a
    issuer: "https://a.example.com"
    client_id: x
    display_name: "  "
    domains: ["alice@example.com", "*.example.com", "exa mple.com", "b.example", "B.example"]
  - name: b
    issuer: "https://b.example.com"
    client_id: x
    display_name: "two\nlines"
  - name: c
    issuer: "https://c.example.com"
    client_id: x
    display_name: "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
routes:
  - { name: api, upstream: "http://127.0.0.1:1", auth: bearer, provider: a }
"#;
    let errs = errors(text);
    assert_issue(&errs, "providers[0].display_name", "must not be empty");
    assert_issue(&errs, "providers[0].domains[0]", "without `@`");
    assert_issue(&errs, "providers[0].domains[1]", "write `.example.com`");
    assert_issue(&errs, "providers[0].domains[2]", "not a valid host name");
    assert_issue(&errs, "providers[0].domains[4]", "listed twice");
    assert_issue(&errs, "providers[1].display_name", "one line of text");
    assert_issue(&errs, "providers[2].display_name", "longer than 100");
}

#[test]
fn one_domain_on_two_providers_of_a_route_is_ambiguous() {
    let text = TWO.replace(
        "    issuer: \"https://partner.example.com\"",
        "    issuer: \"https://partner.example.com\"\n    domains: [corp.example]",
    );
    let errs = errors(&format!(
        "{text}routes:\n  - {{ name: app, upstream: \"http://127.0.0.1:1\", auth: session, providers: [corp, partner] }}\n"
    ));
    assert_issue(
        &errs,
        "routes[0].providers",
        "`corp` and `partner` both list domain `corp.example`",
    );
    // On separate routes the same domain is no conflict.
    try_load(&format!(
        "{text}routes:\n  - {{ name: a, upstream: \"http://127.0.0.1:1\", auth: session, provider: corp }}\n\
         \x20 - {{ name: b, match: {{ path_prefix: /b }}, upstream: \"http://127.0.0.1:1\", auth: session, provider: partner }}\n"
    ))
    .unwrap();
}

#[test]
fn every_provider_of_a_session_route_needs_client_credentials() {
    let text = TWO.replace("    client_secret: s\nsession:", "session:");
    let errs = errors(&format!(
        "{text}routes:\n  - {{ name: app, upstream: \"http://127.0.0.1:1\", auth: session, providers: [corp, partner] }}\n"
    ));
    assert_issue(&errs, "providers[1].client_secret", "route `app`");
}

#[test]
fn h2c_upstreams_are_cleartext_http2() {
    let cfg = try_load(&with_routes(
        "  - { name: grpc, upstream: \"H2C://127.0.0.1:50051/base\", auth: session, provider: corp }\n\
         \x20 - { name: web, match: { path_prefix: /web }, upstream: \"http://127.0.0.1:1\", auth: none }\n",
    ))
    .unwrap();
    let up = &cfg.routes[0].upstream;
    assert!(up.h2c && !up.https);
    assert_eq!(up.authority.as_str(), "127.0.0.1:50051");
    assert_eq!(up.base_path, "/base");
    assert!(!cfg.routes[1].upstream.h2c);
    let errs = errors(&with_routes(
        "  - { name: a, upstream: \"h2c://\", auth: none }\n\
         \x20 - { name: b, match: { path_prefix: /b }, upstream: \"h2c://127.0.0.1:1\", auth: none, upstream_tls: { ca_file: /nonexistent } }\n\
         \x20 - { name: c, match: { path_prefix: /c }, upstream: \"h2://127.0.0.1:1\", auth: none }\n",
    ));
    assert_issue(&errs, "routes[0].upstream", "(http://, https:// or h2c://)");
    assert_issue(
        &errs,
        "routes[1].upstream_tls",
        "only to an https:// upstream",
    );
    assert_issue(&errs, "routes[2].upstream", "not an absolute http(s) URL");
}
