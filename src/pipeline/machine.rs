//! Machine credentials in the request path: reading a presented API key (never from the
//! query string), turning it into its principal, the DPoP checks of a token request
//! (proof, binding, nonce, replay), and keeping API keys from the upstream.
//!
//! Decisions only: failures are `AuthError`s for `error::respond`; a key, token or
//! proof never reaches a log line (a short hash prefix at most, in `auth::api_key`).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method};

use crate::auth::api_key::{KeyRefusal, API_KEY_SCHEME, MAX_KEY_LEN};
use crate::auth::credentials::{self, is_token68, Presented};
use crate::auth::dpop::{self, htu, Binding, DpopError, Expect, ProofError, DPOP, DPOP_SCHEME};
use crate::auth::jwt::unix_now;
use crate::auth::principal::Principal;
use crate::auth::{AuthError, Claims};
use crate::config::DpopMode;
use crate::oidc::sso::origin_of;
use crate::proxy::headers::{X_FORWARDED_HOST, X_FORWARDED_PROTO};
use crate::runtime::{RouteRuntime, Runtime};

/// `[apikey]`, for the credential parser.
static API_KEY_SCHEMES: LazyLock<[String; 1]> = LazyLock::new(|| [API_KEY_SCHEME.to_owned()]);

/// The request a DPoP proof must describe: this one, or the one a front proxy asks
/// about (forward-auth).
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    /// Its method.
    pub method: &'a Method,
    /// Its path as the client sent it (no query).
    pub raw_path: &'a str,
    /// Whether the client used https.
    pub https: bool,
    /// The host (and port) the client addressed.
    pub host: Option<&'a str>,
}

fn first_item<'h>(headers: &'h HeaderMap, name: &http::HeaderName) -> Option<&'h str> {
    let v = headers.get(name)?.to_str().ok()?;
    Some(v.split(',').next().unwrap_or(v).trim()).filter(|s| !s.is_empty())
}

impl<'a> RequestView<'a> {
    /// This request, as hygiene left it: `X-Forwarded-Proto`/`-Host` in its map are a
    /// trusted proxy's, never an untrusted client's (the gateway's own, which say what
    /// `tls` and the request's host say, travel beside the map); `tls`: the client's
    /// connection is TLS.
    pub fn of<B>(req: &'a http::Request<B>, tls: bool) -> RequestView<'a> {
        let h = req.headers();
        RequestView {
            method: req.method(),
            raw_path: req.uri().path(),
            https: first_item(h, &X_FORWARDED_PROTO)
                .map_or(tls, |p| p.eq_ignore_ascii_case("https")),
            host: first_item(h, &X_FORWARDED_HOST)
                .or_else(|| req.uri().authority().map(|a| a.as_str()))
                .or_else(|| first_item(h, &http::header::HOST)),
        }
    }
}

/// The API key the request presents: `Authorization: ApiKey <key>` or the configured
/// `api_key_header`. Never the query string. Both at once, or a key beside a token the
/// route would also read, is ambiguous (400).
pub fn presented_api_key<'h>(
    rt: &Runtime,
    route: &RouteRuntime,
    headers: &'h HeaderMap,
) -> Result<Option<&'h str>, AuthError> {
    let from_authorization = match credentials::from_headers(headers, &*API_KEY_SCHEMES) {
        Ok(c) => Some(c.token),
        Err(AuthError::Missing) => None,
        Err(e) => return Err(e),
    };
    let Some(name) = &rt.config.api_keys.header else {
        return Ok(from_authorization);
    };
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(from_authorization);
    };
    if values.next().is_some() {
        return Err(AuthError::Malformed("more than one API key header"));
    }
    if from_authorization.is_some() {
        return Err(AuthError::Malformed("API key presented twice"));
    }
    if route.config.accept.bearer {
        let token = credentials::from_headers(headers, &route.machine.token_schemes);
        if !matches!(token, Err(AuthError::Missing)) {
            return Err(AuthError::Malformed("an API key and an access token"));
        }
    }
    let key = value
        .to_str()
        .map_err(|_| AuthError::Malformed("API key header is not visible ASCII"))?
        .trim_matches([' ', '\t']);
    if key.is_empty() || key.len() > MAX_KEY_LEN || !is_token68(key) {
        return Err(AuthError::Malformed("API key header is not a key"));
    }
    Ok(Some(key))
}

