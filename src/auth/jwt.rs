//! Local validation of a provider's compact-JWS tokens (access tokens and, as in seed
//! 000, ID tokens used as API tokens), and the verified-token cache.
//!
//! We parse the JOSE header ourselves so the allowlist, `crit` and `typ` rules are ours;
//! the signature is checked with aws-lc-rs on keys parsed once (`jwks::keys`), and the
//! claim rules (`iss`, `aud`, numeric `exp`, `nbf`, `iat`) are checked here. Must never
//! find a key through the token (`jku`, `x5u`, `jwk`, `x5c`), never accept `none` or
//! HMAC, and never put the token into an error or log line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::credentials::{all_bytes, is_base64url_byte};
use super::jwks::{asymmetric_alg, Candidates, KeyMiss, KeySet};
use super::{AuthError, Claims};

/// The algorithms a provider token may use when neither config nor discovery narrows it.
pub const ASYMMETRIC_ALGS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why a token was refused. The reason is for logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// No key in the provider's JWKS fits the token (refetch or introspection may help).
    UnknownKey,
    /// Anything else, with a short static reason.
    Invalid(&'static str),
}

impl From<JwtError> for AuthError {
    fn from(e: JwtError) -> Self {
        match e {
            JwtError::UnknownKey => AuthError::InvalidToken("no matching key in JWKS".into()),
            JwtError::Invalid(reason) => AuthError::InvalidToken(reason.into()),
        }
    }
}

/// What we take from the JOSE header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    /// The (allowed) algorithm.
    pub alg: Algorithm,
    /// The key id, if any.
    pub kid: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    // Presence alone is fatal (even `null`): we implement no JWS extension (RFC 7515 §4.1.11).
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// Decodes and vets the JOSE header of a compact JWS: `alg` one of `allowed` (never
/// `none` or HMAC), no `crit` (its presence alone, even `null`), and `typ`, when present,
/// one of `typs` (case-insensitive, with or without the `application/` prefix).
/// Shared by access tokens and back-channel logout tokens.
pub fn vet_header(
    token: &str,
    allowed: &[Algorithm],
    typs: &[&str],
) -> Result<TokenHeader, JwtError> {
    let encoded = token
        .split('.')
        .next()
        .ok_or(JwtError::Invalid("not a JWS"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| JwtError::Invalid("header is not base64url"))?;
    let raw: RawHeader = serde_json::from_slice(&bytes)
        .map_err(|_| JwtError::Invalid("header is not a valid JOSE header"))?;
    if raw.alg.eq_ignore_ascii_case("none") {
        return Err(JwtError::Invalid("alg none"));
    }
    if raw
        .alg
        .get(..2)
        .is_some_and(|p| p.eq_ignore_ascii_case("hs"))
    {
        return Err(JwtError::Invalid("symmetric alg"));
    }
    let alg = asymmetric_alg(&raw.alg)
        .filter(|a| allowed.contains(a))
        .ok_or(JwtError::Invalid("alg not allowed"))?;
    if raw.crit {
        return Err(JwtError::Invalid("crit header"));
    }
    if let Some(typ) = &raw.typ {
        let t = typ
            .get(..12)
            .filter(|p| p.eq_ignore_ascii_case("application/"))
            .map_or(typ.as_str(), |_| &typ[12..]);
        if !typs.iter().any(|accepted| t.eq_ignore_ascii_case(accepted)) {
            return Err(JwtError::Invalid("typ not accepted"));
        }
    }
    Ok(TokenHeader { alg, kid: raw.kid })
}

/// Whether `token` has the compact-JWS shape (three non-empty base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    // One scan of the whole token (often 1 kB or more), then the dots.
    let bytes = token.as_bytes();
    if !all_bytes(bytes, |b| is_base64url_byte(b) | (b == b'.')) {
        return false;
    }
    let mut parts = token.split('.');
    let non_empty = |p: Option<&str>| p.is_some_and(|p| !p.is_empty());
    non_empty(parts.next())
        && non_empty(parts.next())
        && non_empty(parts.next())
        && parts.next().is_none()
}

/// Whether `token` is an unsecured JWS, `header.payload.` with an empty signature
/// (RFC 7515 §A.5, `alg: none`): never valid, and never worth an introspection call.
pub fn is_unsigned_jwt(token: &str) -> bool {
    token.strip_suffix('.').is_some_and(|signed| {
        let mut parts = signed.split('.');
        b64_part(parts.next()) && b64_part(parts.next()) && parts.next().is_none()
    })
}

