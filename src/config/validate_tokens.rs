//! Validation of the bearer-token guards of `providers[].tokens`: which introspection
//! answers count as access tokens (`introspection.token_types`).
//!
//! Kept apart from `validate_provider.rs` (the provider's identity and endpoints) so the
//! two can grow independently. Messages carry the field path.

use super::issues::index_path;
use super::validate::Ctx;

/// `introspection.token_types`: non-empty names, trimmed, duplicates (ignoring case)
/// dropped. An empty list is refused: it would accept only answers that state no type,
/// which is almost certainly not what was meant.
pub(crate) fn token_types(cx: &mut Ctx<'_>, path: &str, raw: Vec<String>) -> Vec<String> {
    let path = format!("{path}.token_types");
    if raw.is_empty() {
        cx.push(
            &path,
            "must list at least one token type (omit the key for the default)",
        );
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let t = t.trim();
        if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            cx.push(
                &index_path(&path, i),
                "must be a token type such as `Bearer` or `access_token`",
            );
        } else if !out.iter().any(|o| o.eq_ignore_ascii_case(t)) {
            out.push(t.to_owned());
        }
    }
    out
}
