//! A provider's signing keys: parsing a JWKS into ready-to-use `DecodingKey`s (once per
//! fetch), looking a key up for a token, and the per-provider cache with TTL from
//! `Cache-Control`, rate-limited and coalesced refetches, and stale-if-error.
//!
//! Keys come only from the provider's `jwks_uri`: this module must never take a key from a
//! token (`jwk`, `jku`, `x5u`, `x5c`), never accept symmetric (`oct`) keys, and never make
//! a request wait on a refresh while it holds keys that still verify its token.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use thiserror::Error;

use crate::oidc::http::{HttpError, IdpClient};
use crate::oidc::{IdpCall, ProviderObserver};

/// TTL when the JWKS response has no usable `Cache-Control: max-age`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// Shortest TTL honoured (protects the IdP from `max-age=0`).
pub const MIN_TTL: Duration = Duration::from_secs(60);
/// Longest TTL honoured (rotation must be noticed within a day).
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// The key type/curve of a usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (RS*/PS*), modulus ≥ 2048 bits.
    Rsa,
    /// EC P-256 (ES256).
    P256,
    /// EC P-384 (ES384).
    P384,
    /// OKP Ed25519 (EdDSA).
    Ed25519,
}

impl KeyKind {
    fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::P256 => alg == ES256,
            KeyKind::P384 => alg == ES384,
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }
}

/// One verification key from the JWKS.
#[derive(Clone)]
pub struct VerifyKey {
    /// `kid`, if the JWK had one.
    pub kid: Option<String>,
    /// Key type.
    pub kind: KeyKind,
    /// The JWK's `alg`, if it pinned one.
    pub alg: Option<Algorithm>,
    /// The key, built once per fetch.
    pub key: DecodingKey,
}

impl VerifyKey {
    fn suits(&self, alg: Algorithm) -> bool {
        self.kind.fits(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// Why no key was found for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMiss {
    /// No key with this kid (or, without kid, no suitable key): a refetch may help.
    NotFound,
    /// No kid and several suitable keys: the token must name its key.
    Ambiguous,
}

/// The usable keys of one JWKS document.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyKey>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey<'a> {
    kty: &'a str,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<&'a str>,
    key_ops: Option<Vec<&'a str>>,
    alg: Option<&'a str>,
    n: Option<&'a str>,
    e: Option<&'a str>,
    crv: Option<&'a str>,
    x: Option<&'a str>,
    y: Option<&'a str>,
}

/// Maps a JWS algorithm name (exact case) to the asymmetric algorithms we support.
pub fn asymmetric_alg(name: &str) -> Option<Algorithm> {
    use Algorithm::*;
    Some(match name {
        "RS256" => RS256,
        "RS384" => RS384,
        "RS512" => RS512,
        "PS256" => PS256,
        "PS384" => PS384,
        "PS512" => PS512,
        "ES256" => ES256,
        "ES384" => ES384,
        "EdDSA" => EdDSA,
        _ => return None,
    })
}

fn decoded_len(b64: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(b64).ok().map(|v| v.len())
}

impl KeySet {
    /// Parses a JWKS document. Keys that are not for signatures, of unsupported types, with
    /// an `alg` that does not fit their type, or malformed, are skipped one by one; a
    /// document with no usable key at all is an error (so it never replaces good keys).
    pub fn from_json(body: &[u8]) -> Result<KeySet, JwksError> {
        let raw: RawSet =
            serde_json::from_slice(body).map_err(|e| JwksError::Parse(e.to_string()))?;
        let keys: Vec<VerifyKey> = raw.keys.iter().filter_map(parse_key).collect();
        if keys.is_empty() {
            return Err(JwksError::Parse("no usable signing key".into()));
        }
        Ok(KeySet { keys })
    }

    /// The number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key for a token: `kid` matched exactly; without `kid`, only when exactly one key
    /// suits `alg` (guessing among several would let an attacker pick).
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<&DecodingKey, KeyMiss> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid) && k.suits(alg))
                .map(|k| &k.key)
                .ok_or(KeyMiss::NotFound),
            None => {
                let mut suitable = self.keys.iter().filter(|k| k.suits(alg));
                match (suitable.next(), suitable.next()) {
                    (Some(k), None) => Ok(&k.key),
                    (None, _) => Err(KeyMiss::NotFound),
                    (Some(_), Some(_)) => Err(KeyMiss::Ambiguous),
                }
            }
        }
    }
}

