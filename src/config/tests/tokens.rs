// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The bearer-token guards of `providers[].tokens`: introspection token types, defaults
//! and errors with their field paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn with_tokens(tokens: &str) -> String {
    format!("{PROVIDER}    tokens: {tokens}\n")
}

#[test]
fn introspection_token_types_default_and_configured() {
    let c = try_load(&with_tokens(
        "{ introspection: { client_id: a, client_secret: s } }",
    ))
    .unwrap();
    let i = c.providers[0].tokens.introspection.clone().unwrap();
    assert_eq!(
        i.token_types,
        DEFAULT_TOKEN_TYPES.map(String::from).to_vec()
    );
    let c = try_load(&with_tokens(
        "{ introspection: { client_id: a, client_secret: s, token_types: [' Bearer ', bearer, custom] } }",
    ))
    .unwrap();
    let i = c.providers[0].tokens.introspection.clone().unwrap();
    assert_eq!(i.token_types, ["Bearer", "custom"]);
}

#[test]
fn introspection_token_types_errors_carry_paths() {
    let errs = errors(&with_tokens(
        "{ introspection: { client_id: a, client_secret: s, token_types: [] } }",
    ));
    assert_issue(
        &errs,
        "providers[0].tokens.introspection.token_types",
        "at least one",
    );
    let errs = errors(&with_tokens(
        "{ introspection: { client_id: a, client_secret: s, token_types: [ok, '', 'a b'] } }",
    ));
    assert_issue(
        &errs,
        "providers[0].tokens.introspection.token_types[1]",
        "token type",
    );
    assert_issue(
        &errs,
        "providers[0].tokens.introspection.token_types[2]",
        "token type",
    );
}

#[test]
fn idp_call_caps_default_and_configured() {
    let c = try_load(&with_tokens(
        "{ introspection: { client_id: a, client_secret: s } }",
    ))
    .unwrap();
    let t = &c.providers[0].tokens;
    let i = t.introspection.clone().unwrap();
    assert_eq!(i.max_token_length, 4096);
    assert_eq!(i.rate_limit, CallLimit::default());
    assert_eq!(
        (
            i.rate_limit.per_second,
            i.rate_limit.burst,
            i.rate_limit.max_in_flight
        ),
        (50.0, 50, 16)
    );
    assert_eq!(t.userinfo_rate_limit, CallLimit::default());
    let c = try_load(&with_tokens(
        "{ introspection: { client_id: a, client_secret: s, max_token_length: 512, \
         rate_limit: { rate: 600/m, burst: 5, max_in_flight: 2 } }, \
         userinfo_rate_limit: { rate: 36/h } }",
    ))
    .unwrap();
    let t = &c.providers[0].tokens;
    let i = t.introspection.clone().unwrap();
    assert_eq!(i.max_token_length, 512);
    assert_eq!(
        i.rate_limit,
        CallLimit {
            per_second: 10.0,
            burst: 5,
            max_in_flight: 2
        }
    );
    assert_eq!(t.userinfo_rate_limit.per_second, 0.01);
    assert_eq!(t.userinfo_rate_limit.burst, 50);
}

#[test]
fn idp_call_caps_errors_carry_paths() {
    let errs = errors(&with_tokens(
        "{ introspection: { client_id: a, client_secret: s, max_token_length: 0, \
         rate_limit: { rate: 50, burst: 0, max_in_flight: 9999999 } }, \
         userinfo_rate_limit: { rate: 0/s, nope: 1 } }",
    ));
    let p = "providers[0].tokens";
    assert_issue(
        &errs,
        &format!("{p}.introspection.max_token_length"),
        "between 1",
    );
    assert_issue(
        &errs,
        &format!("{p}.introspection.rate_limit.rate"),
        "`50/s`",
    );
    assert_issue(
        &errs,
        &format!("{p}.introspection.rate_limit.burst"),
        "between 1",
    );
    assert_issue(
        &errs,
        &format!("{p}.introspection.rate_limit.max_in_flight"),
        "between 1",
    );
    assert!(
        has(&errs, &format!("{p}.userinfo_rate_limit.nope"), ""),
        "unknown key reported:\n{errs}"
    );
    for bad in ["1/d", "x/s", "-1/s", "1.5/s", "/s", "5/", "99999999/s"] {
        let errs = errors(&with_tokens(&format!(
            "{{ userinfo_rate_limit: {{ rate: \"{bad}\" }} }}"
        )));
        assert_issue(
            &errs,
            &format!("{p}.userinfo_rate_limit.rate"),
            "not a rate",
        );
    }
}
