//! Validation of `routes[].rate_limit` (key, rate, burst) and `rate_limit_store`.
//!
//! Refuses limits that would look protective but count nothing: a principal or client
//! limit on a route without authentication, a header the gateway removes before the
//! limit reads it. Never echoes a configured value it could not parse beyond the key.

use std::time::Duration;

use http::HeaderName;

use super::issues::index_path;
use super::model::{AuthMode, RateLimit, RateLimitKey, RateLimitStore, RouteConfig};
use super::raw::RawRateLimit;
use super::validate::Ctx;

/// The fastest rate taken: one request per microsecond (Redis counts in microseconds).
const MAX_PER_SECOND: u64 = 1_000_000;
/// The largest burst taken.
const MAX_BURST: u64 = 1_000_000;
/// The longest time a full bucket may take to refill (`burst` / rate).
const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);

/// Limits one route may have (a request's limits are decided as one group).
const MAX_LIMITS: usize = 16;

/// Headers a `header:` key may not name: the gateway removes or rewrites them before
/// the limit is checked (hop-by-hop fields, its own X-Request-Id), or they are the
/// client address, which `key: ip` reads the trusted way.
const REFUSED_HEADERS: [&str; 16] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "http2-settings",
    "x-request-id",
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-host",
];

/// `routes[i].rate_limit`: every item, in file order.
pub(crate) fn rate_limits(
    cx: &mut Ctx<'_>,
    route_path: &str,
    raw: Vec<RawRateLimit>,
    auth: AuthMode,
) -> Vec<RateLimit> {
    let list = format!("{route_path}.rate_limit");
    if raw.len() > MAX_LIMITS {
        cx.push(&list, format!("at most {MAX_LIMITS} limits per route"));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, item) in raw.into_iter().enumerate() {
        let path = index_path(&list, i);
        let key = match item.key.as_deref().map(str::trim) {
            None | Some("") => {
                cx.push(
                    &format!("{path}.key"),
                    "missing; one of principal | client | ip | header:<name>",
                );
                None
            }
            Some(s) => match parse_key(s) {
                Ok(k) => Some(k),
                Err(msg) => {
                    cx.push(&format!("{path}.key"), msg);
                    None
                }
            },
        };
        if let Some(k @ (RateLimitKey::Principal | RateLimitKey::Client)) = &key {
            if auth == AuthMode::None {
                cx.push(
                    &format!("{path}.key"),
                    format!(
                        "`{}` counts authenticated requests, but this route has `auth: none`; \
                         use `ip` or `header:<name>`",
                        k.label()
                    ),
                );
            }
        }
        let rate = match item.rate.as_deref().map(str::trim) {
            None | Some("") => {
                cx.push(
                    &format!("{path}.rate"),
                    "missing; e.g. `100/s`, `600/m`, `1000/h` or `10000/d`",
                );
                None
            }
            Some(s) => match parse_rate(s) {
                Ok(r) => Some(r),
                Err(msg) => {
                    cx.push(&format!("{path}.rate"), msg);
                    None
                }
            },
        };
        let burst = item.burst.or(rate.map(|(count, _)| count)).unwrap_or(1);
        if !(1..=MAX_BURST).contains(&burst) {
            cx.push(
                &format!("{path}.burst"),
                format!("must be between 1 and {MAX_BURST} (got {burst})"),
            );
        }
        let (Some(key), Some((count, period))) = (key, rate) else {
            continue;
        };
        // Refill time of a full bucket: burst × (period / count).
        let window = period.as_secs_f64() * burst as f64 / count as f64;
        if window > MAX_WINDOW.as_secs_f64() {
            cx.push(
                &path,
                "burst / rate spans more than a year; lower the burst or raise the rate",
            );
        }
        out.push(RateLimit {
            key,
            count,
            period,
            burst,
        });
    }
    out
}

/// `principal` | `client` | `ip` | `header:<name>` (the name lower-cased).
pub(crate) fn parse_key(s: &str) -> Result<RateLimitKey, String> {
    match s {
        "principal" => return Ok(RateLimitKey::Principal),
        "client" => return Ok(RateLimitKey::Client),
        "ip" => return Ok(RateLimitKey::Ip),
        _ => {}
    }
    let Some(name) = s.strip_prefix("header:") else {
        return Err(format!(
            "`{s}` is not one of principal | client | ip | header:<name>"
        ));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| "header:<name> needs a valid HTTP header name".to_owned())?;
    if REFUSED_HEADERS.contains(&name.as_str()) || name.as_str().starts_with("x-forwarded-") {
        return Err(format!(
            "`{name}` cannot key a limit: the gateway removes or rewrites it before the \
             limit reads it (for the client address use `key: ip`)"
        ));
    }
    Ok(RateLimitKey::Header(name))
}

