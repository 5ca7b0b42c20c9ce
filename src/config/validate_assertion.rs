//! Validation of what the gateway vouches for toward upstreams: `signing_keys` and
//! `signing_key_overlap`, a route's `identity_assertion` and its `token_exchange`.
//!
//! Key files are only checked for readability here; they are parsed when the runtime is
//! built (like TLS files). Rejects settings that would do nothing on a route (an
//! assertion or exchange on `auth: none`), because a silent no-op is a hole.

use std::time::Duration;

use http::HeaderName;

use super::issues::index_path;
use super::model::{
    AssertionAlg, AuthMode, IdentityAssertionConfig, NotBefore, ProviderConfig, RouteConfig,
    ServerConfig, SigningConfig, SigningKeyConfig, TokenExchangeConfig,
};
use super::raw::{RawIdentityAssertion, RawSigningKey, RawTokenExchange};
use super::validate::Ctx;

/// Default `signing_key_overlap`: longer than the JWKS max-age it implies (half of it),
/// so a verifier's cached key set always holds a key before that key signs.
pub(crate) const DEFAULT_OVERLAP: &str = "10m";

/// Bounds of an assertion's lifetime: shorter ones expire in flight, longer ones are
/// replayable for too long.
const MIN_TTL: Duration = Duration::from_secs(5);
const MAX_TTL: Duration = Duration::from_secs(3600);

/// Header names an assertion may never be sent in: the gateway or HTTP owns them.
const RESERVED: [&str; 12] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "forwarded",
    "x-real-ip",
    "x-request-id",
    "te",
];

/// `signing_keys` and `signing_key_overlap`.
pub(crate) fn signing(
    cx: &mut Ctx<'_>,
    raw: Vec<RawSigningKey>,
    overlap: Option<String>,
) -> SigningConfig {
    let overlap = cx.duration(
        "signing_key_overlap",
        overlap.as_deref().unwrap_or(DEFAULT_OVERLAP),
        false,
    );
    let mut keys: Vec<SigningKeyConfig> = Vec::with_capacity(raw.len());
    for (i, k) in raw.into_iter().enumerate() {
        let path = index_path("signing_keys", i);
        let kid = k.kid.trim().to_owned();
        if kid.is_empty() || kid.len() > 128 || !kid.bytes().all(is_kid_byte) {
            cx.push(
                &format!("{path}.kid"),
                "must be 1 to 128 letters, digits or `-._~:+/=` (e.g. `2026-12`)",
            );
        } else if let Some(j) = keys.iter().position(|o| o.kid == kid) {
            cx.push(
                &format!("{path}.kid"),
                format!("duplicate kid `{kid}` (also signing_keys[{j}])"),
            );
        }
        let file = cx.file(&format!("{path}.file"), k.file.as_deref());
        if file.is_none() && !k.revoked {
            cx.push(
                &format!("{path}.file"),
                "is required (a PEM private key: EC P-256, RSA of 2048 bits or more, or \
                 Ed25519); only a revoked key may omit it",
            );
        }
        let not_before = k.not_before.as_deref().and_then(|s| {
            let parsed = parse_not_before(s);
            if parsed.is_none() {
                cx.push(
                    &format!("{path}.not_before"),
                    format!(
                        "`{}` is neither an RFC 3339 time (`2027-01-01T00:00:00Z`) nor a \
                         duration (`1h`)",
                        s.trim()
                    ),
                );
            }
            parsed
        });
        keys.push(SigningKeyConfig {
            kid,
            file,
            not_before,
            revoked: k.revoked,
        });
    }
    SigningConfig { keys, overlap }
}

fn is_kid_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:+/=".contains(&b)
}

