//! Hostile tokens: what an attacker would send to a gateway trusting this provider.
//!
//! `alg: none` in any spelling, HS256 keyed with the provider's PUBLIC key bytes (the
//! classic algorithm-confusion attack), headers carrying `jku`/`jwk`/`crit`, and tampered
//! payloads that keep the original signature. None of these may ever be accepted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::keys::{b64url, compact, RawSigner};
use super::state::{lock, Endpoint};
use super::{merge, FakeIdp};

/// Which bytes of the provider's RSA public key serve as the HMAC secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyBytes {
    /// PEM `-----BEGIN PUBLIC KEY-----` (SPKI), with its trailing newline.
    SpkiPem,
    /// The same PEM without the trailing newline.
    SpkiPemTrimmed,
    /// PEM `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1).
    Pkcs1Pem,
    /// DER SubjectPublicKeyInfo.
    SpkiDer,
    /// DER RSAPublicKey (PKCS#1).
    Pkcs1Der,
    /// The JWK as published (serialized JSON).
    JwkJson,
}

impl PublicKeyBytes {
    /// Every variant.
    pub const ALL: [PublicKeyBytes; 6] = [
        PublicKeyBytes::SpkiPem,
        PublicKeyBytes::SpkiPemTrimmed,
        PublicKeyBytes::Pkcs1Pem,
        PublicKeyBytes::SpkiDer,
        PublicKeyBytes::Pkcs1Der,
        PublicKeyBytes::JwkJson,
    ];
}

impl FakeIdp {
    /// Unsigned token: header `{"alg": <alg>, "typ": "JWT", "kid": <current kid>}`, empty
    /// signature. Try `none`, `None`, `NONE`, `nOnE`.
    pub fn token_alg_none(&self, claims: Value, alg: &str) -> String {
        let header = json!({"alg": alg, "typ": "JWT", "kid": self.kid()});
        compact(&header, &claims, RawSigner::Unsigned)
    }

    /// HS256 with the current RSA public key's bytes (in `form`) as the HMAC secret; the
    /// header carries the current kid, as an attacker copying it from the JWKS would.
    pub fn token_hs256_with_public_key(&self, claims: Value, form: PublicKeyBytes) -> String {
        let keys = lock(&self.inner.keys);
        let k = keys.rsa.last().expect("an RSA key");
        let secret: Vec<u8> = match form {
            PublicKeyBytes::SpkiPem => k.public_pem(false).into_bytes(),
            PublicKeyBytes::SpkiPemTrimmed => k.public_pem(false).trim_end().as_bytes().to_vec(),
            PublicKeyBytes::Pkcs1Pem => k.public_pem(true).into_bytes(),
            PublicKeyBytes::SpkiDer => k.spki_der.clone(),
            PublicKeyBytes::Pkcs1Der => k.pkcs1_public_der.clone(),
            PublicKeyBytes::JwkJson => k.jwk().to_string().into_bytes(),
        };
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": k.kid});
        compact(&header, &claims, RawSigner::Hs256(&secret))
    }

    /// One algorithm-confusion token per [`PublicKeyBytes`] form.
    pub fn hs256_public_key_variants(&self, claims: Value) -> Vec<String> {
        PublicKeyBytes::ALL
            .iter()
            .map(|f| self.token_hs256_with_public_key(claims.clone(), *f))
            .collect()
    }

    /// A token whose header is exactly `header` (any JSON: `crit`, `jku`, odd `alg`…),
    /// signed RS256 by the CURRENT provider key whatever the header says, so only the
    /// header can make a gateway refuse it. Example: `{"alg":"RS256","kid":kid,
    /// "crit":["exp"],"exp":1}` for the unknown-`crit` case.
    pub fn token_with_raw_header(&self, header: Value, claims: Value) -> String {
        let keys = lock(&self.inner.keys);
        let k = keys.rsa.last().expect("an RSA key");
        compact(&header, &claims, RawSigner::Rs256(k))
    }

    /// Signed by an attacker's RSA key that the header embeds as `jwk` (kid = the
    /// attacker's). Set `provider_kid` to label it with the provider's current kid instead.
    pub fn token_with_embedded_jwk(&self, claims: Value, provider_kid: bool) -> String {
        let attacker = self.inner.attacker();
        let kid = if provider_kid {
            self.kid()
        } else {
            attacker.kid.clone()
        };
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid, "jwk": attacker.jwk()});
        compact(&header, &claims, RawSigner::Rs256(attacker))
    }

    /// Signed by the attacker's key, with `jku` (and `x5u`) pointing at this provider's
    /// `/attacker/jwks.json`, which serves that key. A gateway that follows the URL shows
    /// up in `hits(Endpoint::AttackerJwks)`.
    pub fn token_with_jku(&self, claims: Value) -> String {
        let attacker = self.inner.attacker();
        let url = self.url(Endpoint::AttackerJwks);
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": attacker.kid,
                            "jku": url, "x5u": url});
        compact(&header, &claims, RawSigner::Rs256(attacker))
    }

    /// Signed by a key the provider never published, labelled with the current kid.
    pub fn token_signed_by_stranger(&self, claims: Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid()});
        compact(&header, &claims, RawSigner::Rs256(self.inner.attacker()))
    }

    /// `token` with its payload's fields replaced by `patch` (shallow; `null` removes)
    /// and the ORIGINAL header and signature kept.
    pub fn tamper(token: &str, patch: Value) -> String {
        let mut parts = token.splitn(3, '.');
        let (h, p, s) = (
            parts.next().expect("header"),
            parts.next().expect("payload"),
            parts.next().expect("signature"),
        );
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).expect("b64 payload"))
                .expect("JSON payload");
        merge(&mut claims, patch);
        format!("{h}.{}.{s}", b64url(claims.to_string()))
    }
}
