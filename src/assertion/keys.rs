//! One signing key of identity assertions: loaded from a PEM file (EC P-256, RSA of 2048
//! bits or more, Ed25519) or generated, its public JWK and RFC 7638 thumbprint, and
//! raw JWS signatures with aws-lc-rs (the one crypto provider).
//!
//! The private key never leaves this module: no accessor returns it, `Debug` does not
//! show it, and error messages name the file, never its content.

use std::path::Path;

use aws_lc_rs::error::Unspecified;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use serde_json::{json, Value};

use crate::config::AssertionAlg;

/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_BYTES: usize = 256;

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key that signs assertions, with its public half ready to publish.
pub struct SigningKey {
    kid: String,
    pair: Pair,
    /// The public JWK members that identify the key (no `kid`, `alg` or `use`).
    public: Value,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a PEM private key (PKCS#8, PKCS#1 or SEC1). The message of an error says
    /// what is wrong with the file, never what it holds.
    pub fn load(kid: &str, path: &Path) -> Result<SigningKey, String> {
        let der = PrivateKeyDer::from_pem_file(path)
            .map_err(|_| "not a PEM private key (PKCS#8, PKCS#1 or SEC1)".to_owned())?;
        let pair = match &der {
            PrivateKeyDer::Pkcs8(p8) => {
                let bytes = p8.secret_pkcs8_der();
                if let Ok(kp) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, bytes) {
                    Pair::Ec(kp)
                } else if let Ok(kp) = RsaKeyPair::from_pkcs8(bytes) {
                    Pair::Rsa(kp)
                } else if let Ok(kp) = Ed25519KeyPair::from_pkcs8(bytes) {
                    Pair::Ed(kp)
                } else {
                    return Err("not an EC P-256, RSA or Ed25519 private key".into());
                }
            }
            PrivateKeyDer::Pkcs1(p1) => RsaKeyPair::from_der(p1.secret_pkcs1_der())
                .map(Pair::Rsa)
                .map_err(|_| "unusable RSA private key".to_owned())?,
            PrivateKeyDer::Sec1(s1) => EcdsaKeyPair::from_private_key_der(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                s1.secret_sec1_der(),
            )
            .map(Pair::Ec)
            .map_err(|_| "not a P-256 private key (only P-256 signs ES256)".to_owned())?,
            _ => return Err("unsupported private key format".into()),
        };
        if let Pair::Rsa(kp) = &pair {
            if kp.public_modulus_len() < MIN_RSA_BYTES {
                return Err("RSA key shorter than 2048 bits".into());
            }
        }
        Ok(Self::from_pair(kid.to_owned(), pair))
    }

    /// A fresh key for `alg` (RSA: 2048 bits); its kid is its RFC 7638 thumbprint.
    pub fn generate(alg: AssertionAlg) -> Result<SigningKey, String> {
        let failed = |_| format!("{} key generation failed", alg.as_str());
        let pair = match alg {
            AssertionAlg::Es256 => {
                Pair::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?)
            }
            AssertionAlg::Rs256 => {
                Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?)
            }
            AssertionAlg::EdDsa => Pair::Ed(Ed25519KeyPair::generate().map_err(failed)?),
        };
        let mut key = Self::from_pair(String::new(), pair);
        key.kid = key.thumbprint();
        Ok(key)
    }

    fn from_pair(kid: String, pair: Pair) -> SigningKey {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let public = match &pair {
            Pair::Ec(kp) => {
                // The uncompressed point: 0x04 || x || y, 32 bytes each.
                let point = kp.public_key().as_ref();
                let (x, y) = point
                    .get(1..)
                    .unwrap_or_default()
                    .split_at(point.len().saturating_sub(1) / 2);
                json!({"crv": "P-256", "kty": "EC", "x": b64(x), "y": b64(y)})
            }
            Pair::Rsa(kp) => {
                let c = RsaPublicKeyComponents::<Vec<u8>>::from(kp.public_key());
                json!({"e": b64(&c.e), "kty": "RSA", "n": b64(&c.n)})
            }
            Pair::Ed(kp) => {
                json!({"crv": "Ed25519", "kty": "OKP", "x": b64(kp.public_key().as_ref())})
            }
        };
        SigningKey {
            kid,
            pair,
            public,
            rng: SystemRandom::new(),
        }
    }

    /// Its key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm it signs with.
    pub fn alg(&self) -> AssertionAlg {
        match self.pair {
            Pair::Ec(_) => AssertionAlg::Es256,
            Pair::Rsa(_) => AssertionAlg::Rs256,
            Pair::Ed(_) => AssertionAlg::EdDsa,
        }
    }

    /// Whether `other` is the same key pair (same public key), whatever its kid.
    pub fn same_key(&self, other: &SigningKey) -> bool {
        self.public == other.public
    }

    /// The public JWK as published: `kid`, `alg`, `use: sig` and the key members.
    pub fn jwk(&self) -> Value {
        let mut jwk = self.public.clone();
        if let Value::Object(m) = &mut jwk {
            m.insert("kid".into(), json!(self.kid));
            m.insert("alg".into(), json!(self.alg().as_str()));
            m.insert("use".into(), json!("sig"));
        }
        jwk
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url: the required members in
    /// lexicographic order, no whitespace (serde_json keeps the inserted order, and the
    /// members above are written sorted).
    pub fn thumbprint(&self) -> String {
        let canonical = self.public.to_string();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    }

    /// The JWS signature of `input` (`base64url(header).base64url(payload)`).
    pub fn sign(&self, input: &[u8]) -> Result<Vec<u8>, Unspecified> {
        match &self.pair {
            Pair::Ec(kp) => kp.sign(&self.rng, input).map(|s| s.as_ref().to_vec()),
            Pair::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &self.rng, input, &mut sig)?;
                Ok(sig)
            }
            Pair::Ed(kp) => Ok(kp.sign(input).as_ref().to_vec()),
        }
    }
}
