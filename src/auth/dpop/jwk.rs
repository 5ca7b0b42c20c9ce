//! The public key a DPoP proof carries in its `jwk` header: parsing (public members
//! only), its RFC 7638 thumbprint, and signature verification with aws-lc-rs.
//!
//! Refuses a JWK with any private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`):
//! a client that sends its private key has leaked it, and a symmetric key could be
//! anyone's. Never accepts a key whose type does not fit the proof's `alg`.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};

use super::ProofError;

/// A proof's signing algorithm (asymmetric only: the key travels with the proof).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofAlg {
    /// ECDSA P-256 SHA-256.
    Es256,
    /// ECDSA P-384 SHA-384.
    Es384,
    /// RSASSA-PKCS1-v1_5 SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 SHA-512.
    Rs512,
    /// RSASSA-PSS SHA-256.
    Ps256,
    /// RSASSA-PSS SHA-384.
    Ps384,
    /// RSASSA-PSS SHA-512.
    Ps512,
    /// Ed25519.
    EdDsa,
}

/// The `algs` a DPoP challenge and the RFC 9728 document advertise.
pub const PROOF_ALGS: &str = "ES256 ES384 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA";

impl ProofAlg {
    /// The algorithm of a JOSE `alg` name (exact case), if proofs may use it.
    pub fn from_name(name: &str) -> Option<ProofAlg> {
        Some(match name {
            "ES256" => ProofAlg::Es256,
            "ES384" => ProofAlg::Es384,
            "RS256" => ProofAlg::Rs256,
            "RS384" => ProofAlg::Rs384,
            "RS512" => ProofAlg::Rs512,
            "PS256" => ProofAlg::Ps256,
            "PS384" => ProofAlg::Ps384,
            "PS512" => ProofAlg::Ps512,
            "EdDSA" => ProofAlg::EdDsa,
            _ => return None,
        })
    }
}

/// Key material, decoded once.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    /// Uncompressed point `04 || x || y`; `true` for P-384.
    Ec { point: Vec<u8>, p384: bool },
    /// Modulus and exponent without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The 32-byte public key.
    Ed25519(Vec<u8>),
}

/// A proof's public key and its thumbprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofKey {
    material: Material,
    /// base64url(SHA-256(canonical JWK)) (RFC 7638), what a bound token's `cnf.jkt` holds.
    pub thumbprint: String,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// The members we read; presence alone of a private member is fatal.
#[derive(Deserialize)]
pub(super) struct RawJwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default, deserialize_with = "present")]
    d: bool,
    #[serde(default, deserialize_with = "present")]
    p: bool,
    #[serde(default, deserialize_with = "present")]
    q: bool,
    #[serde(default, deserialize_with = "present")]
    dp: bool,
    #[serde(default, deserialize_with = "present")]
    dq: bool,
    #[serde(default, deserialize_with = "present")]
    qi: bool,
    #[serde(default, deserialize_with = "present")]
    oth: bool,
    #[serde(default, deserialize_with = "present")]
    k: bool,
}

/// base64url (unpadded) → bytes, only when the text is canonical base64url (so the
/// thumbprint, computed over the text, names exactly these bytes).
fn b64(s: &str) -> Result<Vec<u8>, ProofError> {
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ProofError::Jwk);
    }
    URL_SAFE_NO_PAD.decode(s).map_err(|_| ProofError::Jwk)
}

fn thumbprint(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

impl ProofKey {
    /// The key of `jwk` for `alg`: public members only, type and size fitting `alg`.
    pub(super) fn from_jwk(jwk: &RawJwk, alg: ProofAlg) -> Result<ProofKey, ProofError> {
        if jwk.d || jwk.p || jwk.q || jwk.dp || jwk.dq || jwk.qi || jwk.oth || jwk.k {
            return Err(ProofError::PrivateKey);
        }
        let crv = jwk.crv.as_deref();
        match (jwk.kty.as_str(), alg) {
            ("EC", ProofAlg::Es256 | ProofAlg::Es384) => {
                let (want, size) = match alg {
                    ProofAlg::Es256 => ("P-256", 32),
                    _ => ("P-384", 48),
                };
                if crv != Some(want) {
                    return Err(ProofError::Jwk);
                }
                let (xs, ys) = (
                    jwk.x.as_deref().ok_or(ProofError::Jwk)?,
                    jwk.y.as_deref().ok_or(ProofError::Jwk)?,
                );
                let (x, y) = (b64(xs)?, b64(ys)?);
                if x.len() != size || y.len() != size {
                    return Err(ProofError::Jwk);
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Ok(ProofKey {
                    material: Material::Ec {
                        point,
                        p384: size == 48,
                    },
                    thumbprint: thumbprint(&format!(
                        r#"{{"crv":"{want}","kty":"EC","x":"{xs}","y":"{ys}"}}"#
                    )),
                })
            }
            (
                "RSA",
                ProofAlg::Rs256
                | ProofAlg::Rs384
                | ProofAlg::Rs512
                | ProofAlg::Ps256
                | ProofAlg::Ps384
                | ProofAlg::Ps512,
            ) => {
                let (ns, es) = (
                    jwk.n.as_deref().ok_or(ProofError::Jwk)?,
                    jwk.e.as_deref().ok_or(ProofError::Jwk)?,
                );
                let strip = |v: Vec<u8>| -> Vec<u8> {
                    let zeros = v.iter().take_while(|b| **b == 0).count();
                    v[zeros..].to_vec()
                };
                let (n, e) = (strip(b64(ns)?), strip(b64(es)?));
                // 2048 bits at least (aws-lc refuses less anyway; this says why).
                if n.len() < 256 || n.len() > 1024 || e.is_empty() || e.len() > 8 {
                    return Err(ProofError::Jwk);
                }
                Ok(ProofKey {
                    material: Material::Rsa { n, e },
                    thumbprint: thumbprint(&format!(r#"{{"e":"{es}","kty":"RSA","n":"{ns}"}}"#)),
                })
            }
            ("OKP", ProofAlg::EdDsa) if crv == Some("Ed25519") => {
                let xs = jwk.x.as_deref().ok_or(ProofError::Jwk)?;
                let x = b64(xs)?;
                if x.len() != 32 {
                    return Err(ProofError::Jwk);
                }
                Ok(ProofKey {
                    material: Material::Ed25519(x),
                    thumbprint: thumbprint(&format!(
                        r#"{{"crv":"Ed25519","kty":"OKP","x":"{xs}"}}"#
                    )),
                })
            }
            _ => Err(ProofError::Jwk),
        }
    }

    /// Whether `sig` is `alg`'s signature of `message` under this key.
    pub(super) fn verifies(&self, alg: ProofAlg, message: &[u8], sig: &[u8]) -> bool {
        let ok = match (&self.material, alg) {
            (Material::Ec { point, p384: false }, ProofAlg::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
            }
            (Material::Ec { point, p384: true }, ProofAlg::Es384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, sig)
            }
            (Material::Ed25519(x), ProofAlg::EdDsa) => {
                UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig)
            }
            (Material::Rsa { n, e }, alg) => {
                let params = match alg {
                    ProofAlg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    ProofAlg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    ProofAlg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    ProofAlg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    ProofAlg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                    ProofAlg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }.verify(params, message, sig)
            }
            _ => return false,
        };
        ok.is_ok()
    }
}
