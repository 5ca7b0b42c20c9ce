// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Client credentials: required only for providers a browser signs in with (issue 19
//! item 7), the introspection client's authentication and the endpoint overrides (item 8).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use super::*;

/// Any readable file: validation checks readability, the key is parsed at start-up.
fn key_file() -> String {
    format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"))
}

fn with_routes(provider: &str, routes: &str) -> String {
    format!(
        "providers:\n  - {{ name: corp, issuer: \"https://idp.example.com\", client_id: gw{provider} }}\n\
         session: {{ secrets: [\"{KEY}\"] }}\nroutes:\n{routes}"
    )
}

#[test]
fn a_provider_used_only_by_bearer_routes_needs_no_client_credentials() {
    let routes = "  - { name: api, upstream: \"http://127.0.0.1:1\", auth: bearer }\n  \
                  - { name: open, upstream: \"http://127.0.0.1:1\", auth: none, match: { path_prefix: /o } }\n";
    for provider in [
        "",
        ", client_auth: client_secret_post",
        ", client_auth: private_key_jwt",
    ] {
        let c = load_str_with_env(&with_routes(provider, routes), &no_env)
            .unwrap_or_else(|e| panic!("`{provider}` refused:\n{e}"));
        assert!(c.providers[0].client_secret.is_none());
        assert!(c.providers[0].private_key_file.is_none());
    }
}

#[test]
fn a_provider_a_browser_signs_in_with_needs_them_and_the_error_names_the_route() {
    let cases = [
        ("", "session", "client_secret", "client_secret_basic"),
        (
            ", client_auth: client_secret_post",
            "any",
            "client_secret",
            "client_secret_post",
        ),
        (
            ", client_auth: private_key_jwt",
            "session",
            "private_key_file",
            "private_key_jwt",
        ),
    ];
    for (provider, auth, field, method) in cases {
        let routes = format!(
            "  - {{ name: api, upstream: \"http://127.0.0.1:1\", auth: bearer }}\n  \
             - {{ name: app, upstream: \"http://127.0.0.1:1\", auth: {auth}, match: {{ path_prefix: /app }} }}\n"
        );
        let errs = load_str_with_env(&with_routes(provider, &routes), &no_env).unwrap_err();
        assert_issue(
            &errs,
            &format!("providers[0].{field}"),
            &format!("is required for client_auth {method}: route `app` (auth: {auth})"),
        );
        assert_eq!(errs.0.len(), 1, "{errs}");
    }
    // A public client (PKCE only) has nothing to give.
    let routes = "  - { name: app, upstream: \"http://127.0.0.1:1\", auth: session }\n";
    load_str_with_env(&with_routes(", client_auth: none", routes), &no_env).unwrap();
}

fn introspection(keys: &str, provider_extra: &str) -> Result<Config, ConfigErrors> {
    let text = format!(
        "providers:\n  - name: corp\n    issuer: \"https://idp.example.com\"\n    client_id: gw\n\
         {provider_extra}    tokens:\n      introspection: {{ client_id: api1{keys} }}\n"
    );
    load_str_with_env(&text, &no_env)
}