fn parse_not_before(s: &str) -> Option<NotBefore> {
    let s = s.trim();
    if let Some(at) = parse_rfc3339(s) {
        return Some(NotBefore::At(at));
    }
    super::parse_duration(s).ok().map(NotBefore::After)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` → Unix seconds (fractions dropped); `None` for
/// anything else, including times before 1970.
pub(crate) fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut rest = b.get(19..)?;
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let d = |x: &u8| x.is_ascii_digit().then(|| i64::from(x - b'0'));
            let (h, m) = (d(h1)? * 10 + d(h2)?, d(m1)? * 10 + d(m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let month_days = *days_in.get(usize::try_from(month - 1).ok()?)?;
    if day < 1 || day > month_days || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(secs).ok()
}

/// `routes[i].identity_assertion`; `None` when it is not set.
fn identity_assertion(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: Option<RawIdentityAssertion>,
    auth: AuthMode,
) -> Option<IdentityAssertionConfig> {
    let raw = raw?;
    if auth == AuthMode::None {
        cx.push(
            path,
            "has no effect with `auth: none` (there is no identity to assert)",
        );
    }
    let name = raw.header.trim().to_ascii_lowercase();
    let header = match HeaderName::from_bytes(name.as_bytes()) {
        Ok(h) if RESERVED.contains(&h.as_str()) || h.as_str().starts_with("x-forwarded-") => {
            cx.push(
                &format!("{path}.header"),
                format!("`{name}` is a header the gateway or HTTP itself controls"),
            );
            h
        }
        Ok(h) => h,
        Err(_) => {
            cx.push(&format!("{path}.header"), "is not a valid header name");
            HeaderName::from_static(super::model::DEFAULT_ASSERTION_HEADER)
        }
    };
    let audience = raw
        .audience
        .map(|a| a.trim().to_owned())
        .unwrap_or_default();
    if audience.is_empty() {
        cx.push(
            &format!("{path}.audience"),
            "is required: the upstream checks `aud` to know the assertion is meant for it",
        );
    }
    let ttl_path = format!("{path}.ttl");
    let ttl = cx.duration(&ttl_path, &raw.ttl, true);
    if !ttl.is_zero() && !(MIN_TTL..=MAX_TTL).contains(&ttl) {
        cx.push(&ttl_path, "must be between 5s and 1h");
    }
    let alg = match raw.alg.trim() {
        "ES256" => AssertionAlg::Es256,
        "RS256" => AssertionAlg::Rs256,
        "EdDSA" => AssertionAlg::EdDsa,
        other => {
            cx.push(
                &format!("{path}.alg"),
                format!("`{other}` is not one of: ES256, RS256, EdDSA"),
            );
            AssertionAlg::Es256
        }
    };
    Some(IdentityAssertionConfig {
        header,
        audience,
        ttl,
        alg,
    })
}

/// What a route's `identity_assertion` and `token_exchange` are checked against.
pub(crate) struct RouteContext<'a> {
    pub auth: AuthMode,
    pub provider: Option<usize>,
    pub pass_access_token: bool,
    pub providers: &'a [ProviderConfig],
}

impl RouteContext<'_> {
    /// `routes[i].identity_assertion` and `routes[i].token_exchange` (`path` = `routes[i]`).
    pub(crate) fn validate(
        &self,
        cx: &mut Ctx<'_>,
        path: &str,
        assertion: Option<RawIdentityAssertion>,
        exchange: Option<RawTokenExchange>,
    ) -> (Option<IdentityAssertionConfig>, Option<TokenExchangeConfig>) {
        let a = identity_assertion(
            cx,
            &format!("{path}.identity_assertion"),
            assertion,
            self.auth,
        );
        let t = token_exchange(cx, &format!("{path}.token_exchange"), exchange, self);
        (a, t)
    }
}

/// `routes[i].token_exchange`; `None` when it is not set.
fn token_exchange(
    cx: &mut Ctx<'_>,
    path: &str,
    raw: Option<RawTokenExchange>,
    route: &RouteContext<'_>,
) -> Option<TokenExchangeConfig> {
    let raw = raw?;
    if route.auth == AuthMode::None {
        cx.push(
            path,
            "has no effect with `auth: none` (there is no caller token to exchange)",
        );
    }
    if route.pass_access_token {
        cx.push(
            path,
            "replaces the Authorization header; remove pass_access_token (it would be \
             overridden)",
        );
    }
    let provider = match raw.provider.as_deref().map(str::trim) {
        Some(name) => {
            let found = route.providers.iter().position(|p| p.name == name);
            if found.is_none() {
                cx.push(
                    &format!("{path}.provider"),
                    format!("unknown provider `{name}`"),
                );
            }
            found
        }
        None => route.provider,
    };
    let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let audience = clean(raw.audience);
    let scope = clean(raw.scope);
    if audience.is_none() && scope.is_none() {
        cx.push(
            path,
            "needs an audience or a scope (RFC 8693 §2.1): what the upstream's token is for",
        );
    }
    Some(TokenExchangeConfig {
        provider: provider?,
        audience,
        scope,
    })
}

/// Assertions carry `iss` = `server.public_url`: a route that signs needs it.
pub(crate) fn needs_public_url(cx: &mut Ctx<'_>, server: &ServerConfig, routes: &[RouteConfig]) {
    if server.public_url.is_some() {
        return;
    }
    for (i, r) in routes.iter().enumerate() {
        if r.identity_assertion.is_some() {
            cx.push(
                &format!("routes[{i}].identity_assertion"),
                "needs server.public_url: it is the assertions' `iss`, which upstreams check",
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2026-12-07T11:30:01Z"), Some(1_796_643_001));
        assert_eq!(
            parse_rfc3339("2026-12-07T12:30:01+01:00"),
            Some(1_796_643_001)
        );
        assert_eq!(
            parse_rfc3339("2026-12-07t11:30:01.123z"),
            Some(1_796_643_001)
        );
        for bad in [
            "2026-12-07",
            "2026-12-07T11:30:01",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-12-07T24:00:00Z",
            "2026-12-07T11:30:01.Z",
            "2026-12-07T11:30:01+1:00",
            "1969-12-31T23:59:59Z",
            "x026-12-07T11:30:01Z",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn not_before_is_a_time_or_a_duration() {
        assert_eq!(
            parse_not_before("2027-01-01T00:00:00Z"),
            Some(NotBefore::At(1_798_761_600))
        );
        assert_eq!(
            parse_not_before("90m"),
            Some(NotBefore::After(Duration::from_secs(5400)))
        );
        assert_eq!(parse_not_before("soon"), None);
    }
}
