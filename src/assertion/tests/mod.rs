// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Keys (PEM loading, refusals) and the key ring's rotation rules at chosen instants,
//! with the shared key and config helpers; `sign.rs`: assertions checked by jsonwebtoken
//! against the published JWK.

mod sign;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::keys::SigningKey;
use super::*;
use crate::auth::principal::Principal;
use crate::config::{AssertionAlg, ClaimsConfig, Config};
use crate::metrics::Metrics;

const T0: u64 = 1_800_000_000;

fn pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// Writes a fresh PKCS#8 key of `kind` (`ec`, `rsa`, `ed`, `p384`) to `dir/name`.
fn key_file(dir: &Path, name: &str, kind: &str) -> PathBuf {
    let der = match kind {
        "ec" => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap()
            .as_ref()
            .to_vec(),
        "p384" => EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING)
            .unwrap()
            .to_pkcs8v1()
            .unwrap()
            .as_ref()
            .to_vec(),
        "rsa" => {
            let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp)
                .unwrap()
                .as_ref()
                .to_vec()
        }
        "ed" => Ed25519KeyPair::generate()
            .unwrap()
            .to_pkcs8v1()
            .unwrap()
            .as_ref()
            .to_vec(),
        other => panic!("{other}"),
    };
    let path = dir.join(name);
    std::fs::write(&path, pem(&der)).unwrap();
    path
}

/// A config with one bearer route signing `alg` (ttl 60s) and `keys` as YAML list items.
fn config(alg: &str, keys: &[String], overlap: &str) -> Config {
    let keys = if keys.is_empty() {
        String::new()
    } else {
        format!("signing_keys:\n{}", keys.concat())
    };
    let yaml = format!(
        "server: {{ listen: \"127.0.0.1:0\", public_url: \"https://gw.example\" }}\n\
         admin: {{ listen: off }}\n\
         providers:\n  - {{ name: idp, issuer: \"https://idp.example\", client_id: c }}\n\
         routes:\n  - name: api\n    upstream: \"http://127.0.0.1:1\"\n    auth: bearer\n    \
         identity_assertion: {{ audience: orders, ttl: 60s, alg: {alg} }}\n\
         signing_key_overlap: {overlap}\n{keys}"
    );
    crate::config::load_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn entry(kid: &str, file: &Path, extra: &str) -> String {
    format!(
        "  - {{ kid: \"{kid}\", file: \"{}\"{extra} }}\n",
        file.display()
    )
}

fn ring(cfg: &Config, previous: Option<&KeyRing>, now: u64) -> KeyRing {
    KeyRing::build(cfg, previous, now)
        .unwrap_or_else(|e| panic!("{}: {}", e.path, e.reason))
        .expect("a ring")
}

fn kids(r: &KeyRing, now: u64) -> Vec<String> {
    r.published(now).map(|k| k.kid().to_owned()).collect()
}

fn signer(r: &KeyRing, now: u64) -> String {
    r.signer(AssertionAlg::Es256, now)
        .unwrap()
        .key()
        .kid()
        .to_owned()
}

#[test]
fn keys_load_from_pem_of_each_kind_and_refuse_others() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, alg) in [
        ("ec", AssertionAlg::Es256),
        ("rsa", AssertionAlg::Rs256),
        ("ed", AssertionAlg::EdDsa),
    ] {
        let k = SigningKey::load("k", &key_file(dir.path(), kind, kind)).unwrap();
        assert_eq!(k.alg(), alg);
        assert_eq!(k.jwk()["kid"], "k");
        assert!(!format!("{k:?}").contains("BEGIN"), "Debug hides the key");
    }
    let p384 = key_file(dir.path(), "p384", "p384");
    assert!(
        SigningKey::load("k", &p384).is_err(),
        "P-384 does not sign ES256"
    );
    let junk = dir.path().join("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = SigningKey::load("k", &junk).unwrap_err();
    assert!(!err.contains("AAAA"), "{err}");
    std::fs::write(&junk, "not pem at all").unwrap();
    assert!(SigningKey::load("k", &junk).is_err());
}

#[test]
fn the_rfc7638_thumbprint_matches_the_rfc_example() {
    // RFC 7638 §3.1: the example RSA key's thumbprint.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let jwk = json!({"e": "AQAB", "kty": "RSA", "n": n});
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, jwk.to_string().as_bytes());
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    // Generated keys are named by their thumbprint.
    let k = SigningKey::generate(AssertionAlg::Es256).unwrap();
    assert_eq!(k.kid(), k.thumbprint());
}

#[test]
fn a_single_key_signs_from_the_start_and_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let a = key_file(dir.path(), "a.pem", "ec");
    let r = ring(&config("ES256", &[entry("a", &a, "")], "10m"), None, T0);
    assert_eq!(signer(&r, T0), "a");
    assert_eq!(kids(&r, T0), ["a"]);
    assert_eq!(r.max_age(), 300, "half the overlap");
    let jwks: Value = serde_json::from_slice(&r.jwks(T0)).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "EC");
    assert!(jwks["keys"][0].get("d").is_none(), "never the private part");
}

