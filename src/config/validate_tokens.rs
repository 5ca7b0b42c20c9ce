//! Validation of `providers[].tokens`: the bearer-token schemes, audiences and leeway,
//! the introspection client, and its guards: which introspection answers count as access
//! tokens (`introspection.token_types`), the longest token sent to introspection, and the
//! caps on uncached identity-provider calls (`rate_limit` objects).
//!
//! Kept apart from `validate_provider.rs` (the provider's identity and endpoints) so the
//! two can grow independently. Messages carry the field path.

use std::path::PathBuf;
use std::time::Duration;

use super::checks;
use super::issues::index_path;
use super::model::{CallLimit, IntrospectionConfig, TokensConfig};
use super::raw::{RawCallLimit, RawIntrospection, RawTokens};
use super::validate::Ctx;
use super::validate_credentials;

/// Clock skew beyond this hides real clock problems and stretches token lifetimes.
const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// `providers[].tokens`: schemes, audiences, leeway, JWKS refetch interval, introspection.
pub(super) fn tokens(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: RawTokens,
    client_id: &str,
    provider_key: Option<&PathBuf>,
) -> TokensConfig {
    let schemes_path = format!("{path}.schemes");
    if raw.schemes.is_empty() {
        cx.push(
            &schemes_path,
            "must list at least one scheme (e.g. `[Bearer]`)",
        );
    }
    let mut schemes: Vec<String> = Vec::with_capacity(raw.schemes.len());
    for (i, scheme) in raw.schemes.iter().enumerate() {
        let scheme = scheme.trim();
        if !checks::is_http_token(scheme) {
            cx.push(
                &index_path(&schemes_path, i),
                "must be an HTTP authentication scheme name such as `Bearer`",
            );
            continue;
        }
        // Schemes are case-insensitive (RFC 9110 §11.1); consumers compare lower-case.
        let lower = scheme.to_ascii_lowercase();
        if !schemes.contains(&lower) {
            schemes.push(lower);
        }
    }
    let audiences_path = format!("{path}.audiences");
    let audiences = match raw.audiences {
        None => vec![client_id.to_owned()],
        Some(list) => {
            if list.is_empty() {
                cx.push(
                    &audiences_path,
                    "must not be empty (omit it to use client_id)",
                );
            }
            list.into_iter()
                .enumerate()
                .filter_map(|(i, aud)| {
                    let aud = aud.trim().to_owned();
                    if aud.is_empty() {
                        cx.push(&index_path(&audiences_path, i), "must not be empty");
                        None
                    } else {
                        Some(aud)
                    }
                })
                .collect()
        }
    };
    let leeway = cx.duration(&format!("{path}.leeway"), &raw.leeway, false);
    if leeway > MAX_LEEWAY {
        cx.push(&format!("{path}.leeway"), "must be at most 5m");
    }
    let jwks_refetch_interval = cx.duration(
        &format!("{path}.jwks_refetch_interval"),
        &raw.jwks_refetch_interval,
        true,
    );
    let introspection = raw
        .introspection
        .map(|i| introspection(cx, &format!("{path}.introspection"), i, provider_key));
    TokensConfig {
        schemes,
        audiences,
        leeway,
        jwks_refetch_interval,
        verified_cache_size: raw.verified_cache_size,
        introspection,
        userinfo_rate_limit: call_limit(
            cx,
            &format!("{path}.userinfo_rate_limit"),
            raw.userinfo_rate_limit,
        ),
    }
}

fn introspection(
    cx: &mut Ctx<'_>,
    path: &str,
    mut raw: RawIntrospection,
    provider_key: Option<&PathBuf>,
) -> IntrospectionConfig {
    let client_id = raw.client_id.trim().to_owned();
    if client_id.is_empty() {
        cx.push(&format!("{path}.client_id"), "is required");
    }
    let auth = validate_credentials::introspection_auth(cx, path, &mut raw, provider_key);
    IntrospectionConfig {
        client_id,
        client_secret: auth.secret,
        auth_method: auth.method,
        private_key_file: auth.key_file,
        cache_ttl: cx.duration(&format!("{path}.cache_ttl"), &raw.cache_ttl, false),
        negative_cache_ttl: cx.duration(
            &format!("{path}.negative_cache_ttl"),
            &raw.negative_cache_ttl,
            false,
        ),
        cache_size: raw.cache_size,
        jwt_fallback: raw.jwt_fallback,
        token_types: token_types(cx, path, raw.token_types),
        max_token_length: max_token_length(cx, path, raw.max_token_length),
        rate_limit: call_limit(cx, &format!("{path}.rate_limit"), raw.rate_limit),
    }
}

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

/// The longest `introspection.max_token_length` accepted: beyond the largest header the
/// gateway reads, a larger bound would only pretend to check something.
const MAX_TOKEN_LENGTH_BOUND: u64 = 64 * 1024;

/// `introspection.max_token_length`: 1 … 65536 bytes.
pub(crate) fn max_token_length(cx: &mut Ctx<'_>, path: &str, raw: u64) -> usize {
    if raw == 0 || raw > MAX_TOKEN_LENGTH_BOUND {
        cx.push(
            &format!("{path}.max_token_length"),
            format!("must be between 1 and {MAX_TOKEN_LENGTH_BOUND} (bytes)"),
        );
    }
    usize::try_from(raw.clamp(1, MAX_TOKEN_LENGTH_BOUND)).unwrap_or(4096)
}

/// Largest `burst` / `max_in_flight`: far past any sane cap, and it keeps the numbers
/// exact in the token bucket's floating point.
const MAX_CALLS: u64 = 1_000_000;

/// A `rate_limit` object: `rate` as `<calls>/<s|m|h>` (e.g. `50/s`, `600/m`), `burst`
/// and `max_in_flight` from 1 to 1 000 000.
pub(crate) fn call_limit(cx: &mut Ctx<'_>, path: &str, raw: RawCallLimit) -> CallLimit {
    let default = CallLimit::default();
    let per_second = match parse_rate(&raw.rate) {
        Some(r) => r,
        None => {
            cx.push(
                &format!("{path}.rate"),
                format!(
                    "`{}` is not a rate such as `50/s`, `600/m` or `10/h` (calls per second, minute or hour, at least 1)",
                    raw.rate.trim()
                ),
            );
            default.per_second
        }
    };
    let mut count = |name: &str, v: u64, fallback: u32| -> u32 {
        match u32::try_from(v) {
            Ok(n) if (1..=MAX_CALLS).contains(&v) => n,
            _ => {
                cx.push(
                    &format!("{path}.{name}"),
                    format!("must be between 1 and {MAX_CALLS}"),
                );
                fallback
            }
        }
    };
    CallLimit {
        per_second,
        burst: count("burst", raw.burst, default.burst),
        max_in_flight: count("max_in_flight", raw.max_in_flight, default.max_in_flight),
    }
}

/// `<n>/<unit>` with `n` a whole number ≥ 1 and unit `s`, `m` or `h` → calls per second.
fn parse_rate(s: &str) -> Option<f64> {
    let (n, unit) = s.trim().split_once('/')?;
    let n: u64 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_CALLS).contains(n))?;
    let seconds = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    // Exact: n ≤ 10^6 fits an f64 mantissa.
    Some(n as f64 / seconds)
}
