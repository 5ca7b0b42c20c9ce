// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests for JWKS parsing, key lookup and the cache (against an in-process server).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::*;
use crate::oidc::testkit::{json_response, jwks, response, rsa_key, rsa_key2, FakeServer, TestKey};
use crate::oidc::NoopObserver;

fn set(doc: Value) -> Result<KeySet, JwksError> {
    KeySet::from_json(doc.to_string().as_bytes())
}

#[test]
fn parses_every_supported_key_type() {
    let (p256, p384, ed) = (
        TestKey::es256("ec"),
        TestKey::es384("ec384"),
        TestKey::ed25519("ed"),
    );
    let keys = set(jwks(&[rsa_key(), &p256, &p384, &ed])).unwrap();
    assert_eq!(keys.len(), 4);
    assert!(keys.find(Some("rsa-1"), Algorithm::RS256).is_ok());
    assert!(keys.find(Some("rsa-1"), Algorithm::PS512).is_ok());
    assert!(keys.find(Some("ec"), Algorithm::ES256).is_ok());
    assert!(keys.find(Some("ec384"), Algorithm::ES384).is_ok());
    assert!(keys.find(Some("ed"), Algorithm::EdDSA).is_ok());
    // A key never serves an algorithm of another family or curve.
    assert_eq!(
        keys.find(Some("ec"), Algorithm::ES384).err(),
        Some(KeyMiss::NotFound)
    );
    assert_eq!(
        keys.find(Some("rsa-1"), Algorithm::ES256).err(),
        Some(KeyMiss::NotFound)
    );
    assert_eq!(
        keys.find(Some("rsa-1"), Algorithm::HS256).err(),
        Some(KeyMiss::NotFound)
    );
}

#[test]
fn skips_unusable_keys() {
    let mut enc = rsa_key().jwk();
    enc["use"] = json!("enc");
    enc["kid"] = json!("enc");
    let mut conflicting = rsa_key().jwk();
    conflicting["alg"] = json!("ES256");
    conflicting["kid"] = json!("conflict");
    let mut unknown_alg = rsa_key().jwk();
    unknown_alg["alg"] = json!("RSA-OAEP");
    unknown_alg["kid"] = json!("oaep");
    let mut no_verify = rsa_key().jwk();
    no_verify["key_ops"] = json!(["encrypt"]);
    no_verify["kid"] = json!("ops");
    let oct = json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"});
    let secp256k1 = json!({"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": "AA", "y": "AA"});
    let short_ec = json!({"kty": "EC", "kid": "short", "crv": "P-256", "x": "AAAA", "y": "AAAA"});
    let weak_rsa = json!({"kty": "RSA", "kid": "weak", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 128]), "e": "AQAB"});
    let mut pinned = rsa_key().jwk();
    pinned["alg"] = json!("RS256");
    pinned["kid"] = json!("pinned");
    let doc = json!({"keys": [enc, conflicting, unknown_alg, no_verify, oct, secp256k1,
        short_ec, weak_rsa, "not an object", pinned]});
    let keys = set(doc).unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys.find(Some("pinned"), Algorithm::RS256).is_ok());
    // The JWK pins RS256: PS256 with the same key is refused.
    assert!(keys.find(Some("pinned"), Algorithm::PS256).is_err());
}

#[test]
fn rejects_documents_without_usable_keys() {
    assert!(set(json!({"keys": []})).is_err());
    assert!(set(json!({"keys": [{"kty": "oct", "k": "AA"}]})).is_err());
    assert!(set(json!({"nokeys": 1})).is_err());
    assert!(KeySet::from_json(b"not json").is_err());
}

#[test]
fn kid_lookup_is_exact_and_no_kid_needs_a_unique_key() {
    let keys = set(jwks(&[rsa_key()])).unwrap();
    assert!(keys.find(None, Algorithm::RS256).is_ok());
    assert_eq!(
        keys.find(Some("RSA-1"), Algorithm::RS256).err(),
        Some(KeyMiss::NotFound)
    );
    assert_eq!(
        keys.find(Some("rsa-"), Algorithm::RS256).err(),
        Some(KeyMiss::NotFound)
    );
    assert_eq!(
        keys.find(None, Algorithm::ES256).err(),
        Some(KeyMiss::NotFound)
    );
    let two = set(jwks(&[rsa_key(), rsa_key2()])).unwrap();
    assert_eq!(
        two.find(None, Algorithm::RS256).err(),
        Some(KeyMiss::Ambiguous)
    );
    assert!(two.find(Some("rsa-2"), Algorithm::RS256).is_ok());
    // One RSA and one EC key: without kid, each alg has exactly one candidate.
    let ec = TestKey::es256("ec");
    let mixed = set(jwks(&[rsa_key(), &ec])).unwrap();
    assert!(mixed.find(None, Algorithm::ES256).is_ok());
}