/// The principal of a presented key: unknown and expired keys are `invalid_token`.
pub fn api_key(rt: &Runtime, key: &str) -> Result<Arc<Principal>, AuthError> {
    let store = rt
        .machine
        .api_keys
        .as_ref()
        .ok_or_else(|| AuthError::InvalidToken("no API key sources".into()))?;
    if key.len() > MAX_KEY_LEN {
        return Err(AuthError::InvalidToken("API key too long".into()));
    }
    let now = i64::try_from(crate::session::unix_now()).unwrap_or(i64::MAX);
    match store.find(key, now) {
        Ok(k) => Ok(k.principal.clone()),
        Err(KeyRefusal::Unknown) => Err(AuthError::InvalidToken("unknown API key".into())),
        Err(KeyRefusal::Expired(_)) => Err(AuthError::InvalidToken("expired API key".into())),
    }
}

/// Removes what carried an API key (or a token) before the request goes upstream: the
/// `api_key_header`, and `Authorization` when its scheme is one of `route`'s credential
/// schemes that must not travel on — `ApiKey` always; token schemes only on a public
/// path (`authenticated` false), where nobody checked them.
pub fn strip_credentials(
    rt: &Runtime,
    route: &RouteRuntime,
    headers: &mut HeaderMap,
    authenticated: bool,
) {
    if route.config.accept.api_key {
        if let Some(name) = &rt.config.api_keys.header {
            headers.remove(name);
        }
    }
    let strip: &[String] = if authenticated {
        if route.config.accept.api_key {
            &*API_KEY_SCHEMES
        } else {
            &[]
        }
    } else {
        &route.machine.strip_schemes
    };
    if strip.is_empty() {
        return;
    }
    let carries = |v: &HeaderValue| {
        let scheme = v.as_bytes().trim_ascii_start();
        // The scheme ends at any whitespace: upstreams that split on it read
        // `Bearer<TAB>token` as a bearer token too.
        let scheme = scheme
            .split(|&b| b == b' ' || b == b'\t')
            .next()
            .unwrap_or_default();
        strip
            .iter()
            .any(|s| s.as_bytes().eq_ignore_ascii_case(scheme))
    };
    if headers.get_all(AUTHORIZATION).iter().any(carries) {
        headers.remove(AUTHORIZATION);
    }
}

/// The origin a proof's `htu` must name: `server.public_url` (with the request's host
/// on a host-bound route, which routing already matched), else what the client used.
fn expected_origin(rt: &Runtime, route: &RouteRuntime, view: &RequestView<'_>) -> Option<String> {
    match &rt.config.server.public_url {
        Some(public) if route.config.host.is_some() => Some(format!(
            "{}://{}",
            public.scheme_str().unwrap_or("https"),
            view.host?
        )),
        Some(public) => Some(origin_of(public)),
        None => {
            let scheme = if view.https { "https" } else { "http" };
            Some(format!("{scheme}://{}", view.host?))
        }
    }
}

fn count(rt: &Runtime, route: &RouteRuntime, outcome: &str) {
    rt.metrics
        .machine
        .dpop_proofs
        .with_label_values(&[&route.name, outcome])
        .inc();
}

