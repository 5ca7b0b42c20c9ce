//! Micro-benchmark of the authentication work per request on a DPoP route (RFC 9449:
//! a fresh proof on every request, as real clients send, with the access token answered
//! from the verified-token cache) against a route verifying a bearer JWT afresh on every
//! request (RS256 and ES256). Issue 17 asks for a DPoP route at ≤ 2× the CPU per request
//! of a fresh-JWT route. Run: `cargo bench --bench dpop`.

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
use portcullis::auth::dpop::{self, htu, replay::ReplayCache, Expect};
use portcullis::auth::jwks::KeySet;
use portcullis::auth::jwt::{self, JwtValidator, VerifiedCache, VerifiedToken, ASYMMETRIC_ALGS};
use portcullis::auth::verified::Verified;
use portcullis::config::ClaimsConfig;
use serde_json::{json, Value};

const ISS: &str = "https://idp.example.com";
const HTU: &str = "https://api.example.com/v1/orders";
/// Distinct pre-signed proofs cycled through (signing is the client's cost, not ours).
const PROOFS: usize = 2_000;

fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn claims(extra: Value) -> Value {
    let now = now();
    let mut c = json!({"iss": ISS, "aud": "api1", "sub": "alice", "exp": now + 3600, "iat": now,
        "scope": "api1.read api1.write", "preferred_username": "alice", "groups": ["a", "b"]});
    if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
        c.extend(e);
    }
    c
}

fn compact(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let msg = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = sign(msg.as_bytes());
    format!("{msg}.{}", b64(&sig))
}

fn ec_key() -> EcdsaKeyPair {
    EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec keygen")
}

fn ec_jwk(key: &EcdsaKeyPair) -> Value {
    let p = key.public_key().as_ref();
    json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..])})
}

fn ec_sign(key: &EcdsaKeyPair) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
    move |m| {
        key.sign(&SystemRandom::new(), m)
            .expect("ec sign")
            .as_ref()
            .to_vec()
    }
}