#[test]
fn ttl_comes_from_cache_control() {
    assert_eq!(ttl_from_cache_control(None), DEFAULT_TTL);
    assert_eq!(
        ttl_from_cache_control(Some("public, max-age=600")),
        Duration::from_secs(600)
    );
    assert_eq!(ttl_from_cache_control(Some("Max-Age=5")), MIN_TTL);
    assert_eq!(ttl_from_cache_control(Some("max-age=9999999")), MAX_TTL);
    assert_eq!(ttl_from_cache_control(Some("no-store")), MIN_TTL);
    assert_eq!(ttl_from_cache_control(Some("max-age=abc")), DEFAULT_TTL);
    assert_eq!(ttl_from_cache_control(Some("private")), DEFAULT_TTL);
}

/// A JWKS server whose document and health can be switched, optionally gated.
struct Idp {
    server: FakeServer,
    doc: Arc<Mutex<Value>>,
    down: Arc<Mutex<bool>>,
    gate: Arc<Semaphore>,
}

async fn idp(doc: Value, gated: bool) -> Idp {
    let doc = Arc::new(Mutex::new(doc));
    let down = Arc::new(Mutex::new(false));
    let gate = Arc::new(Semaphore::new(if gated { 0 } else { 1_000_000 }));
    let (d, dn, g) = (doc.clone(), down.clone(), gate.clone());
    let server = FakeServer::start(move |_seen| {
        let (d, dn, g) = (d.clone(), dn.clone(), g.clone());
        async move {
            g.acquire().await.unwrap().forget();
            if *dn.lock().unwrap() {
                return response(500, "text/plain", None, "down");
            }
            let body = d.lock().unwrap().clone();
            json_response(200, &body)
        }
    })
    .await;
    Idp {
        server,
        doc,
        down,
        gate,
    }
}

fn cache(idp: &Idp, interval: Duration) -> JwksCache {
    let client = IdpClient::new(None, Duration::from_secs(10)).unwrap();
    JwksCache::new(
        "test".into(),
        client,
        idp.server.url("/jwks"),
        interval,
        Arc::new(NoopObserver),
    )
}

#[tokio::test]
async fn unknown_kid_flood_fetches_at_most_once_per_interval() {
    let idp = idp(jwks(&[rsa_key()]), false).await;
    let cache = cache(&idp, Duration::from_secs(3600));
    cache.keys().await.unwrap();
    assert_eq!(idp.server.hits("/jwks"), 1);
    for _ in 0..100 {
        let keys = cache.refetch_for_unknown_key().await.unwrap();
        assert!(keys.find(Some("nope"), Algorithm::RS256).is_err());
    }
    assert_eq!(idp.server.hits("/jwks"), 1);
    assert_eq!(cache.stats().rate_limited.load(Ordering::Relaxed), 100);
}

#[tokio::test]
async fn concurrent_refetches_coalesce_and_rotation_works() {
    let idp = idp(jwks(&[rsa_key()]), true).await;
    idp.gate.add_permits(1);
    let cache = cache(&idp, Duration::ZERO);
    cache.keys().await.unwrap();
    // Rotate: the IdP now only has key 2; 50 requests with kid rsa-2 arrive together.
    *idp.doc.lock().unwrap() = jwks(&[rsa_key2()]);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let c = cache.clone();
            tokio::spawn(async move { c.refetch_for_unknown_key().await })
        })
        .collect();
    // All tasks are queued ahead of this one on the current-thread runtime, so they have
    // all joined the single in-flight fetch before the gate opens.
    tokio::task::yield_now().await;
    idp.gate.add_permits(1);
    for t in tasks {
        let keys = t.await.unwrap().unwrap();
        assert!(keys.find(Some("rsa-2"), Algorithm::RS256).is_ok());
        assert!(keys.find(Some("rsa-1"), Algorithm::RS256).is_err());
    }
    assert_eq!(idp.server.hits("/jwks"), 2);
}