/// RFC 9449 for a verified token: a DPoP-bound token (`cnf.jkt`) only with the `DPoP`
/// scheme and a proof of its key; `dpop: required` refuses every other token. `view`
/// (the request the proof must describe) is asked for only when there is a proof.
pub async fn check_dpop<'v>(
    rt: &Runtime,
    route: &RouteRuntime,
    view: impl FnOnce() -> RequestView<'v>,
    headers: &HeaderMap,
    presented: Presented<'_>,
    claims: &Claims,
) -> Result<(), AuthError> {
    let mode = route.config.machine.dpop;
    let bound = match dpop::binding(claims) {
        Binding::Unbound => None,
        Binding::Bound(jkt) => Some(jkt),
        Binding::Malformed => {
            count(rt, route, "binding");
            return Err(AuthError::InvalidToken("malformed cnf claim".into()));
        }
    };
    if !presented.scheme().eq_ignore_ascii_case(DPOP_SCHEME) {
        if bound.is_some() {
            count(rt, route, "downgrade");
            return Err(AuthError::InvalidToken(
                "DPoP-bound token presented as Bearer".into(),
            ));
        }
        if mode == DpopMode::Required {
            count(rt, route, "bearer_refused");
            return Err(AuthError::InvalidToken("the route requires DPoP".into()));
        }
        return Ok(());
    }
    let Some(jkt) = bound else {
        count(rt, route, "unbound");
        return Err(AuthError::InvalidToken(
            "DPoP scheme with an unbound token".into(),
        ));
    };
    // Only a proof reads the token (its `ath`): a cached Bearer token is not scanned again.
    let token = presented.check()?.token;
    // Boxed: only a DPoP request waits here (nonce, replay cache), not every bearer one.
    let result = Box::pin(proof(rt, route, &view(), headers, token, jkt)).await;
    count(
        rt,
        route,
        match &result {
            Ok(()) => "ok",
            Err(AuthError::Dpop(DpopError::InvalidProof(e))) => e.label(),
            Err(AuthError::Dpop(DpopError::UseNonce(_))) => "nonce",
            Err(AuthError::Dpop(DpopError::Unavailable(_))) => "unavailable",
            Err(_) => "binding",
        },
    );
    result
}

async fn proof(
    rt: &Runtime,
    route: &RouteRuntime,
    view: &RequestView<'_>,
    headers: &HeaderMap,
    token: &str,
    jkt: &str,
) -> Result<(), AuthError> {
    let invalid = |e: ProofError| AuthError::Dpop(DpopError::InvalidProof(e));
    let mut values = headers.get_all(DPOP).iter();
    let value = values.next().ok_or(invalid(ProofError::Missing))?;
    if values.next().is_some() {
        return Err(invalid(ProofError::Multiple));
    }
    let value = value.to_str().map_err(|_| invalid(ProofError::Malformed))?;
    let m = &route.machine;
    let origin = expected_origin(rt, route, view);
    let want_htu = origin.and_then(|o| htu::request_htu(&o, view.raw_path));
    let now = unix_now();
    let expect = Expect {
        method: view.method.as_str(),
        htu: want_htu.as_deref(),
        access_token: token,
        now,
        window: m.dpop_window.as_secs_f64(),
        leeway: m.leeway.as_secs_f64(),
    };
    let parsed = dpop::verify(value.trim(), &expect).map_err(invalid)?;
    if parsed.key.thumbprint != jkt {
        return Err(AuthError::InvalidToken("DPoP key binding mismatch".into()));
    }
    if route.config.machine.dpop_nonce {
        let secs = now as u64;
        let period = m.dpop_window.as_secs().max(1);
        let fresh = parsed
            .claims
            .nonce
            .as_deref()
            .is_some_and(|n| rt.machine.nonce.accepts(n, secs, period));
        if !fresh {
            let nonce = rt.machine.nonce.issue(secs, period);
            return Err(AuthError::Dpop(DpopError::UseNonce(nonce)));
        }
    }
    // Long enough to outlive every acceptable `iat`, either side of the window.
    let ttl = m.dpop_window + m.leeway * 2 + Duration::from_secs(1);
    let jti = &parsed.claims.jti;
    let first = match rt.sso.as_ref().and_then(|s| s.redis.as_ref()) {
        // Provider names never hold `:`, so these keys never meet a logout token's.
        Some(redis) => redis
            .first_use_of_jti(&format!("dpop:{jkt}"), jti, ttl)
            .await
            .map_err(|e| AuthError::Dpop(DpopError::Unavailable(e.to_string())))?,
        None => rt.machine.replay.first_use(jkt, jti, ttl).await,
    };
    if !first {
        return Err(invalid(ProofError::Replay));
    }
    Ok(())
}
