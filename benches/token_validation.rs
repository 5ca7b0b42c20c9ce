//! Micro-benchmark of bearer-token validation: RS256 and ES256, verified afresh (header
//! vetting, key lookup, signature, claims) and answered from the verified-token cache
//! (lookup by the token + `exp` re-check), and the hash functions a token cache could be
//! keyed with. Run: `cargo bench --bench token_validation`.

// A benchmark is test code: failing loudly on broken setup is the point, and criterion's
// macros generate undocumented items.
#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::auth::credentials::TokenHash;
use portcullis::auth::jwks::KeySet;
use portcullis::auth::jwt::{self, JwtValidator, VerifiedCache, VerifiedToken, ASYMMETRIC_ALGS};
use portcullis::auth::verified::Verified;
use serde_json::json;

const ISS: &str = "https://idp.example.com";

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn claims() -> serde_json::Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({"iss": ISS, "aud": "api1", "sub": "alice", "exp": now + 3600, "iat": now,
        "scope": "api1.read api1.write", "preferred_username": "alice", "groups": ["a", "b"]})
}

fn message(kid: &str, alg: &str) -> String {
    let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
    format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims().to_string().as_bytes())
    )
}

/// An RS256 token and its JWK.
fn rs256() -> (String, serde_json::Value) {
    let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa keygen");
    let msg = message("rsa", "RS256");
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        msg.as_bytes(),
        &mut sig,
    )
    .expect("rsa sign");
    let p = key.public_key();
    let jwk = json!({"kty": "RSA", "kid": "rsa", "use": "sig",
        "n": b64(p.modulus().big_endian_without_leading_zero()),
        "e": b64(p.exponent().big_endian_without_leading_zero())});
    (format!("{msg}.{}", b64(&sig)), jwk)
}

/// An ES256 token and its JWK.
fn es256() -> (String, serde_json::Value) {
    let key =
        EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec keygen");
    let msg = message("ec", "ES256");
    let sig = key
        .sign(&SystemRandom::new(), msg.as_bytes())
        .expect("ec sign");
    let point = key.public_key().as_ref();
    let jwk = json!({"kty": "EC", "kid": "ec", "use": "sig", "crv": "P-256",
        "x": b64(&point[1..33]), "y": b64(&point[33..])});
    (format!("{msg}.{}", b64(sig.as_ref())), jwk)
}

fn bench(c: &mut Criterion) {
    let (rs_token, rs_jwk) = rs256();
    let (es_token, es_jwk) = es256();
    let doc = json!({"keys": [rs_jwk, es_jwk]}).to_string();
    let keys = KeySet::from_json(doc.as_bytes()).expect("jwks");
    let validator = JwtValidator::new(
        ISS.into(),
        vec!["api1".into()],
        Duration::from_secs(60),
        ASYMMETRIC_ALGS.to_vec(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let cache = VerifiedCache::new(10_000);

    for (name, token) in [("rs256", &rs_token), ("es256", &es_token)] {
        let (claims, exp) = validator.validate(token, &keys).expect("valid token");
        c.bench_function(&format!("{name}/fresh"), |b| {
            b.iter(|| validator.validate(black_box(token), &keys))
        });
        let entry = Arc::new(VerifiedToken {
            verified: Arc::new(Verified::new(claims)),
            exp,
        });
        rt.block_on(cache.insert(token, entry));
        c.bench_function(&format!("{name}/cached"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let hit = cache.get(black_box(token.as_bytes())).expect("cached");
                    assert!(validator.still_valid(hit.exp, jwt::unix_now()));
                    hit.verified.clone()
                })
            })
        });
    }
}

/// What keying the token caches costs per request, for an 800-byte token (the load
/// benchmark's JWT) and a 2 kB one: SHA-256 of the token (the old key), std's SipHash
/// (`RandomState`) and seeded XXH3 (the hasher the caches use now).
fn bench_hash(c: &mut Criterion) {
    use std::hash::BuildHasher as _;
    let sip = std::hash::RandomState::new();
    let xxh3 = portcullis::auth::token_key::TokenHashing::default();
    let xxh3_streamed = xxhash_rust::xxh3::Xxh3Builder::new().with_seed(sip.hash_one(0));
    for len in [800, 2000] {
        let token = "eyJhbGciOiJSUzI1NiJ9.".repeat(len / 21 + 1)[..len].to_owned();
        c.bench_function(&format!("token{len}/sha256"), |b| {
            b.iter(|| TokenHash::of(black_box(&token)))
        });
        c.bench_function(&format!("token{len}/siphash"), |b| {
            b.iter(|| sip.hash_one(black_box(token.as_str())))
        });
        c.bench_function(&format!("token{len}/xxh3"), |b| {
            b.iter(|| xxh3.hash_one(black_box(token.as_str())))
        });
        c.bench_function(&format!("token{len}/xxh3-seeded-builder"), |b| {
            b.iter(|| xxh3_streamed.hash_one(black_box(token.as_str())))
        });
    }
}

/// The floor: the signature check alone with aws-lc-rs, the key parsed once
/// (`ParsedPublicKey`), against the key built from its JWK components on every call (what
/// `jsonwebtoken::crypto::verify` does).
fn bench_signature(c: &mut Criterion) {
    let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa keygen");
    let ec =
        EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec keygen");
    let msg = message("k", "RS256");
    let mut rsa_sig = vec![0; rsa.public_modulus_len()];
    rsa.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        msg.as_bytes(),
        &mut rsa_sig,
    )
    .expect("rsa sign");
    let ec_sig = ec
        .sign(&SystemRandom::new(), msg.as_bytes())
        .expect("ec sign");
    let p = rsa.public_key();
    let (n, e) = (
        p.modulus().big_endian_without_leading_zero(),
        p.exponent().big_endian_without_leading_zero(),
    );
    let components = signature::RsaPublicKeyComponents { n, e };
    let parsed = components
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("rsa key");
    c.bench_function("rs256/signature-parsed-key", |b| {
        b.iter(|| parsed.verify_sig(black_box(msg.as_bytes()), &rsa_sig))
    });
    c.bench_function("rs256/signature-key-per-call", |b| {
        b.iter(|| {
            components.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                black_box(msg.as_bytes()),
                &rsa_sig,
            )
        })
    });
    let point = ec.public_key().as_ref().to_vec();
    let parsed = signature::ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
        .expect("ec key");
    c.bench_function("es256/signature-parsed-key", |b| {
        b.iter(|| parsed.verify_sig(black_box(msg.as_bytes()), ec_sig.as_ref()))
    });
    let unparsed = signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point);
    c.bench_function("es256/signature-key-per-call", |b| {
        b.iter(|| unparsed.verify(black_box(msg.as_bytes()), ec_sig.as_ref()))
    });
}

criterion_group!(benches, bench, bench_hash, bench_signature);
criterion_main!(benches);
