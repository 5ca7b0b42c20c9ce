//! Parsing a JWKS document into ready-to-verify keys (built once per fetch) and finding
//! the keys a token may be verified with. Must never accept symmetric (`oct`) keys, keys
//! for encryption, or a key whose `alg` does not fit its type, never guess among several
//! keys for a token without `kid`, and never let the order of the document decide.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::JwksError;

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
    /// More than [`MAX_CANDIDATES`] suitable keys share the token's kid.
    TooMany,
}

/// How many suitable keys sharing one `kid` are tried. A JWKS may (wrongly, or during a
/// rotation) publish one kid twice; trying each keeps the outcome independent of the
/// order of the document, and the bound keeps a hostile document from making every
/// token cost many signature checks.
pub const MAX_CANDIDATES: usize = 4;

/// The keys a token may be verified with: one, or up to [`MAX_CANDIDATES`] sharing its
/// kid. Verification must try each and succeed if any verifies.
#[derive(Clone, Copy)]
pub struct Candidates<'a> {
    keys: [Option<&'a DecodingKey>; MAX_CANDIDATES],
}

impl<'a> Candidates<'a> {
    fn one(key: &'a DecodingKey) -> Self {
        let mut keys = [None; MAX_CANDIDATES];
        keys[0] = Some(key);
        Candidates { keys }
    }

    /// The keys, in document order.
    pub fn iter(&self) -> impl Iterator<Item = &'a DecodingKey> + '_ {
        self.keys.iter().map_while(|k| *k)
    }

    /// How many keys there are (at least one).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Always false: a lookup with no key is a [`KeyMiss`].
    pub fn is_empty(&self) -> bool {
        self.keys[0].is_none()
    }
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

    /// The keys for a token: every key whose `kid` matches exactly and whose type, `alg`
    /// and `use` suit `alg` (up to [`MAX_CANDIDATES`]; more is [`KeyMiss::TooMany`]);
    /// without `kid`, only when exactly one key suits `alg` (guessing among several would
    /// let an attacker pick).
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<Candidates<'_>, KeyMiss> {
        match kid {
            Some(kid) => {
                let mut found = Candidates {
                    keys: [None; MAX_CANDIDATES],
                };
                let suitable = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid) && k.suits(alg));
                for (i, k) in suitable.enumerate() {
                    *found.keys.get_mut(i).ok_or(KeyMiss::TooMany)? = Some(&k.key);
                }
                if found.is_empty() {
                    return Err(KeyMiss::NotFound);
                }
                Ok(found)
            }
            None => {
                let mut suitable = self.keys.iter().filter(|k| k.suits(alg));
                match (suitable.next(), suitable.next()) {
                    (Some(k), None) => Ok(Candidates::one(&k.key)),
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
    if raw
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.contains(&"verify"))
    {
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
