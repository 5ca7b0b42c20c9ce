//! DPoP (RFC 9449) for resource requests: what a proof must satisfy to vouch for the
//! request it comes with, and the errors of §7.
//!
//! [`verify`] checks one proof against its request: `typ`, asymmetric `alg`, public
//! `jwk` (`jwk.rs`), `htm`, `htu` (`htu.rs`), `iat` window, `ath`, then the signature —
//! once, last, as the most expensive check. The pipeline adds what needs state: the
//! server nonce (`nonce.rs`), the `jti` replay cache (`replay.rs`, or Redis) and the
//! token's `cnf.jkt` binding. Pure logic: no I/O, never logs a proof or a token.

pub mod htu;
pub mod jwk;
pub mod nonce;
pub mod proof;
pub mod replay;

use aws_lc_rs::{constant_time, digest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::HeaderName;
use serde_json::Value;
use thiserror::Error;

use super::Claims;
pub use jwk::{ProofAlg, ProofKey, PROOF_ALGS};
pub use proof::{parse, ParsedProof, ProofClaims};

/// The `Authorization` scheme of DPoP-bound tokens, lower-case as schemes are compared.
pub const DPOP_SCHEME: &str = "dpop";
/// The request header carrying the proof.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The response header carrying a server nonce (RFC 9449 §8–9).
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Why a proof was refused (`invalid_dpop_proof`); each has a fixed metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ProofError {
    /// No `DPoP` header.
    #[error("no DPoP proof")]
    Missing,
    /// More than one `DPoP` header (or a value with a comma).
    #[error("more than one DPoP proof")]
    Multiple,
    /// Not a compact JWS, not base64url, not JSON, or a `crit` header.
    #[error("proof is not a well-formed JWS")]
    Malformed,
    /// `typ` is not `dpop+jwt`.
    #[error("typ is not dpop+jwt")]
    Typ,
    /// `alg` is none, symmetric or unsupported.
    #[error("alg not allowed")]
    Alg,
    /// `jwk` missing, malformed, or not fitting `alg`.
    #[error("jwk missing or unusable")]
    Jwk,
    /// `jwk` holds private key members.
    #[error("jwk holds a private key")]
    PrivateKey,
    /// The signature does not verify with `jwk`.
    #[error("bad signature")]
    Signature,
    /// `htm` is not the request's method.
    #[error("htm does not match the request method")]
    Htm,
    /// `htu` is not the request's URI.
    #[error("htu does not match the request URI")]
    Htu,
    /// `iat` missing, too old or in the future.
    #[error("iat outside the accepted window")]
    Iat,
    /// `ath` missing or not the hash of the presented token.
    #[error("ath does not match the access token")]
    Ath,
    /// `jti` missing or too long.
    #[error("jti missing or too long")]
    Jti,
    /// The proof was used before.
    #[error("proof replayed (jti seen before)")]
    Replay,
}

impl ProofError {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            ProofError::Missing => "missing",
            ProofError::Multiple => "multiple",
            ProofError::Malformed => "malformed",
            ProofError::Typ => "typ",
            ProofError::Alg => "alg",
            ProofError::Jwk => "jwk",
            ProofError::PrivateKey => "private_key",
            ProofError::Signature => "signature",
            ProofError::Htm => "htm",
            ProofError::Htu => "htu",
            ProofError::Iat => "iat",
            ProofError::Ath => "ath",
            ProofError::Jti => "jti",
            ProofError::Replay => "replay",
        }
    }
}

/// A DPoP failure as the client sees it (RFC 9449 §7, §9).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DpopError {
    /// 401 `error="invalid_dpop_proof"`.
    #[error("invalid DPoP proof: {0}")]
    InvalidProof(ProofError),
    /// 401 `error="use_dpop_nonce"` with this fresh nonce in `DPoP-Nonce`.
    #[error("DPoP proof without a valid server nonce")]
    UseNonce(String),
    /// The shared replay cache (Redis) cannot be asked: 503, never "not a replay".
    #[error("DPoP replay cache unavailable: {0}")]
    Unavailable(String),
}

/// What the request says a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The request method, exactly.
    pub method: &'a str,
    /// The request URI, normalised ([`htu::request_htu`]); `None` when it could not be
    /// built (every `htu` then mismatches).
    pub htu: Option<&'a str>,
    /// The access token the proof must be bound to (`ath`).
    pub access_token: &'a str,
    /// Now, Unix seconds.
    pub now: f64,
    /// How old `iat` may be, seconds.
    pub window: f64,
    /// Clock skew tolerated either way, seconds.
    pub leeway: f64,
}

/// base64url(SHA-256(`token`)): `ath` (RFC 9449 §4.2) of an access token.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// Parses `proof` and checks it against `expect`; the signature is verified once, after
/// every cheaper check passed.
pub fn verify<'p>(proof: &'p str, expect: &Expect<'_>) -> Result<ParsedProof<'p>, ProofError> {
    let parsed = parse(proof)?;
    let c = &parsed.claims;
    if c.htm != expect.method {
        return Err(ProofError::Htm);
    }
    match (htu::normalize(&c.htu), expect.htu) {
        (Some(got), Some(want)) if got == want => {}
        _ => return Err(ProofError::Htu),
    }
    if c.iat > expect.now + expect.leeway || c.iat < expect.now - expect.window - expect.leeway {
        return Err(ProofError::Iat);
    }
    let ath = c.ath.as_deref().ok_or(ProofError::Ath)?;
    let want = token_hash(expect.access_token);
    if constant_time::verify_slices_are_equal(ath.as_bytes(), want.as_bytes()).is_err() {
        return Err(ProofError::Ath);
    }
    if !parsed.key.verifies(
        parsed.alg,
        parsed.signing_input.as_bytes(),
        &parsed.signature,
    ) {
        return Err(ProofError::Signature);
    }
    Ok(parsed)
}

/// What a token's `cnf` claim says about DPoP (RFC 9449 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding<'a> {
    /// No `cnf.jkt`: a plain bearer token.
    Unbound,
    /// Bound to the key with this RFC 7638 thumbprint.
    Bound(&'a str),
    /// A `cnf` that is not an object, or a `jkt` that is not a string: bound to
    /// something this gateway cannot check.
    Malformed,
}

/// The token's binding: a JWT's claims and an introspection answer carry `cnf` alike.
pub fn binding(claims: &Claims) -> Binding<'_> {
    match claims.get("cnf") {
        None | Some(Value::Null) => Binding::Unbound,
        Some(Value::Object(cnf)) => match cnf.get("jkt") {
            None => Binding::Unbound,
            Some(Value::String(jkt)) => Binding::Bound(jkt),
            Some(_) => Binding::Malformed,
        },
        Some(_) => Binding::Malformed,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
