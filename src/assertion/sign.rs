//! A route's identity assertion: the compact JWS the upstream gets (`iss` = public URL,
//! `aud`, `sub`, `preferred_username`, `email`, `groups`, `idp`, `route`, `iat`, `exp`,
//! a fresh `jti`), cached per principal until shortly before it expires.
//!
//! The cache key is a SHA-256 over the identity fields the assertion states (never a
//! token or a cookie), so a steady stream of one user's requests costs one signature per
//! lifetime; a hit is one hash, one lookup by reference (no key allocation) and a
//! reference-counted `HeaderValue` clone.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use serde_json::json;

use super::ring::KeyRing;
use crate::auth::principal::Principal;
use crate::config::{AssertionAlg, IdentityAssertionConfig};

/// Cached assertions per route.
const CACHE_SIZE: u64 = 10_000;
/// Longest margin before `exp` at which a cached assertion is replaced.
const MAX_MARGIN: Duration = Duration::from_secs(5);

/// Why no assertion could be made (the request fails with 500: the route promised one).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AssertionError {
    /// No key of the route's algorithm (cannot happen once the ring was built for it).
    #[error("no {0} signing key")]
    NoKey(&'static str),
    /// The system failed to sign or to produce randomness.
    #[error("signing failed")]
    Sign,
}

pub use crate::metrics::AssertionMetrics;

/// One route's assertion settings and cache.
pub struct RouteAssertion {
    header: HeaderName,
    audience: String,
    ttl: Duration,
    alg: AssertionAlg,
    route: Arc<str>,
    issuer: String,
    /// Assertions and the unix second each is served until (`ttl` less the margin).
    cache: moka::future::Cache<[u8; 32], (HeaderValue, u64)>,
    /// How long before its `exp` an assertion is replaced.
    margin: Duration,
    /// This route assertion's key in a principal's `asserted` memo (a reload makes a
    /// new one, so a changed audience or ttl never serves an older assertion).
    memo: u64,
    metrics: AssertionMetrics,
}

impl RouteAssertion {
    /// The assertion of route `route`, issued by `issuer` (`server.public_url`).
    pub fn new(
        cfg: &IdentityAssertionConfig,
        route: Arc<str>,
        issuer: &str,
        metrics: AssertionMetrics,
    ) -> Self {
        // Replaced a little before `exp`, so it never reaches an upstream about to expire.
        let margin = (cfg.ttl / 4).min(MAX_MARGIN);
        RouteAssertion {
            header: cfg.header.clone(),
            audience: cfg.audience.clone(),
            ttl: cfg.ttl,
            alg: cfg.alg,
            route,
            issuer: issuer.trim_end_matches('/').to_owned(),
            cache: moka::future::Cache::builder()
                .max_capacity(CACHE_SIZE)
                .time_to_live(cfg.ttl.saturating_sub(margin))
                .build(),
            margin,
            memo: crate::auth::memo::next_key(),
            metrics,
        }
    }

    /// The header the assertion travels in.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The assertion for `p` (vouched for by provider `idp`): cached, or signed now
    /// with the ring's current key (concurrent misses for one principal sign once).
    pub async fn value(
        &self,
        ring: &KeyRing,
        p: &Principal,
        idp: &str,
        now: u64,
    ) -> Result<HeaderValue, AssertionError> {
        if let Some(value) = self.cached_now(p, now) {
            return Ok(value);
        }
        let key = cache_key(p, idp);
        let mut signed = false;
        let result = self
            .cache
            .try_get_with_by_ref(&key, async {
                signed = true;
                let value = self.sign(ring, p, idp, now)?;
                let until = now + self.ttl.saturating_sub(self.margin).as_secs();
                Ok((value, until))
            })
            .await;
        match &result {
            Ok(_) if signed => self.metrics.signed.inc(),
            Ok(_) => self.metrics.cache_hit.inc(),
            Err(_) => self.metrics.failed.inc(),
        }
        let (value, until) = result.map_err(|e: Arc<AssertionError>| (*e).clone())?;
        // Kept with the (shared) principal too: the next request of this principal
        // on this route is served without a hash, a cache lookup or a future.
        p.asserted.set(self.memo, (value.clone(), until));
        Ok(value)
    }

    /// The assertion kept with `p` for this route while it is served (until the same
    /// second the cache would replace it), without waiting; `None`: ask [`Self::value`].
    pub fn cached_now(&self, p: &Principal, now: u64) -> Option<HeaderValue> {
        let (value, until) = p.asserted.get(self.memo)?;
        if now >= until {
            return None;
        }
        self.metrics.cache_hit.inc();
        Some(value)
    }

    fn sign(
        &self,
        ring: &KeyRing,
        p: &Principal,
        idp: &str,
        now: u64,
    ) -> Result<HeaderValue, AssertionError> {
        let state = ring
            .signer(self.alg, now)
            .ok_or(AssertionError::NoKey(self.alg.as_str()))?;
        let key = state.key();
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).map_err(|_| AssertionError::Sign)?;
        let header = json!({"alg": self.alg.as_str(), "kid": key.kid(), "typ": "JWT"});
        let mut claims = json!({
            "iss": self.issuer,
            "aud": self.audience,
            "sub": p.subject,
            "groups": p.groups,
            "idp": idp,
            "route": &*self.route,
            "iat": now,
            "exp": now + self.ttl.as_secs(),
            "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        if let serde_json::Value::Object(c) = &mut claims {
            if let Some(email) = &p.email {
                c.insert("email".into(), json!(email));
            }
            if let Some(name) = &p.username {
                c.insert("preferred_username".into(), json!(name));
            }
        }
        let mut jws = URL_SAFE_NO_PAD.encode(header.to_string());
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut jws);
        let signature = key.sign(jws.as_bytes()).map_err(|_| AssertionError::Sign)?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
        state.signed_at(now);
        let mut value = HeaderValue::try_from(jws).map_err(|_| AssertionError::Sign)?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// SHA-256 over every identity field the assertion states, each length-prefixed so no
/// two identities share an encoding.
fn cache_key(p: &Principal, idp: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_le_bytes());
        ctx.update(bytes);
    };
    field(idp.as_bytes());
    field(p.subject.as_bytes());
    field(p.username.as_deref().unwrap_or("\u{0}none").as_bytes());
    field(p.email.as_deref().unwrap_or("\u{0}none").as_bytes());
    for g in &p.groups {
        field(g.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