fn bench(c: &mut Criterion) {
    let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa keygen");
    let idp_ec = ec_key();
    let p = rsa.public_key();
    let mut idp_ec_jwk = ec_jwk(&idp_ec);
    idp_ec_jwk["kid"] = json!("ec");
    let doc = json!({"keys": [
        {"kty": "RSA", "kid": "rsa", "n": b64(p.modulus().big_endian_without_leading_zero()),
         "e": b64(p.exponent().big_endian_without_leading_zero())},
        idp_ec_jwk,
    ]});
    let keys = KeySet::from_json(doc.to_string().as_bytes()).expect("jwks");
    let validator = JwtValidator::new(
        ISS.into(),
        vec!["api1".into()],
        Duration::from_secs(60),
        ASYMMETRIC_ALGS.to_vec(),
    );
    let claims_cfg = ClaimsConfig {
        username: vec!["preferred_username".into()],
        email: vec!["email".into()],
        groups: vec!["groups".into()],
    };
    let rs_sign = |m: &[u8]| {
        let mut sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            m,
            &mut sig,
        )
        .expect("rsa sign");
        sig
    };

    // The fresh-JWT route: header, key, signature, claims, principal, every request.
    let rs_token = compact(
        &json!({"alg": "RS256", "kid": "rsa", "typ": "JWT"}),
        &claims(json!({})),
        rs_sign,
    );
    let es_token = compact(
        &json!({"alg": "ES256", "kid": "ec", "typ": "JWT"}),
        &claims(json!({})),
        ec_sign(&idp_ec),
    );
    for (name, token) in [("rs256", &rs_token), ("es256", &es_token)] {
        c.bench_function(&format!("jwt_fresh/{name}"), |b| {
            b.iter(|| {
                let (claims, _) = validator.validate(black_box(token), &keys).expect("valid");
                Verified::new(claims)
                    .principal(&claims_cfg, 0)
                    .expect("principal")
            })
        });
    }

    // The DPoP route: the bound token from the cache, a fresh ES256 proof verified (once),
    // bound to the token's cnf.jkt, and its jti remembered.
    let client = ec_key();
    let client_jwk = ec_jwk(&client);
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": client_jwk});
    let probe = compact(
        &header,
        &json!({"jti": "x", "htm": "GET", "htu": HTU, "iat": now()}),
        ec_sign(&client),
    );
    let jkt = dpop::parse(&probe).expect("proof").key.thumbprint;
    let token = compact(
        &json!({"alg": "RS256", "kid": "rsa", "typ": "JWT"}),
        &claims(json!({"cnf": {"jkt": jkt}})),
        rs_sign,
    );
    let ath = dpop::token_hash(&token);
    let proofs: Vec<String> = (0..PROOFS)
        .map(|i| {
            let c = json!({"jti": format!("{i:016x}-bench"), "htm": "GET", "htu": HTU, "iat": now(), "ath": ath});
            compact(&header, &c, ec_sign(&client))
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let cache = VerifiedCache::new(10_000);
    let (token_claims, exp) = validator.validate(&token, &keys).expect("bound token");
    let verified = Arc::new(Verified::new(token_claims));
    let _ = verified.principal(&claims_cfg, 0);
    rt.block_on(cache.insert(&token, Arc::new(VerifiedToken { verified, exp })));
    let replay = ReplayCache::new(1_000_000);
    let want_htu = htu::request_htu("https://api.example.com", "/v1/orders").expect("htu");
    let mut n = 0usize;
    c.bench_function("dpop_fresh_proof/es256", |b| {
        b.iter(|| {
            n += 1;
            let proof = &proofs[n % PROOFS];
            rt.block_on(async {
                let hit = cache.get(black_box(token.as_bytes())).expect("cached");
                assert!(validator.still_valid(hit.exp, jwt::unix_now()));
                let bound = match dpop::binding(&hit.verified.claims) {
                    dpop::Binding::Bound(jkt) => jkt,
                    _ => unreachable!(),
                };
                let expect = Expect {
                    method: "GET",
                    htu: Some(&want_htu),
                    access_token: &token,
                    now: jwt::unix_now(),
                    window: 3600.0,
                    leeway: 60.0,
                };
                let parsed = dpop::verify(proof, &expect).expect("valid proof");
                assert_eq!(parsed.key.thumbprint, bound);
                // Unique per iteration, as real jtis are (cycling proofs would be replays).
                let jti = format!("{}-{n}", parsed.claims.jti);
                assert!(
                    replay
                        .first_use(&parsed.key.thumbprint, &jti, Duration::from_secs(60))
                        .await
                );
            })
        })
    });
}

/// Where the time goes: the proof's parsing and key handling without the signature, and
/// the two signature checks alone (the IdP's RS256, the client's ES256).
fn breakdown(c: &mut Criterion) {
    let client = ec_key();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": ec_jwk(&client)});
    let proof = compact(
        &header,
        &json!({"jti": "j", "htm": "GET", "htu": HTU, "iat": now(), "ath": "x"}),
        ec_sign(&client),
    );
    c.bench_function("breakdown/dpop_parse_and_thumbprint", |b| {
        b.iter(|| dpop::parse(black_box(&proof)).expect("parses"))
    });
    let msg = b"a message of some length, as a JWS signing input would be";
    let sig = ec_sign(&client)(msg);
    let point = client.public_key().as_ref().to_vec();
    c.bench_function("breakdown/p256_verify", |b| {
        b.iter(|| {
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
                .verify(black_box(msg), &sig)
                .expect("verifies")
        })
    });
    let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa keygen");
    let mut rsig = vec![0; rsa.public_modulus_len()];
    rsa.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        msg,
        &mut rsig,
    )
    .expect("rsa sign");
    let public = rsa.public_key().as_ref().to_vec();
    c.bench_function("breakdown/rsa2048_verify", |b| {
        b.iter(|| {
            signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public)
                .verify(black_box(msg), &rsig)
                .expect("verifies")
        })
    });
}

criterion_group!(benches, bench, breakdown);
criterion_main!(benches);