#[tokio::test]
async fn stale_keys_keep_serving_when_the_idp_is_down() {
    let idp = idp(jwks(&[rsa_key()]), false).await;
    let cache = cache(&idp, Duration::ZERO);
    cache.keys().await.unwrap();
    *idp.down.lock().unwrap() = true;
    let keys = cache.refresh().await.unwrap();
    assert!(keys.find(Some("rsa-1"), Algorithm::RS256).is_ok());
    assert_eq!(cache.stats().fetch_failed.load(Ordering::Relaxed), 1);
    // Expired keys are served at once; the background refresh fails and keeps them.
    cache.expire_now();
    assert!(cache.is_stale());
    let keys = cache.keys().await.unwrap();
    assert!(keys.find(Some("rsa-1"), Algorithm::RS256).is_ok());
    let keys = cache.refetch_for_unknown_key().await.unwrap();
    assert!(keys.find(Some("rsa-1"), Algorithm::RS256).is_ok());
    assert!(cache.has_keys());
}

#[tokio::test]
async fn no_keys_and_idp_down_is_an_error_without_hammering() {
    let idp = idp(jwks(&[rsa_key()]), false).await;
    *idp.down.lock().unwrap() = true;
    let cache = cache(&idp, Duration::from_secs(3600));
    assert!(matches!(cache.keys().await, Err(JwksError::Fetch(_))));
    assert!(matches!(cache.keys().await, Err(JwksError::NotYet)));
    assert_eq!(idp.server.hits("/jwks"), 1);
    // The periodic task is not rate-limited and recovers once the IdP is back.
    *idp.down.lock().unwrap() = false;
    assert!(cache.refresh().await.is_ok());
    assert!(cache.keys().await.is_ok());
}

#[tokio::test]
async fn uri_change_is_followed() {
    let idp = idp(jwks(&[rsa_key()]), false).await;
    let cache = cache(&idp, Duration::ZERO);
    assert!(!cache.set_uri(&idp.server.url("/jwks")));
    assert!(cache.set_uri(&idp.server.url("/jwks2")));
    cache.refresh().await.unwrap();
    assert_eq!(idp.server.hits("/jwks2"), 1);
}

/// `key`'s JWK published under another `kid`.
fn jwk_as(key: &TestKey, kid: &str) -> Value {
    let mut jwk = key.jwk();
    jwk["kid"] = json!(kid);
    jwk
}

#[test]
fn keys_sharing_a_kid_verify_whatever_their_order_in_the_document() {
    use crate::auth::jwt::{JwtValidator, ASYMMETRIC_ALGS};
    let validator = JwtValidator::new(
        "https://idp.example.com".into(),
        vec!["api1".into()],
        Duration::from_secs(60),
        ASYMMETRIC_ALGS.to_vec(),
    );
    let t = crate::oidc::testkit::now();
    let claims =
        json!({"iss": "https://idp.example.com", "sub": "a", "aud": "api1", "exp": t + 300});
    let header = json!({"alg": "RS256", "kid": "dup"});
    let by_first = rsa_key().sign_raw(&header, &claims);
    let by_second = rsa_key2().sign_raw(&header, &claims);
    let (a, b) = (jwk_as(rsa_key(), "dup"), jwk_as(rsa_key2(), "dup"));
    // An EC key under the same kid does not suit RS256 and is not a candidate.
    let ec = jwk_as(&TestKey::es256("x"), "dup");
    for doc in [
        json!({"keys": [a.clone(), b.clone()]}),
        json!({"keys": [b.clone(), a.clone()]}),
        json!({"keys": [ec.clone(), b.clone(), a.clone()]}),
    ] {
        let keys = set(doc.clone()).unwrap();
        assert_eq!(keys.find(Some("dup"), Algorithm::RS256).unwrap().len(), 2);
        for token in [&by_first, &by_second] {
            let r = validator.validate(token, &keys);
            assert!(r.is_ok(), "{doc}: {:?}", r.err());
        }
        // A third key under that kid verifies with neither.
        let stranger = TestKey::rsa("dup").sign_raw(&header, &claims);
        assert_eq!(
            validator.validate(&stranger, &keys).err(),
            Some(crate::auth::jwt::JwtError::Invalid("bad signature"))
        );
    }
    // More candidates than the bound: refused, never a partial search.
    let many: Vec<Value> = (0..=MAX_CANDIDATES).map(|_| a.clone()).collect();
    let keys = set(json!({ "keys": many })).unwrap();
    assert_eq!(
        keys.find(Some("dup"), Algorithm::RS256).err(),
        Some(KeyMiss::TooMany)
    );
    assert!(validator.validate(&by_first, &keys).is_err());
    let bounded: Vec<Value> = (0..MAX_CANDIDATES).map(|_| a.clone()).collect();
    let keys = set(json!({ "keys": bounded })).unwrap();
    assert!(validator.validate(&by_first, &keys).is_ok());
}