#[test]
fn a_new_key_is_published_for_the_overlap_before_it_signs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        key_file(dir.path(), "a.pem", "ec"),
        key_file(dir.path(), "b.pem", "ec"),
    );
    let r1 = ring(&config("ES256", &[entry("a", &a, "")], "10m"), None, T0);
    let t1 = T0 + 3600;
    let both = config("ES256", &[entry("a", &a, ""), entry("b", &b, "")], "10m");
    let r2 = ring(&both, Some(&r1), t1);
    assert_eq!(kids(&r2, t1), ["a", "b"], "b is published at once");
    assert_eq!(signer(&r2, t1), "a", "a still signs");
    assert_eq!(signer(&r2, t1 + 599), "a");
    assert_eq!(signer(&r2, t1 + 600), "b", "b signs after the overlap");
    // A per-key not_before: a time, or a duration after this process loaded it.
    let timed = entry("b", &b, ", not_before: \"2020-01-01T00:00:00Z\"");
    let r3 = ring(
        &config("ES256", &[entry("a", &a, ""), timed], "10m"),
        Some(&r1),
        t1,
    );
    assert_eq!(signer(&r3, t1), "b");
    let later = entry("b", &b, ", not_before: 1h");
    let r4 = ring(
        &config("ES256", &[entry("a", &a, ""), later], "10m"),
        Some(&r1),
        t1,
    );
    assert_eq!(signer(&r4, t1 + 3599), "a");
    assert_eq!(signer(&r4, t1 + 3600), "b");
}

#[test]
fn a_removed_key_signs_until_its_successor_may_and_stays_published_after() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        key_file(dir.path(), "a.pem", "ec"),
        key_file(dir.path(), "b.pem", "ec"),
    );
    let r1 = ring(&config("ES256", &[entry("a", &a, "")], "10m"), None, T0);
    r1.signer(AssertionAlg::Es256, T0).unwrap().signed_at(T0);
    // Replaced in one step: b must still wait for its overlap, so a goes on signing.
    let r2 = ring(
        &config("ES256", &[entry("b", &b, "")], "10m"),
        Some(&r1),
        T0 + 10,
    );
    assert_eq!(signer(&r2, T0 + 10), "a");
    r2.signer(AssertionAlg::Es256, T0 + 20)
        .unwrap()
        .signed_at(T0 + 20);
    assert_eq!(kids(&r2, T0 + 20), ["b", "a"]);
    assert_eq!(signer(&r2, T0 + 610), "b");
    // Published until ttl + max-age after its last signature, then gone.
    let window = r2.retire_window().as_secs();
    assert_eq!(window, 60 + 300);
    assert_eq!(kids(&r2, T0 + 20 + window - 1), ["b", "a"]);
    assert_eq!(kids(&r2, T0 + 20 + window), ["b"]);
}

#[test]
fn a_removed_key_that_never_signed_and_a_revoked_key_go_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        key_file(dir.path(), "a.pem", "ec"),
        key_file(dir.path(), "b.pem", "ec"),
    );
    let both = config("ES256", &[entry("a", &a, ""), entry("b", &b, "")], "10m");
    let r1 = ring(&both, None, T0);
    let r2 = ring(
        &config("ES256", &[entry("a", &a, "")], "10m"),
        Some(&r1),
        T0 + 1,
    );
    assert_eq!(kids(&r2, T0 + 1), ["a"], "b never signed");
    r2.signer(AssertionAlg::Es256, T0 + 1)
        .unwrap()
        .signed_at(T0 + 1);
    let revoked = "  - { kid: \"a\", revoked: true }\n".to_owned();
    let r3 = ring(
        &config("ES256", &[revoked, entry("b", &b, "")], "10m"),
        Some(&r2),
        T0 + 2,
    );
    assert_eq!(
        kids(&r3, T0 + 2),
        ["b"],
        "revoked: gone although it just signed"
    );
    assert_eq!(signer(&r3, T0 + 2), "b");
}

#[test]
fn a_kid_that_names_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = key_file(dir.path(), "a.pem", "ec");
    let r1 = ring(&config("ES256", &[entry("a", &a, "")], "10m"), None, T0);
    key_file(dir.path(), "a.pem", "ec");
    let err = KeyRing::build(
        &config("ES256", &[entry("a", &a, "")], "10m"),
        Some(&r1),
        T0,
    )
    .unwrap_err();
    assert_eq!(err.path, "signing_keys[0].kid");
}

#[test]
fn a_route_needs_a_key_of_its_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let a = key_file(dir.path(), "a.pem", "ec");
    let err = KeyRing::build(&config("RS256", &[entry("a", &a, "")], "10m"), None, T0).unwrap_err();
    assert_eq!(err.path, "routes[0].identity_assertion.alg");
    assert!(err.reason.contains("a (ES256)"), "{}", err.reason);
}

#[test]
fn a_generated_key_survives_reloads() {
    let cfg = config("EdDSA", &[], "10m");
    let r1 = ring(&cfg, None, T0);
    let kid = r1
        .signer(AssertionAlg::EdDsa, T0)
        .unwrap()
        .key()
        .kid()
        .to_owned();
    let r2 = ring(&cfg, Some(&r1), T0 + 5);
    assert_eq!(
        r2.signer(AssertionAlg::EdDsa, T0 + 5).unwrap().key().kid(),
        kid
    );
    // Only revoked keys listed: still generated.
    let only_revoked = config(
        "EdDSA",
        &["  - { kid: old, revoked: true }\n".into()],
        "10m",
    );
    let r3 = ring(&only_revoked, Some(&r2), T0 + 6);
    assert_eq!(kids(&r3, T0 + 6), [kid]);
}