fn parse_key(value: &serde_json::Value) -> Option<VerifyKey> {
    let raw = RawKey::deserialize(value).ok()?;
    if raw.use_.is_some_and(|u| u != "sig") {
        return None;
    }
    if raw.key_ops.as_ref().is_some_and(|ops| !ops.contains(&"verify")) {
        return None;
    }
    let (kind, key) = match (raw.kty, raw.crv) {
        ("RSA", _) => {
            let (n, e) = (raw.n?, raw.e?);
            // aws-lc verifies RSA only from 2048 bits; skipping here gives a clear log.
            let n_len = URL_SAFE_NO_PAD.decode(n).ok()?;
            let significant = n_len.iter().skip_while(|b| **b == 0).count();
            if significant < 256 {
                return None;
            }
            (KeyKind::Rsa, DecodingKey::from_rsa_components(n, e).ok()?)
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (kind, size) = if crv == "P-256" {
                (KeyKind::P256, 32)
            } else {
                (KeyKind::P384, 48)
            };
            let (x, y) = (raw.x?, raw.y?);
            if decoded_len(x)? != size || decoded_len(y)? != size {
                return None;
            }
            (kind, DecodingKey::from_ec_components(x, y).ok()?)
        }
        ("OKP", Some("Ed25519")) => {
            let x = raw.x?;
            if decoded_len(x)? != 32 {
                return None;
            }
            (KeyKind::Ed25519, DecodingKey::from_ed_components(x).ok()?)
        }
        _ => return None,
    };
    let alg = match raw.alg {
        None => None,
        Some(name) => {
            let alg = asymmetric_alg(name)?;
            if !kind.fits(alg) {
                return None;
            }
            Some(alg)
        }
    };
    Some(VerifyKey {
        kid: raw.kid,
        kind,
        alg,
        key,
    })
}

/// `max-age` from `Cache-Control`, clamped to [`MIN_TTL`, `MAX_TTL`]; `no-cache`/`no-store`
/// mean the minimum; absent or unparsable means [`DEFAULT_TTL`].
pub fn ttl_from_cache_control(value: Option<&str>) -> Duration {
    let Some(value) = value else {
        return DEFAULT_TTL;
    };
    let mut ttl = None;
    for directive in value.split(',').map(str::trim) {
        let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return MIN_TTL;
        }
        if name.eq_ignore_ascii_case("max-age") {
            ttl = arg.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    ttl.map_or(DEFAULT_TTL, |t| t.clamp(MIN_TTL, MAX_TTL))
}

/// Why keys could not be obtained.
#[derive(Debug, Clone, Error)]
pub enum JwksError {
    /// The JWKS could not be fetched.
    #[error("fetching JWKS: {0}")]
    Fetch(String),
    /// The JWKS document is unusable.
    #[error("parsing JWKS: {0}")]
    Parse(String),
    /// No keys yet and the last attempt failed less than the refetch interval ago.
    #[error("no JWKS yet; last fetch failed recently")]
    NotYet,
}

impl From<HttpError> for JwksError {
    fn from(e: HttpError) -> Self {
        JwksError::Fetch(e.to_string())
    }
}

/// Counters for metrics and tests (monotonic).
#[derive(Debug, Default)]
pub struct JwksStats {
    /// Successful fetches.
    pub fetch_ok: AtomicU64,
    /// Failed fetches (the previous keys, if any, stayed in use).
    pub fetch_failed: AtomicU64,
    /// Refetches refused by the rate limit.
    pub rate_limited: AtomicU64,
}

struct Snapshot {
    keys: Arc<KeySet>,
    expires_at: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// Periodic refresh or warm-up: not rate-limited.
    Forced,
    /// Missing/expired keys or unknown kid: at most once per refetch interval.
    Lazy,
}

struct Inner {
    provider: Arc<str>,
    client: IdpClient,
    uri: ArcSwap<String>,
    current: ArcSwapOption<Snapshot>,
    /// Serialises fetches; holds the time of the last attempt (for the rate limit).
    fetch_lock: tokio::sync::Mutex<Option<Instant>>,
    /// Bumped after every attempt, so callers that waited on the lock reuse its result.
    attempts: AtomicU64,
    refreshing: AtomicBool,
    refetch_interval: Duration,
    observer: Arc<dyn ProviderObserver>,
    stats: JwksStats,
}

/// The per-provider JWKS cache. Cheap to clone (shared state).
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

impl JwksCache {
    /// A cache for `jwks_uri`, empty until the first fetch.
    pub fn new(
        provider: Arc<str>,
        client: IdpClient,
        jwks_uri: String,
        refetch_interval: Duration,
        observer: Arc<dyn ProviderObserver>,
    ) -> Self {
        JwksCache {
            inner: Arc::new(Inner {
                provider,
                client,
                uri: ArcSwap::from_pointee(jwks_uri),
                current: ArcSwapOption::empty(),
                fetch_lock: tokio::sync::Mutex::new(None),
                attempts: AtomicU64::new(0),
                refreshing: AtomicBool::new(false),
                refetch_interval,
                observer,
                stats: JwksStats::default(),
            }),
        }
    }

    /// Points the cache at a new `jwks_uri` (after re-discovery); keys stay until refreshed.
    pub fn set_uri(&self, jwks_uri: &str) -> bool {
        if self.inner.uri.load().as_str() == jwks_uri {
            return false;
        }
        self.inner.uri.store(Arc::new(jwks_uri.to_owned()));
        true
    }

    /// Counters.
    pub fn stats(&self) -> &JwksStats {
        &self.inner.stats
    }

    /// Whether keys were ever loaded.
    pub fn has_keys(&self) -> bool {
        self.inner.current.load().is_some()
    }

    /// The current keys. Fetches (coalesced, rate-limited) when there are none; when they
    /// are past their TTL, returns them at once and refreshes in the background.
    pub async fn keys(&self) -> Result<Arc<KeySet>, JwksError> {
        if let Some(snap) = self.inner.current.load_full() {
            if Instant::now() >= snap.expires_at {
                self.refresh_in_background();
            }
            return Ok(snap.keys.clone());
        }
        self.inner.fetch(Trigger::Lazy).await
    }

    /// Refetch because a token names a key we do not have: at most once per refetch
    /// interval per provider; concurrent callers share one request. Returns the keys to
    /// retry with (possibly unchanged).
    pub async fn refetch_for_unknown_key(&self) -> Result<Arc<KeySet>, JwksError> {
        self.inner.fetch(Trigger::Lazy).await
    }

    /// Unconditional refresh (warm-up, periodic task); coalesced with concurrent fetches.
    pub async fn refresh(&self) -> Result<Arc<KeySet>, JwksError> {
        self.inner.fetch(Trigger::Forced).await
    }

    /// Whether the keys are past their TTL (the periodic task refreshes them then).
    pub fn is_stale(&self) -> bool {
        self.inner
            .current
            .load()
            .as_ref()
            .is_none_or(|s| Instant::now() >= s.expires_at)
    }

    fn refresh_in_background(&self) {
        if self.inner.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            // Errors are logged and counted inside; stale keys keep serving meanwhile.
            let _ = inner.fetch(Trigger::Lazy).await;
            inner.refreshing.store(false, Ordering::Release);
        });
    }

    /// Test hook: makes the current keys look expired.
    #[cfg(test)]
    pub(crate) fn expire_now(&self) {
        if let Some(snap) = self.inner.current.load_full() {
            self.inner.current.store(Some(Arc::new(Snapshot {
                keys: snap.keys.clone(),
                expires_at: Instant::now(),
            })));
        }
    }
}