/// A non-empty base64url part.
fn b64_part(p: Option<&str>) -> bool {
    p.is_some_and(|p| !p.is_empty() && all_bytes(p.as_bytes(), is_base64url_byte))
}

/// Seconds since the epoch, as a float (NumericDate may have fractions).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A number of seconds computed from a token's NumericDates, as a `Duration` no longer
/// than `cap`: a negative number (or NaN) is zero, and one too large for a `Duration`
/// (`"exp": 1e20`, which `Duration::from_secs_f64` would panic on) is `cap`.
pub fn bounded_secs(secs: f64, cap: Duration) -> Duration {
    Duration::try_from_secs_f64(secs.max(0.0)).map_or(cap, |d| d.min(cap))
}

/// The longest a verified token stays cached, whatever its `exp` says.
const MAX_CACHED: Duration = Duration::from_secs(24 * 3600);

/// One provider's token rules.
#[derive(Debug, Clone)]
pub struct JwtValidator {
    issuer: String,
    audiences: Vec<String>,
    leeway: f64,
    algs: Vec<Algorithm>,
}

impl JwtValidator {
    /// Rules for tokens of `issuer`, with `aud` containing one of `audiences`.
    pub fn new(
        issuer: String,
        audiences: Vec<String>,
        leeway: Duration,
        algs: Vec<Algorithm>,
    ) -> Self {
        JwtValidator {
            issuer,
            audiences,
            leeway: leeway.as_secs_f64(),
            algs,
        }
    }

    /// The allowlist: the configured algorithms, else what discovery advertises for ID
    /// tokens, intersected with [`ASYMMETRIC_ALGS`] either way; when that leaves nothing,
    /// the whole asymmetric set (keys still come only from the provider's JWKS).
    pub fn allowed_algs(
        configured: Option<&[Algorithm]>,
        discovered: Option<&[String]>,
    ) -> Vec<Algorithm> {
        let picked: Vec<Algorithm> = match (configured, discovered) {
            (Some(cfg), _) => cfg
                .iter()
                .copied()
                .filter(|a| ASYMMETRIC_ALGS.contains(a))
                .collect(),
            (None, Some(names)) => names.iter().filter_map(|n| asymmetric_alg(n)).collect(),
            (None, None) => Vec::new(),
        };
        if picked.is_empty() {
            ASYMMETRIC_ALGS.to_vec()
        } else {
            picked
        }
    }

    /// The allowed algorithms.
    pub fn algs(&self) -> &[Algorithm] {
        &self.algs
    }

    /// Decodes and vets the JOSE header: allowed `alg`, no `crit`, acceptable `typ`.
    pub fn header(&self, token: &str) -> Result<TokenHeader, JwtError> {
        vet_header(token, &self.algs, &["jwt", "at+jwt"])
    }

    /// [`header`](Self::header) for an ID token: an access token's `typ` (`at+jwt`, RFC
    /// 9068 §2.1, there to keep access tokens from passing as ID tokens) is refused.
    pub fn id_token_header(&self, token: &str) -> Result<TokenHeader, JwtError> {
        vet_header(token, &self.algs, &["jwt"])
    }

    /// Verifies the signature with one of `keys`, then the claims. Returns claims and `exp`.
    pub fn verify(
        &self,
        token: &str,
        header: &TokenHeader,
        keys: Candidates<'_>,
        now: f64,
    ) -> Result<(Claims, f64), JwtError> {
        verify_signature(token, header.alg, keys)?;
        let claims = unverified_claims(token)?;
        let exp = self.check_claims(&claims, now)?;
        Ok((claims, exp))
    }

