//! Validation of what several providers on one browser route need: `routes[].providers`
//! (resolved to provider indexes, beside the single `provider`), and the chooser keys of
//! `providers[]`: `display_name` and the `login_hint` `domains`.
//!
//! A list that cannot work is refused here rather than at the first login: several
//! providers on a route that checks bearer tokens (a token is checked against one
//! provider), the same domain on two providers of one route (a hint could not pick one).

use super::checks;
use super::issues::index_path;
use super::model::{AuthMode, ProviderConfig, RouteConfig};
use super::validate::Ctx;

/// Longest `display_name` (it is one line of a page).
const MAX_DISPLAY_NAME: usize = 100;

/// `providers[].display_name`: one line of text; the provider's name when absent.
pub(crate) fn display_name(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: Option<String>,
    name: &str,
) -> String {
    let Some(raw) = raw else {
        return name.to_owned();
    };
    let shown = raw.trim();
    let at = format!("{path}.display_name");
    if shown.is_empty() {
        cx.push(
            &at,
            "must not be empty (omit it to show the provider's name)",
        );
    } else if shown.chars().any(char::is_control) {
        cx.push(&at, "must be one line of text (no control characters)");
    } else if shown.chars().count() > MAX_DISPLAY_NAME {
        cx.push(&at, format!("is longer than {MAX_DISPLAY_NAME} characters"));
    }
    shown.to_owned()
}

/// `providers[].domains`: `example.com` (exact) or `.example.com` (dot-bounded suffix).
pub(crate) fn domains(cx: &mut Ctx<'_>, path: &str, raw: Vec<String>) -> Vec<String> {
    let list = format!("{path}.domains");
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, d) in raw.iter().enumerate() {
        let at = index_path(&list, i);
        if d.contains('@') {
            cx.push(&at, "write the domain only (`example.com`), without `@`");
            continue;
        }
        match checks::check_domain(d) {
            Ok(d) if out.contains(&d) => cx.push(&at, format!("`{d}` is listed twice")),
            Ok(d) => out.push(d),
            Err(msg) => cx.push(&at, msg),
        }
    }
    out
}

/// `routes[].providers`: the indexes of the listed providers (file order of the list),
/// when the key is present. `provider` and `providers` exclude each other.
pub(crate) fn route_providers(
    cx: &mut Ctx<'_>,
    path: &str,
    auth: AuthMode,
    single: Option<&str>,
    raw: Option<Vec<String>>,
    providers: &[ProviderConfig],
) -> Option<Vec<usize>> {
    let raw = raw?;
    let at = format!("{path}.providers");
    if single.is_some() {
        cx.push(&at, "set either `provider` or `providers`, not both");
    }
    if raw.is_empty() {
        cx.push(&at, "must list at least one provider");
    }
    if auth == AuthMode::None && !raw.is_empty() {
        cx.push(&at, "has no effect with `auth: none`");
    }
    if raw.len() > 1 && matches!(auth, AuthMode::Bearer | AuthMode::Any) {
        cx.push(
            &at,
            "several providers are for browser sign-in: only an `auth: session` route may \
             list more than one (a bearer token is checked against one provider; give the \
             API its own route)",
        );
    }
    let mut out: Vec<usize> = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let name = name.trim();
        match providers.iter().position(|p| p.name == name) {
            Some(j) if out.contains(&j) => {
                cx.push(&index_path(&at, i), format!("`{name}` is listed twice"));
            }
            Some(j) => out.push(j),
            None => {
                let known: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
                cx.push(
                    &index_path(&at, i),
                    format!(
                        "unknown provider `{name}` (configured: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    Some(out)
}

/// A `login_hint` domain listed by two providers of one route could not pick either.
pub(crate) fn distinct_domains(
    cx: &mut Ctx<'_>,
    providers: &[ProviderConfig],
    routes: &[RouteConfig],
) {
    for (r, route) in routes.iter().enumerate() {
        for (k, &a) in route.providers.iter().enumerate() {
            for &b in &route.providers[k + 1..] {
                let (Some(pa), Some(pb)) = (providers.get(a), providers.get(b)) else {
                    continue;
                };
                if let Some(d) = pa.domains.iter().find(|d| pb.domains.contains(d)) {
                    cx.push(
                        &format!("{}.providers", index_path("routes", r)),
                        format!(
                            "providers `{}` and `{}` both list domain `{d}`: a login_hint \
                             could not pick one",
                            pa.name, pb.name
                        ),
                    );
                }
            }
        }
    }
}
