// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PSS_SHA256,
};
use serde_json::json;

use super::*;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

enum Signer {
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Signer {
    fn p256() -> Signer {
        Signer::P256(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    fn alg(&self) -> &'static str {
        match self {
            Signer::P256(_) => "ES256",
            Signer::P384(_) => "ES384",
            Signer::Rsa(_) => "PS256",
            Signer::Ed(_) => "EdDSA",
        }
    }

    fn jwk(&self) -> Value {
        match self {
            Signer::P256(k) | Signer::P384(k) => {
                let p = k.public_key().as_ref();
                let n = (p.len() - 1) / 2;
                let crv = if n == 32 { "P-256" } else { "P-384" };
                json!({"kty": "EC", "crv": crv, "x": b64(&p[1..=n]), "y": b64(&p[n + 1..])})
            }
            Signer::Rsa(k) => {
                let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e)})
            }
            Signer::Ed(k) => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key())}),
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match self {
            Signer::P256(k) | Signer::P384(k) => k.sign(&rng, msg).unwrap().as_ref().to_vec(),
            Signer::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PSS_SHA256, &rng, msg, &mut sig).unwrap();
                sig
            }
            Signer::Ed(k) => k.sign(msg).as_ref().to_vec(),
        }
    }

    fn proof(&self, header: Value, claims: Value) -> String {
        let msg = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        format!("{msg}.{}", b64(self.sign(msg.as_bytes())))
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
    }
}

const TOKEN: &str = "eyJ.access.token";
const HTU: &str = "https://api.example.com/v1/orders";
const NOW: f64 = 1_800_000_000.0;

fn claims() -> Value {
    json!({"jti": "j-1", "htm": "GET", "htu": HTU, "iat": NOW, "ath": token_hash(TOKEN)})
}

fn expect() -> Expect<'static> {
    Expect {
        method: "GET",
        htu: Some(HTU),
        access_token: TOKEN,
        now: NOW,
        window: 60.0,
        leeway: 5.0,
    }
}

fn with(patch: Value) -> Value {
    let mut c = claims();
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

#[test]
fn every_algorithm_family_verifies_and_names_its_thumbprint() {
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    for signer in [
        Signer::p256(),
        Signer::P384(EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap()),
        Signer::Rsa(rsa),
        Signer::Ed(Ed25519KeyPair::generate().unwrap()),
    ] {
        let p = signer.proof(signer.header(), claims());
        let parsed = verify(&p, &expect()).unwrap_or_else(|e| panic!("{}: {e}", signer.alg()));
        assert_eq!(parsed.claims.jti, "j-1");
        assert_eq!(parsed.key.thumbprint.len(), 43);
    }
}

#[test]
fn rfc7638_thumbprint_vector() {
    // RFC 7638 §3.1.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let header = json!({"typ": "dpop+jwt", "alg": "RS256",
                        "jwk": {"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}});
    let p = format!(
        "{}.{}.c2ln",
        b64(header.to_string()),
        b64(claims().to_string())
    );
    let parsed = parse(&p).unwrap();
    assert_eq!(
        parsed.key.thumbprint,
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    assert_eq!(verify(&p, &expect()).unwrap_err(), ProofError::Signature);
}

#[test]
fn each_claim_check_refuses_its_mismatch() {
    let s = Signer::p256();
    let cases = [
        (with(json!({"htm": "POST"})), ProofError::Htm),
        (with(json!({"htm": "get"})), ProofError::Htm),
        (
            with(json!({"htu": "https://api.example.com/v1/other"})),
            ProofError::Htu,
        ),
        (
            with(json!({"htu": "https://evil.example.com/v1/orders"})),
            ProofError::Htu,
        ),
        (with(json!({"htu": "/v1/orders"})), ProofError::Htu),
        (with(json!({"iat": NOW - 66.0})), ProofError::Iat),
        (with(json!({"iat": NOW + 6.0})), ProofError::Iat),
        (with(json!({"iat": null})), ProofError::Iat),
        (with(json!({"iat": "1800000000"})), ProofError::Malformed),
        (
            with(json!({"ath": token_hash("another token")})),
            ProofError::Ath,
        ),
        (with(json!({"ath": null})), ProofError::Ath),
        (with(json!({"jti": null})), ProofError::Jti),
        (with(json!({"jti": ""})), ProofError::Jti),
        (with(json!({"jti": "x".repeat(257)})), ProofError::Jti),
        (with(json!({"htm": null})), ProofError::Htm),
        (with(json!({"htu": null})), ProofError::Htu),
    ];
    for (claims, want) in cases {
        let p = s.proof(s.header(), claims.clone());
        assert_eq!(verify(&p, &expect()).unwrap_err(), want, "{claims}");
    }
    // Inside the window, and a query or fragment in htu is ignored (RFC 9449 §4.2).
    for ok in [
        with(json!({"iat": NOW - 64.0})),
        with(json!({"iat": NOW + 4.0})),
        with(json!({"htu": format!("{HTU}?page=2#top")})),
        with(json!({"htu": "HTTPS://API.EXAMPLE.COM:443/v1/./orders"})),
    ] {
        assert!(
            verify(&s.proof(s.header(), ok.clone()), &expect()).is_ok(),
            "{ok}"
        );
    }
    let no_url = Expect {
        htu: None,
        ..expect()
    };
    let p = s.proof(s.header(), claims());
    assert_eq!(verify(&p, &no_url).unwrap_err(), ProofError::Htu);
}

#[test]
fn header_checks() {
    let s = Signer::p256();
    let mut private = s.jwk();
    private["d"] = json!("c2VjcmV0");
    let mut null_private = s.jwk();
    null_private["d"] = Value::Null;
    let mut p384_crv = s.jwk();
    p384_crv["crv"] = json!("P-384");
    let cases = [
        (
            json!({"typ": "jwt", "alg": "ES256", "jwk": s.jwk()}),
            ProofError::Typ,
        ),
        (json!({"alg": "ES256", "jwk": s.jwk()}), ProofError::Typ),
        (
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": s.jwk()}),
            ProofError::Alg,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "none", "jwk": s.jwk()}),
            ProofError::Alg,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "es256", "jwk": s.jwk()}),
            ProofError::Alg,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "ES384", "jwk": s.jwk()}),
            ProofError::Jwk,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": s.jwk()}),
            ProofError::Jwk,
        ),
        (json!({"typ": "dpop+jwt", "alg": "ES256"}), ProofError::Jwk),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": p384_crv}),
            ProofError::Jwk,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": "AAAA"}}),
            ProofError::PrivateKey,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}),
            ProofError::PrivateKey,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": null_private}),
            ProofError::PrivateKey,
        ),
        (
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": s.jwk(), "crit": ["x"]}),
            ProofError::Malformed,
        ),
        (
            json!({"typ": "dpop+jwt", "typ ": 1, "alg": "ES256", "jwk": "str"}),
            ProofError::Malformed,
        ),
    ];
    for (header, want) in cases {
        let p = s.proof(header.clone(), claims());
        assert_eq!(verify(&p, &expect()).unwrap_err(), want, "{header}");
    }
    for typ in ["DPoP+JWT", "application/dpop+jwt"] {
        let p = s.proof(
            json!({"typ": typ, "alg": "ES256", "jwk": s.jwk()}),
            claims(),
        );
        assert!(verify(&p, &expect()).is_ok(), "{typ}");
    }
}