    /// The issuer rule alone, for a token's still unverified claims: a token of another
    /// issuer is refused before any key lookup, so it can never make this provider
    /// refetch its JWKS (the claims are trusted only after the signature check).
    pub fn check_issuer(&self, claims: &Claims) -> Result<(), JwtError> {
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => Ok(()),
            Some(_) => Err(JwtError::Invalid("issuer not accepted here")),
            None => Err(JwtError::Invalid("iss missing")),
        }
    }

    /// Header, key lookup and verification against one key set (no refetch).
    pub fn validate(&self, token: &str, keys: &KeySet) -> Result<(Claims, f64), JwtError> {
        if !looks_like_jwt(token) {
            return Err(JwtError::Invalid("not a JWS"));
        }
        let header = self.header(token)?;
        // Parsed once: vetted for the issuer before the key lookup, trusted after the
        // signature.
        let claims = unverified_claims(token)?;
        self.check_issuer(&claims)?;
        let candidates = keys
            .find(header.kid.as_deref(), header.alg)
            .map_err(key_miss)?;
        verify_signature(token, header.alg, candidates)?;
        let exp = self.check_claims(&claims, unix_now())?;
        Ok((claims, exp))
    }

    /// `iss` exact; `aud` (string or array) has one of ours; `exp` a number in the future;
    /// `nbf`/`iat` (when present) numbers not in the future, all with leeway. Returns `exp`.
    pub fn check_claims(&self, claims: &Claims, now: f64) -> Result<f64, JwtError> {
        self.check_issuer(claims)?;
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => self.audiences.iter().any(|x| x == a),
            Some(Value::Array(list)) => list.iter().any(|a| {
                a.as_str()
                    .is_some_and(|a| self.audiences.iter().any(|x| x == a))
            }),
            Some(_) => return Err(JwtError::Invalid("aud malformed")),
            None => return Err(JwtError::Invalid("aud missing")),
        };
        if !aud_ok {
            return Err(JwtError::Invalid("wrong aud"));
        }
        let exp = numeric(claims, "exp")?.ok_or(JwtError::Invalid("exp missing"))?;
        if now >= exp + self.leeway {
            return Err(JwtError::Invalid("expired"));
        }
        if numeric(claims, "nbf")?.is_some_and(|nbf| nbf > now + self.leeway) {
            return Err(JwtError::Invalid("not yet valid (nbf)"));
        }
        if numeric(claims, "iat")?.is_some_and(|iat| iat > now + self.leeway) {
            return Err(JwtError::Invalid("issued in the future (iat)"));
        }
        Ok(exp)
    }

    /// Whether a cached token with this `exp` is still within its lifetime.
    pub fn still_valid(&self, exp: f64, now: f64) -> bool {
        now < exp + self.leeway
    }
}

/// Maps a key-lookup miss to a rejection.
pub fn key_miss(miss: KeyMiss) -> JwtError {
    match miss {
        KeyMiss::NotFound => JwtError::UnknownKey,
        KeyMiss::Ambiguous => JwtError::Invalid("no kid and several candidate keys"),
        KeyMiss::TooMany => JwtError::Invalid("too many keys share the token's kid"),
    }
}

/// The payload of a compact JWS as a JSON object. NOT verified: callers check the
/// signature before trusting anything in it beyond picking which rules apply.
pub fn unverified_claims(token: &str) -> Result<Claims, JwtError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or(JwtError::Invalid("not a JWS"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| JwtError::Invalid("payload is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Invalid("payload is not a JSON object"))
}

/// Checks the compact-JWS signature of `token` with each of `keys` in turn; it is good
/// when one of them verifies it. Trying every candidate (not the first) makes the result
/// independent of the order of the JWKS document when two keys share a `kid`.
pub fn verify_signature(token: &str, alg: Algorithm, keys: Candidates<'_>) -> Result<(), JwtError> {
    let (message, signature) = token
        .rsplit_once('.')
        .ok_or(JwtError::Invalid("not a JWS"))?;
    let unfit = JwtError::Invalid("signature undecodable or key unfit");
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| unfit)?;
    let mut refused = unfit;
    for key in keys.iter() {
        match key.verify(alg, message.as_bytes(), &signature) {
            Some(true) => return Ok(()),
            Some(false) => refused = JwtError::Invalid("bad signature"),
            None => {}
        }
    }
    Err(refused)
}

/// A NumericDate claim: absent → None; present → must be a finite JSON number (a string
/// such as `"exp": "9999999999"` is refused, cf. CVE-2026-25537).
fn numeric(claims: &Claims, name: &'static str) -> Result<Option<f64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(JwtError::Invalid("time claim out of range")),
        },
        Some(_) => Err(JwtError::Invalid("time claim is not a number")),
    }
}

mod cache;
pub use cache::{VerifiedCache, VerifiedToken};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
