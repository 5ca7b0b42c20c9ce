// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Loader tests and their shared helpers: `loading.rs` (shipped configs, defaults,
//! interpolation, normalised values), `errors.rs` (every error collected with its path,
//! hints, secrets never echoed, no panics on bad input), `sections.rs` (per-section value
//! checks with their paths), `credentials.rs` (which providers need client credentials,
//! introspection client authentication, endpoint overrides), `assertion.rs` (signing
//! keys, identity assertions, token exchange).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod assertion;
mod chooser;
mod credentials;
mod errors;
mod loading;
mod machine;
mod rate_limit;
mod sections;
mod tokens;

use super::*;
use std::time::Duration;

/// base64 of 32 bytes, valid as a session key.
pub(super) const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Every variable the shipped configs reference without a default holds a secret.
pub(super) fn secret_env(name: &str) -> Option<String> {
    name.contains("SECRET").then(|| KEY.to_owned())
}

pub(super) fn no_env(_: &str) -> Option<String> {
    None
}

pub(super) fn try_load(text: &str) -> Result<Config, ConfigErrors> {
    load_str_with_env(text, &secret_env)
}

pub(super) fn errors(text: &str) -> ConfigErrors {
    match try_load(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

pub(super) fn has(errs: &ConfigErrors, path: &str, needle: &str) -> bool {
    errs.0
        .iter()
        .any(|i| i.path == path && i.message.contains(needle))
}

#[track_caller]
pub(super) fn assert_issue(errs: &ConfigErrors, path: &str, needle: &str) {
    assert!(
        has(errs, path, needle),
        "no `{path}: …{needle}…` in:\n{errs}"
    );
}

pub(super) const PROVIDER: &str = r#"
providers:
  - name: corp
    issuer: "https://idp.example.com"
    client_id: portcullis
    client_secret: "${PORTCULLIS_CLIENT_SECRET}"
"#;
