//! FakeIdp's signing keys: RSA (RS256) and EC P-256 (ES256) pairs, their JWKs, and raw
//! compact-JWS assembly (also used to build hostile tokens).
//!
//! Keys come from aws-lc-rs (the crate's one crypto provider); jsonwebtoken is built
//! without `use_pem`, so it receives DER: PKCS#1 for RSA (cut out of aws-lc-rs's PKCS#8 with
//! the tiny DER reader below) and PKCS#8 for EC.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};

/// Base64url without padding, as JOSE wants it.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random hex string (`n` random bytes), for kids, codes and opaque tokens.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf).expect("random bytes");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// An RSA signing key with everything a test may want to leak or publish.
pub struct RsaKey {
    /// Its `kid`.
    pub kid: String,
    pair: RsaKeyPair,
    /// RFC 8017 `RSAPrivateKey` DER (what jsonwebtoken's aws-lc backend wants).
    pkcs1_der: Vec<u8>,
    /// RFC 8017 `RSAPublicKey` DER.
    pub pkcs1_public_der: Vec<u8>,
    /// X.509 `SubjectPublicKeyInfo` DER.
    pub spki_der: Vec<u8>,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaKey {
    /// Generates a 2048-bit key (tens of milliseconds: do it once per FakeIdp).
    pub fn generate(kid: String) -> RsaKey {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA keygen");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("pkcs8");
        let pkcs1_der = pkcs1_from_pkcs8(pkcs8.as_ref()).to_vec();
        let public = pair.public_key();
        let pkcs1_public_der = public.as_ref().to_vec();
        let spki: PublicKeyX509Der = public.as_der().expect("spki");
        let (n, e) = rsa_public_components(&pkcs1_public_der);
        RsaKey {
            kid,
            pair,
            pkcs1_der,
            pkcs1_public_der,
            spki_der: spki.as_ref().to_vec(),
            n,
            e,
        }
    }

    /// The public JWK (kty RSA, alg RS256, use sig).
    pub fn jwk(&self) -> Value {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
               "n": b64url(&self.n), "e": b64url(&self.e)})
    }

    /// The key for `jsonwebtoken::encode` (any RS*/PS* algorithm).
    pub fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        jsonwebtoken::EncodingKey::from_rsa_der(&self.pkcs1_der)
    }

    /// An RS256 signature over `msg`.
    pub fn sign_rs256(&self, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&RSA_PKCS1_SHA256, &rng, msg, &mut sig)
            .expect("RSA sign");
        sig
    }

    /// The public key as PEM: `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1).
    pub fn public_pem(&self, pkcs1: bool) -> String {
        if pkcs1 {
            pem("RSA PUBLIC KEY", &self.pkcs1_public_der)
        } else {
            pem("PUBLIC KEY", &self.spki_der)
        }
    }
}

/// An EC P-256 signing key.
pub struct EcKey {
    /// Its `kid`.
    pub kid: String,
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl EcKey {
    /// Generates a P-256 key.
    pub fn generate(kid: String) -> EcKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC keygen");
        let pkcs8 = pair.to_pkcs8v1().expect("pkcs8").as_ref().to_vec();
        EcKey { kid, pair, pkcs8 }
    }

    /// The public JWK (kty EC, crv P-256, alg ES256, use sig).
    pub fn jwk(&self) -> Value {
        // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
               "x": b64url(&point[1..33]), "y": b64url(&point[33..65])})
    }

    /// The key for `jsonwebtoken::encode` with ES256.
    pub fn encoding_key(&self) -> jsonwebtoken::EncodingKey {
        jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8)
    }

    /// An ES256 signature (fixed-length r || s) over `msg`.
    pub fn sign_es256(&self, msg: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&rng, msg)
            .expect("EC sign")
            .as_ref()
            .to_vec()
    }
}

/// What signs a raw compact JWS.
pub enum RawSigner<'a> {
    /// RS256 with this key.
    Rs256(&'a RsaKey),
    /// ES256 with this key.
    Es256(&'a EcKey),
    /// HMAC-SHA256 with these secret bytes.
    Hs256(&'a [u8]),
    /// No signature: the third segment is empty.
    Unsigned,
}

/// Assembles `b64url(header).b64url(claims).b64url(signature)` with the header JSON as
/// given (any `alg`, `jku`, `jwk`, `crit`…), signed by `signer` regardless of `alg`.
pub fn compact(header: &Value, claims: &Value, signer: RawSigner<'_>) -> String {
    let msg = format!(
        "{}.{}",
        b64url(header.to_string()),
        b64url(claims.to_string())
    );
    let sig = match signer {
        RawSigner::Rs256(k) => k.sign_rs256(msg.as_bytes()),
        RawSigner::Es256(k) => k.sign_es256(msg.as_bytes()),
        RawSigner::Hs256(secret) => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
            aws_lc_rs::hmac::sign(&key, msg.as_bytes())
                .as_ref()
                .to_vec()
        }
        RawSigner::Unsigned => Vec::new(),
    };
    format!("{msg}.{}", b64url(sig))
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Reads one DER TLV: (tag, contents, rest). Test inputs come from aws-lc-rs, so
/// malformed input is a bug and panics.
fn der_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, hdr) = match input[1] {
        l if l < 0x80 => (usize::from(l), 2),
        l => {
            let n = usize::from(l & 0x7f);
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + n)
        }
    };
    (tag, &input[hdr..hdr + len], &input[hdr + len..])
}

/// PKCS#8 `PrivateKeyInfo { version, algorithm, OCTET STRING privateKey }` → privateKey.
fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> &[u8] {
    let (tag, seq, _) = der_tlv(pkcs8);
    assert_eq!(tag, 0x30, "PKCS#8 is a SEQUENCE");
    let (_, _version, rest) = der_tlv(seq);
    let (_, _alg, rest) = der_tlv(rest);
    let (tag, key, _) = der_tlv(rest);
    assert_eq!(tag, 0x04, "privateKey is an OCTET STRING");
    key
}

/// `RSAPublicKey { modulus INTEGER, publicExponent INTEGER }` → (n, e) without sign bytes.
fn rsa_public_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (_, seq, _) = der_tlv(der);
    let (_, n, rest) = der_tlv(seq);
    let (_, e, _) = der_tlv(rest);
    let strip = |b: &[u8]| {
        let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
        b[start..].to_vec()
    };
    (strip(n), strip(e))
}