#[test]
fn signatures_bind_key_and_content() {
    let s = Signer::p256();
    let other = Signer::p256();
    // Signed by another key than the one in the header.
    let p = other.proof(s.header(), claims());
    assert_eq!(verify(&p, &expect()).unwrap_err(), ProofError::Signature);
    // Claims changed after signing.
    let p = s.proof(s.header(), claims());
    let mut parts: Vec<&str> = p.split('.').collect();
    let forged = b64(with(json!({"jti": "j-2"})).to_string());
    parts[1] = &forged;
    assert_eq!(
        verify(&parts.join("."), &expect()).unwrap_err(),
        ProofError::Signature
    );
}

#[test]
fn malformed_input_never_panics() {
    let s = Signer::p256();
    let good = s.proof(s.header(), claims());
    let dup = format!(
        "{}.{}.{}",
        b64(r#"{"typ":"dpop+jwt","typ":"jwt","alg":"ES256"}"#),
        b64(claims().to_string()),
        "c2ln"
    );
    for bad in [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c.d",
        "a.b.",
        "***.b.c",
        &good[..good.len() - 1],
        &format!("{good}.x"),
        &format!("{}.{}.c2ln", b64("[]"), b64("{}")),
        &format!("{}.{}.c2ln", b64("{"), b64("{}")),
        &dup,
        &"a".repeat(9000),
    ] {
        assert!(
            parse(bad).is_err() || verify(bad, &expect()).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn bindings() {
    let claims = |v: Value| match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    assert_eq!(binding(&claims(json!({}))), Binding::Unbound);
    assert_eq!(
        binding(&claims(json!({"cnf": {"jkt": "abc"}}))),
        Binding::Bound("abc")
    );
    assert_eq!(
        binding(&claims(json!({"cnf": {"x5t#S256": "abc"}}))),
        Binding::Unbound
    );
    assert_eq!(binding(&claims(json!({"cnf": "abc"}))), Binding::Malformed);
    assert_eq!(
        binding(&claims(json!({"cnf": {"jkt": 1}}))),
        Binding::Malformed
    );
}

#[tokio::test]
async fn replays_are_caught_once_per_key_and_jti() {
    let cache = replay::ReplayCache::new(100);
    let ttl = std::time::Duration::from_secs(60);
    assert!(cache.first_use("key-a", "j-1", ttl).await);
    assert!(!cache.first_use("key-a", "j-1", ttl).await);
    assert!(cache.first_use("key-b", "j-1", ttl).await);
    assert!(cache.first_use("key-a", "j-2", ttl).await);
}
