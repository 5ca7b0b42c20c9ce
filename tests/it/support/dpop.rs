//! A DPoP client for tests (RFC 9449): an EC P-256 key made with aws-lc-rs, its RFC 7638
//! thumbprint computed here independently of the gateway, and proofs signed per request
//! (fresh `jti`, `iat` = now, `ath` of the token), with every field overridable so tests
//! can send each kind of bad proof.

use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use super::fake_idp::{b64url, compact, now, random_hex, RawSigner};

/// base64url(SHA-256(token)): a proof's `ath`.
pub fn ath(token: &str) -> String {
    b64url(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ))
}

/// A client's proof-of-possession key.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    /// The public JWK (kty, crv, x, y).
    pub jwk: Value,
    /// Its RFC 7638 thumbprint: what a bound token's `cnf.jkt` holds.
    pub jkt: String,
}

impl Default for DpopKey {
    fn default() -> Self {
        DpopKey::new()
    }
}

impl DpopKey {
    /// A fresh P-256 key.
    pub fn new() -> DpopKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC keygen");
        let point = pair.public_key().as_ref().to_vec();
        let (x, y) = (b64url(&point[1..33]), b64url(&point[33..65]));
        // RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = b64url(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            canonical.as_bytes(),
        ));
        DpopKey {
            jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            pair,
            jkt,
        }
    }

    /// `{"cnf": {"jkt": …}}`: merge into token claims to bind a token to this key.
    pub fn cnf(&self) -> Value {
        json!({"cnf": {"jkt": self.jkt}})
    }

    /// The standard header: typ dpop+jwt, ES256, this key's JWK.
    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk})
    }

    /// The standard claims for `htm` `htu` with `token`, then `patch` merged in (a
    /// `null` removes a claim).
    pub fn claims(&self, htm: &str, htu: &str, token: &str, patch: Value) -> Value {
        let mut c = json!({"jti": random_hex(16), "htm": htm, "htu": htu, "iat": now(),
                           "ath": ath(token)});
        if let (Value::Object(c), Value::Object(p)) = (&mut c, patch) {
            for (k, v) in p {
                if v.is_null() {
                    c.remove(&k);
                } else {
                    c.insert(k, v);
                }
            }
        }
        c
    }

    /// A fresh, valid proof for `htm` `htu` carrying `token`.
    pub fn proof(&self, htm: &str, htu: &str, token: &str) -> String {
        self.proof_with(&self.header(), &self.claims(htm, htu, token, json!({})))
    }

    /// A proof with this header and these claims, ES256-signed by this key.
    pub fn proof_with(&self, header: &Value, claims: &Value) -> String {
        let msg = format!(
            "{}.{}",
            b64url(header.to_string()),
            b64url(claims.to_string())
        );
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self.pair.sign(&rng, msg.as_bytes()).expect("EC sign");
        format!("{msg}.{}", b64url(sig))
    }

    /// A proof claiming `HS256`, MAC'd with `secret` (what an attacker without a key
    /// pair would try).
    pub fn hs256_proof(&self, claims: &Value, secret: &[u8]) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": self.jwk});
        compact(&header, claims, RawSigner::Hs256(secret))
    }
}