impl Inner {
    fn current_keys(&self) -> Option<Arc<KeySet>> {
        self.current.load().as_ref().map(|s| s.keys.clone())
    }

    async fn fetch(&self, trigger: Trigger) -> Result<Arc<KeySet>, JwksError> {
        let seen = self.attempts.load(Ordering::Acquire);
        let mut last_attempt = self.fetch_lock.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            // Someone fetched while we queued: their result is as fresh as ours would be.
            return self.current_keys().ok_or(JwksError::NotYet);
        }
        if trigger == Trigger::Lazy
            && last_attempt.is_some_and(|t| t.elapsed() < self.refetch_interval)
        {
            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            return self.current_keys().ok_or(JwksError::NotYet);
        }
        *last_attempt = Some(Instant::now());
        let started = Instant::now();
        let result = self.fetch_once().await;
        self.attempts.fetch_add(1, Ordering::AcqRel);
        let ok = result.is_ok();
        self.observer
            .idp_call(&self.provider, IdpCall::Jwks, started.elapsed(), ok);
        self.observer.jwks_fetch(&self.provider, ok);
        match result {
            Ok((keys, ttl)) => {
                self.stats.fetch_ok.fetch_add(1, Ordering::Relaxed);
                let keys = Arc::new(keys);
                self.current.store(Some(Arc::new(Snapshot {
                    keys: keys.clone(),
                    expires_at: Instant::now() + ttl,
                })));
                tracing::debug!(provider = %self.provider, keys = keys.len(), ttl_s = ttl.as_secs(), "JWKS loaded");
                Ok(keys)
            }
            Err(e) => {
                self.stats.fetch_failed.fetch_add(1, Ordering::Relaxed);
                let stale = self.current_keys();
                tracing::warn!(provider = %self.provider, error = %e, serving_stale = stale.is_some(), "JWKS fetch failed");
                stale.ok_or(e)
            }
        }
    }

    async fn fetch_once(&self) -> Result<(KeySet, Duration), JwksError> {
        let uri = self.uri.load_full();
        let response = self
            .client
            .get(&uri, "application/jwk-set+json, application/json")
            .await?
            .success()?;
        let cache_control = response
            .headers
            .get(http::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok());
        let ttl = ttl_from_cache_control(cache_control);
        Ok((KeySet::from_json(&response.body)?, ttl))
    }
}

#[cfg(test)]
mod tests;