#[test]
fn introspection_client_auth_offers_the_token_endpoint_methods() {
    let path = "providers[0].tokens.introspection";
    // Default and the older key name still work.
    let c = introspection(", client_secret: s", "").unwrap();
    let i = c.providers[0].tokens.introspection.clone().unwrap();
    assert_eq!(i.auth_method, ClientAuth::ClientSecretBasic);
    assert_eq!(i.client_secret.unwrap().expose(), "s");
    let c = introspection(", client_secret: s, auth_method: client_secret_post", "").unwrap();
    let i = c.providers[0].tokens.introspection.clone().unwrap();
    assert_eq!(i.auth_method, ClientAuth::ClientSecretPost);
    // private_key_jwt with the provider's key: no secret anywhere.
    let provider_key = format!("    private_key_file: \"{}\"\n", key_file());
    let c = introspection(", client_auth: private_key_jwt", &provider_key).unwrap();
    let i = c.providers[0].tokens.introspection.clone().unwrap();
    assert_eq!(i.auth_method, ClientAuth::PrivateKeyJwt);
    assert!(i.client_secret.is_none());
    assert_eq!(i.private_key_file, Some(PathBuf::from(key_file())));
    // … or with a key of its own.
    let own = format!(
        ", client_auth: private_key_jwt, private_key_file: \"{}\"",
        key_file()
    );
    let c = introspection(&own, "").unwrap();
    let i = c.providers[0].tokens.introspection.clone().unwrap();
    assert_eq!(i.private_key_file, Some(PathBuf::from(key_file())));
    // Refusals, each with its path.
    let errs = introspection(", client_auth: private_key_jwt", "").unwrap_err();
    assert_issue(
        &errs,
        &format!("{path}.private_key_file"),
        "private_key_jwt",
    );
    let errs = introspection(", client_auth: none", "").unwrap_err();
    assert_issue(&errs, &format!("{path}.client_auth"), "RFC 7662");
    let errs = introspection(", client_auth: magic, client_secret: s", "").unwrap_err();
    assert_issue(
        &errs,
        &format!("{path}.client_auth"),
        "`magic` is not one of",
    );
    let errs = introspection(
        ", client_secret: s, client_auth: client_secret_post, auth_method: client_secret_basic",
        "",
    )
    .unwrap_err();
    assert_issue(&errs, &format!("{path}.auth_method"), "older name");
    let errs = introspection(", client_auth: client_secret_post", "").unwrap_err();
    assert_issue(
        &errs,
        &format!("{path}.client_secret"),
        "is required for client_auth client_secret_post",
    );
}

#[test]
fn endpoint_overrides_are_validated_like_the_issuer() {
    let provider = |extra: &str| {
        format!(
            "providers:\n  - {{ name: corp, issuer: \"https://idp.example.com\", client_id: gw, {extra} }}\n"
        )
    };
    let c = load_str_with_env(
        &provider(
            "introspection_endpoint: \"https://idp.example.com/oauth/introspect\", \
             revocation_endpoint: \"http://127.0.0.1:9/revoke\", \
             end_session_endpoint: \"https://idp.example.com/logout?client=gw\", \
             userinfo_endpoint: \"https://other.example.com/me\", \
             jwks_uri: \"https://idp.example.com/keys\"",
        ),
        &no_env,
    )
    .unwrap();
    let e = &c.providers[0].endpoints;
    assert_eq!(
        e.introspection_endpoint.as_deref(),
        Some("https://idp.example.com/oauth/introspect")
    );
    assert_eq!(
        e.revocation_endpoint.as_deref(),
        Some("http://127.0.0.1:9/revoke")
    );
    assert_eq!(
        e.end_session_endpoint.as_deref(),
        Some("https://idp.example.com/logout?client=gw")
    );
    assert_eq!(
        e.userinfo_endpoint.as_deref(),
        Some("https://other.example.com/me")
    );
    assert_eq!(e.jwks_uri.as_deref(), Some("https://idp.example.com/keys"));
    let errs = load_str_with_env(
        &provider(
            "introspection_endpoint: \"http://idp.example.com/introspect\", \
             revocation_endpoint: \"\", jwks_uri: \"/keys\", \
             userinfo_endpoint: \"https://u:hunter2@idp.example.com/me\", \
             end_session_endpoint: \"https://idp.example.com/logout#x\"",
        ),
        &no_env,
    )
    .unwrap_err();
    assert_issue(
        &errs,
        "providers[0].introspection_endpoint",
        "must use https",
    );
    assert_issue(
        &errs,
        "providers[0].revocation_endpoint",
        "must not be empty",
    );
    assert_issue(
        &errs,
        "providers[0].jwks_uri",
        "not an absolute http(s) URL",
    );
    assert_issue(&errs, "providers[0].userinfo_endpoint", "credentials");
    assert_issue(&errs, "providers[0].end_session_endpoint", "fragment");
    assert!(!errs.to_string().contains("hunter2"));
    assert_eq!(errs.0.len(), 5, "{errs}");
}
