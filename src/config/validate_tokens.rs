//! Validation of the bearer-token guards of `providers[].tokens`: which introspection
//! answers count as access tokens (`introspection.token_types`), the longest token sent to
//! introspection, and the caps on uncached identity-provider calls (`rate_limit` objects).
//!
//! Kept apart from `validate_provider.rs` (the provider's identity and endpoints) so the
//! two can grow independently. Messages carry the field path.

use super::issues::index_path;
use super::model::CallLimit;
use super::raw::RawCallLimit;
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
