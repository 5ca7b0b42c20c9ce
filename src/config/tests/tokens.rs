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
