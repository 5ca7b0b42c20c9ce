// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! `signing_keys`, `routes[].identity_assertion` and `routes[].token_exchange`: defaults,
//! every refusal with its path, and the client credentials an exchanging provider needs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use super::*;

fn cfg(provider_extra: &str, route_extra: &str, top: &str) -> String {
    format!(
        "server: {{ public_url: \"https://gw.example.com\" }}\n\
         providers:\n  - {{ name: corp, issuer: \"https://idp.example.com\", client_id: gw{provider_extra} }}\n\
         routes:\n  - name: api\n    upstream: \"http://127.0.0.1:1\"\n    auth: bearer\n{route_extra}{top}"
    )
}

#[test]
fn defaults_and_values_are_read() {
    let text = cfg(
        ", client_secret: s",
        "    identity_assertion: { audience: orders }\n    token_exchange: { scope: \"a b\" }\n",
        &format!(
            "signing_keys:\n  - {{ kid: k1, file: \"{}/Cargo.toml\" }}\n  - {{ kid: k0, revoked: true }}\n  \
             - {{ kid: k2, file: \"{0}/Cargo.toml\", not_before: \"2027-01-01T00:00:00Z\" }}\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    );
    let c = try_load(&text).unwrap_or_else(|e| panic!("{e}"));
    let a = c.routes[0].identity_assertion.as_ref().unwrap();
    assert_eq!(a.header.as_str(), "x-portcullis-assertion");
    assert_eq!(a.ttl, Duration::from_secs(60));
    assert_eq!(a.alg, AssertionAlg::Es256);
    let t = c.routes[0].token_exchange.as_ref().unwrap();
    assert_eq!(
        (t.provider, t.audience.as_deref(), t.scope.as_deref()),
        (0, None, Some("a b"))
    );
    assert_eq!(c.signing.overlap, Duration::from_secs(600));
    assert_eq!(c.signing.keys.len(), 3);
    assert!(c.signing.keys[1].revoked && c.signing.keys[1].file.is_none());
    assert_eq!(
        c.signing.keys[2].not_before,
        Some(NotBefore::At(1_798_761_600))
    );
}

#[test]
fn bad_assertion_settings_are_refused_with_their_paths() {
    let bad = "    identity_assertion: { header: \"Authorization\", ttl: 2s, alg: HS256 }\n";
    let e = errors(&cfg("", bad, ""));
    assert_issue(&e, "routes[0].identity_assertion.header", "controls");
    assert_issue(&e, "routes[0].identity_assertion.audience", "required");
    assert_issue(&e, "routes[0].identity_assertion.ttl", "between 5s and 1h");
    assert_issue(&e, "routes[0].identity_assertion.alg", "`HS256`");
    // The assertion's field may not be one of the route's identity headers too.
    let clash = "    identity_assertion: { header: X-Auth-User, audience: x }\n";
    assert_issue(
        &errors(&cfg("", clash, "")),
        "routes[0].identity_assertion.header",
        "also one of this route's identity_headers",
    );
    let e = errors(&cfg(
        "",
        "    identity_assertion: { header: \"a b\", audience: x }\n",
        "",
    ));
    assert_issue(
        &e,
        "routes[0].identity_assertion.header",
        "not a valid header name",
    );
    // No public_url: the assertion would have no stable `iss`.
    let text = cfg("", "    identity_assertion: { audience: x }\n", "")
        .replace("server: { public_url: \"https://gw.example.com\" }\n", "");
    assert_issue(
        &errors(&text),
        "routes[0].identity_assertion",
        "server.public_url",
    );
    // On auth: none there is nobody to assert.
    let text = cfg("", "    identity_assertion: { audience: x }\n", "")
        .replace("auth: bearer", "auth: none");
    assert_issue(&errors(&text), "routes[0].identity_assertion", "auth: none");
}

#[test]
fn bad_signing_keys_are_refused_with_their_paths() {
    let top = "signing_keys:\n  - { kid: \"a b\", file: /nonexistent/key.pem }\n  - { kid: k }\n  \
               - { kid: k, revoked: true, not_before: tomorrow }\nsigning_key_overlap: soon\n";
    let e = errors(&cfg("", "", top));
    assert_issue(&e, "signing_keys[0].kid", "letters, digits");
    assert_issue(&e, "signing_keys[0].file", "");
    assert_issue(&e, "signing_keys[1].file", "is required");
    assert_issue(&e, "signing_keys[2].kid", "duplicate kid `k`");
    assert_issue(&e, "signing_keys[2].not_before", "`tomorrow`");
    assert_issue(&e, "signing_key_overlap", "");
}

#[test]
fn token_exchange_needs_something_to_ask_for_an_identity_and_a_known_provider() {
    let e = errors(&cfg(
        ", client_secret: s",
        "    token_exchange: { provider: other }\n",
        "",
    ));
    assert_issue(
        &e,
        "routes[0].token_exchange.provider",
        "unknown provider `other`",
    );
    assert_issue(&e, "routes[0].token_exchange", "audience or a scope");
    let text = cfg(
        ", client_secret: s",
        "    token_exchange: { audience: x }\n",
        "",
    )
    .replace("auth: bearer", "auth: none");
    assert_issue(&errors(&text), "routes[0].token_exchange", "auth: none");
    let route = "    pass_access_token: true\n    token_exchange: { audience: x }\n";
    assert_issue(
        &errors(&cfg(", client_secret: s", route, "")),
        "routes[0].token_exchange",
        "pass_access_token",
    );
}

#[test]
fn an_exchanging_provider_needs_confidential_client_credentials() {
    let route = "    token_exchange: { audience: x }\n";
    // A bearer-only provider needs none, until a route exchanges at it.
    assert_issue(
        &errors(&cfg("", route, "")),
        "providers[0].client_secret",
        "route `api` exchanges tokens",
    );
    let e = errors(&cfg(", client_auth: private_key_jwt", route, ""));
    assert_issue(&e, "providers[0].private_key_file", "token_exchange");
    let e = errors(&cfg(", client_auth: none", route, ""));
    assert_issue(&e, "providers[0].client_auth", "confidential client");
    try_load(&cfg(", client_secret: s", route, "")).unwrap_or_else(|e| panic!("{e}"));
}