/// `N/s`, `N/m`, `N/h` or `N/d` → (N, period).
pub(crate) fn parse_rate(s: &str) -> Result<(u64, Duration), String> {
    let form = "must be `<requests>/<unit>` with unit s, m, h or d (e.g. `100/s`)";
    let (n, unit) = s.split_once('/').ok_or(form)?;
    let period = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "d" => Duration::from_secs(86_400),
        _ => return Err(form.into()),
    };
    let n = n.trim();
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(form.into());
    }
    let count: u64 = n.parse().map_err(|_| form.to_owned())?;
    if count == 0 {
        return Err("must admit at least one request (to refuse everything, use `allow`)".into());
    }
    // At most one request per microsecond.
    let max = MAX_PER_SECOND.saturating_mul(period.as_secs());
    if count > max {
        return Err(format!(
            "is faster than the gateway counts (at most {MAX_PER_SECOND}/s)"
        ));
    }
    Ok((count, period))
}

/// `rate_limit_store`: `local` (default) or `redis`, which needs `session.redis.url`.
pub(crate) fn store(cx: &mut Ctx<'_>, raw: Option<&str>, redis_url: bool) -> RateLimitStore {
    match raw.map(str::trim) {
        None | Some("") | Some("local") => RateLimitStore::Local,
        Some("redis") => {
            if !redis_url {
                cx.push(
                    "rate_limit_store",
                    "`redis` uses session.redis.url, which is not set",
                );
            }
            RateLimitStore::Redis
        }
        Some(other) => {
            cx.push(
                "rate_limit_store",
                format!("`{other}` is not one of: local, redis"),
            );
            RateLimitStore::Local
        }
    }
}

/// A `header:` key naming one of the routes' identity headers would count nothing: the
/// gateway strips those names from every request before the limit reads it.
pub(crate) fn check_identity_collisions(cx: &mut Ctx<'_>, routes: &[RouteConfig]) {
    for (i, route) in routes.iter().enumerate() {
        // The list's path: invalid items were dropped, so positions may have shifted.
        for limit in &route.rate_limit {
            let RateLimitKey::Header(name) = &limit.key else {
                continue;
            };
            let owner = routes
                .iter()
                .find(|r| r.identity_headers.iter().any(|(h, _)| h == name));
            if let Some(owner) = owner {
                cx.push(
                    &format!("routes[{i}].rate_limit"),
                    format!(
                        "`header:{name}` names an identity header (route `{}`): the gateway \
                         removes it from every request, so the limit would count nothing",
                        owner.name
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("100/s"), Ok((100, Duration::from_secs(1))));
        assert_eq!(parse_rate(" 5 / m "), Ok((5, Duration::from_secs(60))));
        assert_eq!(parse_rate("1/h"), Ok((1, Duration::from_secs(3600))));
        assert_eq!(parse_rate("7/d"), Ok((7, Duration::from_secs(86_400))));
        assert_eq!(
            parse_rate("1000000/s"),
            Ok((1_000_000, Duration::from_secs(1)))
        );
        for bad in [
            "",
            "100",
            "/s",
            "100/",
            "100/x",
            "100/sec",
            "-1/s",
            "+1/s",
            "1.5/s",
            "0/s",
            "1000001/s",
            "99999999999999999999999/s",
            "1/s/s",
            "١/s",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys() {
        assert_eq!(parse_key("principal"), Ok(RateLimitKey::Principal));
        assert_eq!(parse_key("client"), Ok(RateLimitKey::Client));
        assert_eq!(parse_key("ip"), Ok(RateLimitKey::Ip));
        assert_eq!(
            parse_key("header:X-Api-Key"),
            Ok(RateLimitKey::Header(HeaderName::from_static("x-api-key")))
        );
        for bad in [
            "user",
            "IP",
            "header:",
            "header:a b",
            "header:x-forwarded-for",
            "header:X-Forwarded-Proto",
            "header:connection",
            "header:x-request-id",
            "header",
        ] {
            assert!(parse_key(bad).is_err(), "{bad:?}");
        }
    }
}
