//! Parsing a DPoP proof (RFC 9449 §4.2): a compact JWS whose header names `typ`
//! `dpop+jwt`, an asymmetric `alg` and the public `jwk` it is signed with, and whose
//! claims hold `jti`, `htm`, `htu`, `iat` (and `ath`, `nonce`).
//!
//! One pass per part: the header and the claims are each decoded and deserialised once,
//! straight into the structs below (duplicate members are an error, so no two readers
//! can see two values). Untrusted input: every failure is a [`ProofError`], never a
//! panic; nothing here checks the signature or compares with the request
//! ([`super::verify`] does).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};

use super::jwk::{ProofAlg, ProofKey, RawJwk};
use super::ProofError;
use crate::auth::credentials::{all_bytes, is_base64url_byte};

/// Longer proofs are refused unread (an RSA-4096 proof is about 1.3 kB).
pub const MAX_PROOF_LEN: usize = 8192;
/// Longest `jti` remembered (RFC 9449 asks for 96 bits of randomness; UUIDs are 36).
pub const MAX_JTI_LEN: usize = 256;

/// A proof, parsed but not yet verified.
#[derive(Debug)]
pub struct ParsedProof<'a> {
    /// Its algorithm.
    pub alg: ProofAlg,
    /// The key from its header.
    pub key: ProofKey,
    /// `base64url(header) . base64url(claims)`: what the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
    /// Its claims.
    pub claims: ProofClaims,
}

/// The claims a proof must (or may) carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ProofClaims {
    /// Unique id (replay detection).
    pub jti: String,
    /// The HTTP method.
    pub htm: String,
    /// The HTTP URI, without query and fragment (§4.2; a query there is ignored).
    pub htu: String,
    /// Creation time, seconds since the epoch.
    pub iat: f64,
    /// base64url(SHA-256(access token)).
    pub ath: Option<String>,
    /// The server nonce, when one was asked for.
    pub nonce: Option<String>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

#[derive(Deserialize)]
struct RawHeader {
    typ: Option<String>,
    alg: String,
    jwk: Option<RawJwk>,
    // We implement no JWS extension (RFC 7515 §4.1.11): presence alone is fatal.
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

#[derive(Deserialize)]
struct RawClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    // A number; a string (`"iat": "1700000000"`) fails the whole parse.
    iat: Option<f64>,
    ath: Option<String>,
    nonce: Option<String>,
}

fn part(p: Option<&str>) -> Result<&str, ProofError> {
    p.filter(|p| !p.is_empty() && all_bytes(p.as_bytes(), is_base64url_byte))
        .ok_or(ProofError::Malformed)
}

/// `dpop+jwt`, `application/dpop+jwt`, any case (media types are case-insensitive).
fn is_dpop_typ(typ: &str) -> bool {
    let t = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| &typ[12..]);
    t.eq_ignore_ascii_case("dpop+jwt")
}

/// Parses one `DPoP` header value.
pub fn parse(proof: &str) -> Result<ParsedProof<'_>, ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::Malformed);
    }
    let mut parts = proof.split('.');
    let (h, c, s) = (
        part(parts.next())?,
        part(parts.next())?,
        part(parts.next())?,
    );
    if parts.next().is_some() {
        return Err(ProofError::Malformed);
    }
    let header = URL_SAFE_NO_PAD
        .decode(h)
        .map_err(|_| ProofError::Malformed)?;
    let header: RawHeader = serde_json::from_slice(&header).map_err(|_| ProofError::Malformed)?;
    if !header.typ.as_deref().is_some_and(is_dpop_typ) {
        return Err(ProofError::Typ);
    }
    let alg = ProofAlg::from_name(&header.alg).ok_or(ProofError::Alg)?;
    if header.crit {
        return Err(ProofError::Malformed);
    }
    let key = ProofKey::from_jwk(header.jwk.as_ref().ok_or(ProofError::Jwk)?, alg)?;
    let claims = URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| ProofError::Malformed)?;
    let raw: RawClaims = serde_json::from_slice(&claims).map_err(|_| ProofError::Malformed)?;
    let jti = raw
        .jti
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
        .ok_or(ProofError::Jti)?;
    let claims = ProofClaims {
        jti,
        htm: raw.htm.ok_or(ProofError::Htm)?,
        htu: raw.htu.ok_or(ProofError::Htu)?,
        iat: raw.iat.filter(|i| i.is_finite()).ok_or(ProofError::Iat)?,
        ath: raw.ath,
        nonce: raw.nonce,
    };
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| ProofError::Malformed)?;
    Ok(ParsedProof {
        alg,
        key,
        signing_input: &proof[..h.len() + 1 + c.len()],
        signature,
        claims,
    })
}