#[test]
fn a_key_is_parsed_once_per_algorithm_and_checks_only_its_own_signatures() {
    let (p256, ed) = (TestKey::es256("ec"), TestKey::ed25519("ed"));
    let keys = set(jwks(&[rsa_key(), &p256, &ed])).unwrap();
    let signed = |key: &TestKey, alg: &str| {
        let token = key.sign_raw(&json!({"alg": alg}), &json!({"sub": "s"}));
        let (message, sig) = token.rsplit_once('.').unwrap();
        (message.to_owned(), URL_SAFE_NO_PAD.decode(sig).unwrap())
    };
    let only = |kid: &str, alg| {
        let c = keys.find(Some(kid), alg).unwrap();
        assert_eq!(c.len(), 1);
        let key = c.iter().next().unwrap();
        key
    };
    let rsa = only("rsa-1", Algorithm::RS256);
    let (message, rs256) = signed(rsa_key(), "RS256");
    let (_, ps256) = signed(rsa_key(), "PS256");
    for _ in 0..3 {
        assert_eq!(
            rsa.verify(Algorithm::RS256, message.as_bytes(), &rs256),
            Some(true)
        );
    }
    assert_eq!(rsa.parsed_count(), 1, "parsed once, then reused");
    // Each padding only under its own algorithm.
    assert_eq!(
        rsa.verify(Algorithm::PS256, message.as_bytes(), &rs256),
        Some(false)
    );
    assert_eq!(
        rsa.verify(Algorithm::RS256, message.as_bytes(), &ps256),
        Some(false)
    );
    assert_eq!(rsa.parsed_count(), 2);
    let mut tampered = message.clone().into_bytes();
    tampered[3] ^= 1;
    assert_eq!(rsa.verify(Algorithm::RS256, &tampered, &rs256), Some(false));
    // A key type never checks another type's algorithm.
    assert_eq!(
        rsa.verify(Algorithm::ES256, message.as_bytes(), &rs256),
        None
    );
    let ec = only("ec", Algorithm::ES256);
    let (message, es256) = signed(&p256, "ES256");
    assert_eq!(
        ec.verify(Algorithm::ES256, message.as_bytes(), &es256),
        Some(true)
    );
    assert_eq!(
        ec.verify(Algorithm::ES256, message.as_bytes(), &rs256),
        Some(false)
    );
    assert_eq!(
        ec.verify(Algorithm::ES384, message.as_bytes(), &es256),
        None
    );
    let ed_key = only("ed", Algorithm::EdDSA);
    let (message, eddsa) = signed(&ed, "EdDSA");
    assert_eq!(
        ed_key.verify(Algorithm::EdDSA, message.as_bytes(), &eddsa),
        Some(true)
    );
    assert_eq!(
        ed_key.verify(Algorithm::EdDSA, &tampered, &eddsa),
        Some(false)
    );
}

#[test]
fn a_point_off_the_curve_is_a_key_that_verifies_nothing() {
    let p256 = TestKey::es256("ec");
    let mut jwk = p256.jwk();
    // Same length, another y: not on P-256.
    let mut y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    y[31] ^= 1;
    jwk["y"] = json!(URL_SAFE_NO_PAD.encode(&y));
    let keys = set(json!({"keys": [jwk]})).unwrap();
    let token = p256.sign(&json!({"sub": "s"}));
    let (message, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let key = keys.find(Some("ec"), Algorithm::ES256).unwrap();
    let key = key.iter().next().unwrap();
    assert_eq!(key.verify(Algorithm::ES256, message.as_bytes(), &sig), None);
}
