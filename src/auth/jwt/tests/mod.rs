// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests for JOSE-header vetting, signature and claim checks; `cache.rs`: the verified
//! cache.

mod cache;

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::auth::verified::Verified;
use crate::oidc::testkit::{jwks, now, rsa_key, rsa_key2, sign_hs256, TestKey};

const ISS: &str = "https://idp.example.com";

fn validator() -> JwtValidator {
    JwtValidator::new(
        ISS.into(),
        vec!["api1".into(), "client-x".into()],
        Duration::from_secs(60),
        ASYMMETRIC_ALGS.to_vec(),
    )
}

fn claims() -> Value {
    let t = now();
    json!({"iss": ISS, "sub": "alice", "aud": "api1", "exp": t + 300, "iat": t, "nbf": t})
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

fn without(mut c: Value, key: &str) -> Value {
    c.as_object_mut().unwrap().remove(key);
    c
}

fn keys(list: &[&TestKey]) -> KeySet {
    KeySet::from_json(jwks(list).to_string().as_bytes()).unwrap()
}

fn check(token: &str, set: &KeySet) -> Result<(Claims, f64), JwtError> {
    validator().validate(token, set)
}

fn invalid(token: &str, set: &KeySet) -> &'static str {
    match check(token, set) {
        Err(JwtError::Invalid(reason)) => reason,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn accepts_every_supported_algorithm() {
    let (es256, es384, ed) = (
        TestKey::es256("e1"),
        TestKey::es384("e2"),
        TestKey::ed25519("d"),
    );
    let set = keys(&[rsa_key(), &es256, &es384, &ed]);
    for key in [rsa_key(), &es256, &es384, &ed] {
        let (c, exp) = check(&key.sign(&claims()), &set).unwrap();
        assert_eq!(c["sub"], "alice");
        assert!(exp > now() as f64);
    }
    let ps = rsa_key().sign_raw(&json!({"alg": "PS256", "kid": "rsa-1"}), &claims());
    assert!(check(&ps, &set).is_ok());
}

#[test]
fn alg_none_in_any_casing_is_refused() {
    let set = keys(&[rsa_key()]);
    for none in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": none, "kid": "rsa-1"});
        let signed = rsa_key().sign_raw(&header, &claims());
        assert_eq!(invalid(&signed, &set), "alg none");
        let unsigned = format!("{}.", signed.rsplit_once('.').unwrap().0);
        assert!(check(&unsigned, &set).is_err());
        assert_eq!(
            validator().header(&unsigned),
            Err(JwtError::Invalid("alg none"))
        );
    }
}

#[test]
fn hmac_keyed_with_the_public_key_is_refused() {
    let set = keys(&[rsa_key()]);
    for alg in ["HS256", "hs384", "HS512"] {
        let header = json!({"alg": alg, "kid": "rsa-1"});
        let forged = sign_hs256(&rsa_key().public_bytes(), &header, &claims());
        assert_eq!(invalid(&forged, &set), "symmetric alg");
    }
}

#[test]
fn alg_outside_the_allowlist_is_refused() {
    let es = TestKey::es256("e1");
    let set = keys(&[rsa_key(), &es]);
    let rs_only = JwtValidator::new(
        ISS.into(),
        vec!["api1".into()],
        Duration::ZERO,
        vec![Algorithm::RS256],
    );
    assert!(rs_only.validate(&rsa_key().sign(&claims()), &set).is_ok());
    assert_eq!(
        rs_only.validate(&es.sign(&claims()), &set).err(),
        Some(JwtError::Invalid("alg not allowed"))
    );
    let odd = rsa_key().sign_raw(&json!({"alg": "rs256", "kid": "rsa-1"}), &claims());
    assert_eq!(invalid(&odd, &set), "alg not allowed");
}

#[test]
fn allowlist_defaults() {
    let discovered = vec!["RS256".to_string(), "HS256".to_string(), "none".to_string()];
    assert_eq!(
        JwtValidator::allowed_algs(None, Some(&discovered)),
        vec![Algorithm::RS256]
    );
    assert_eq!(
        JwtValidator::allowed_algs(None, None),
        ASYMMETRIC_ALGS.to_vec()
    );
    let only_hs = vec!["HS256".to_string()];
    assert_eq!(
        JwtValidator::allowed_algs(None, Some(&only_hs)),
        ASYMMETRIC_ALGS.to_vec()
    );
    let cfg = [Algorithm::ES256, Algorithm::HS256];
    assert_eq!(
        JwtValidator::allowed_algs(Some(&cfg), Some(&discovered)),
        vec![Algorithm::ES256]
    );
}

#[test]
fn kid_rules() {
    let one = keys(&[rsa_key()]);
    let two = keys(&[rsa_key(), rsa_key2()]);
    let no_kid = rsa_key().sign_raw(&json!({"alg": "RS256"}), &claims());
    assert!(check(&no_kid, &one).is_ok());
    assert_eq!(invalid(&no_kid, &two), "no kid and several candidate keys");
    let unknown = rsa_key().sign_raw(&json!({"alg": "RS256", "kid": "other"}), &claims());
    assert_eq!(check(&unknown, &one).err(), Some(JwtError::UnknownKey));
    // Signed by key 1 but naming key 2: the named key is used, and it does not verify.
    let wrong = rsa_key().sign_raw(&json!({"alg": "RS256", "kid": "rsa-2"}), &claims());
    assert_eq!(invalid(&wrong, &two), "bad signature");
}

#[test]
fn keys_carried_by_the_token_are_never_used() {
    let set = keys(&[rsa_key()]);
    let attacker = TestKey::rsa("attacker");
    let jwk = attacker.jwk();
    for header in [
        json!({"alg": "RS256", "kid": "attacker", "jwk": jwk}),
        json!({"alg": "RS256", "kid": "attacker", "jku": "https://evil.example/jwks"}),
        json!({"alg": "RS256", "kid": "attacker", "x5u": "https://evil.example/cert"}),
        json!({"alg": "RS256", "kid": "attacker", "x5c": ["MIIB"]}),
    ] {
        let token = attacker.sign_raw(&header, &claims());
        assert_eq!(check(&token, &set).err(), Some(JwtError::UnknownKey));
    }
    // Same, but naming the real kid: the JWKS key is used and the signature fails.
    let token = attacker.sign_raw(
        &json!({"alg": "RS256", "kid": "rsa-1", "jwk": jwk}),
        &claims(),
    );
    assert_eq!(invalid(&token, &set), "bad signature");
}

#[test]
fn tampered_payload_fails_the_signature() {
    let set = keys(&[rsa_key()]);
    let token = rsa_key().sign(&claims());
    let mut parts: Vec<&str> = token.split('.').collect();
    let evil = URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("admin")).to_string());
    parts[1] = &evil;
    assert_eq!(invalid(&parts.join("."), &set), "bad signature");
    let truncated = &token[..token.len() - 4];
    assert!(check(truncated, &set).is_err());
}

#[test]
fn time_claims() {
    let set = keys(&[rsa_key()]);
    let t = now();
    let sign = |c: Value| rsa_key().sign(&c);
    assert_eq!(
        invalid(&sign(with(claims(), "exp", json!(t - 120))), &set),
        "expired"
    );
    assert!(
        check(&sign(with(claims(), "exp", json!(t - 30))), &set).is_ok(),
        "within leeway"
    );
    assert_eq!(
        invalid(&sign(without(claims(), "exp")), &set),
        "exp missing"
    );
    let exp_str = with(claims(), "exp", json!((t + 300).to_string()));
    assert_eq!(invalid(&sign(exp_str), &set), "time claim is not a number");
    assert!(check(&sign(with(claims(), "exp", json!(t as f64 + 300.5))), &set).is_ok());
    assert_eq!(
        invalid(&sign(with(claims(), "nbf", json!(t + 600))), &set),
        "not yet valid (nbf)"
    );
    assert!(check(&sign(with(claims(), "nbf", json!(t + 30))), &set).is_ok());
    assert_eq!(
        invalid(&sign(with(claims(), "nbf", json!("0"))), &set),
        "time claim is not a number"
    );
    assert_eq!(
        invalid(&sign(with(claims(), "iat", json!(t + 600))), &set),
        "issued in the future (iat)"
    );
    assert!(check(&sign(without(without(claims(), "iat"), "nbf")), &set).is_ok());
}

#[test]
fn issuer_and_audience() {
    let set = keys(&[rsa_key()]);
    let sign = |c: Value| rsa_key().sign(&c);
    assert_eq!(
        invalid(&sign(with(claims(), "iss", json!("https://evil"))), &set),
        "issuer not accepted here"
    );
    assert_eq!(
        invalid(
            &sign(with(claims(), "iss", json!(ISS.to_string() + "/"))),
            &set
        ),
        "issuer not accepted here"
    );
    assert_eq!(
        invalid(&sign(without(claims(), "iss")), &set),
        "iss missing"
    );
    assert_eq!(
        invalid(&sign(without(claims(), "aud")), &set),
        "aud missing"
    );
    assert_eq!(
        invalid(&sign(with(claims(), "aud", json!("api2"))), &set),
        "wrong aud"
    );
    assert_eq!(
        invalid(&sign(with(claims(), "aud", json!(["a", "b"]))), &set),
        "wrong aud"
    );
    assert_eq!(
        invalid(&sign(with(claims(), "aud", json!(7))), &set),
        "aud malformed"
    );
    assert!(check(
        &sign(with(claims(), "aud", json!(["other", "client-x"]))),
        &set
    )
    .is_ok());
}

#[test]
fn crit_typ_and_header_shape() {
    let set = keys(&[rsa_key()]);
    let h = |extra: Value| {
        let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
        header
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        rsa_key().sign_raw(&header, &claims())
    };
    assert_eq!(
        invalid(&h(json!({"crit": ["exp"], "exp": 1})), &set),
        "crit header"
    );
    assert_eq!(invalid(&h(json!({"crit": null})), &set), "crit header");
    for typ in [
        "JWT",
        "jwt",
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "application/JWT",
    ] {
        assert!(check(&h(json!({ "typ": typ })), &set).is_ok(), "{typ}");
    }
    for typ in ["logout+jwt", "JOSE", "dpop+jwt", "application/", ""] {
        assert_eq!(
            invalid(&h(json!({ "typ": typ })), &set),
            "typ not accepted",
            "{typ}"
        );
    }
    assert_eq!(
        invalid(&h(json!({"typ": 1})), &set),
        "header is not a valid JOSE header"
    );
    let dup = rsa_key().sign_str(
        r#"{"alg":"RS256","kid":"rsa-1","alg":"none"}"#,
        &claims().to_string(),
        false,
    );
    assert_eq!(invalid(&dup, &set), "header is not a valid JOSE header");
    let array_payload = rsa_key().sign_str(r#"{"alg":"RS256","kid":"rsa-1"}"#, "[1]", false);
    assert_eq!(
        invalid(&array_payload, &set),
        "payload is not a JSON object"
    );
    assert_eq!(invalid("a.b", &set), "not a JWS");
    assert_eq!(invalid("a.b.c.d", &set), "not a JWS");
    assert_eq!(invalid("€€.b.c", &set), "not a JWS");
}

#[test]
fn jwt_shape() {
    assert!(looks_like_jwt("eyJ.eyJ.sig-_"));
    assert!(!looks_like_jwt("eyJ.eyJ."));
    assert!(!looks_like_jwt("eyJ..sig"));
    assert!(!looks_like_jwt("opaque-reference-token"));
    assert!(!looks_like_jwt("a.b.c.d.e"));
    assert!(!looks_like_jwt("a+b.c.d"));
    assert!(is_unsigned_jwt("eyJ.eyJ."));
    assert!(!is_unsigned_jwt("eyJ.eyJ.sig"));
    assert!(!is_unsigned_jwt("eyJ.."));
    assert!(!is_unsigned_jwt("eyJ."));
    assert!(!is_unsigned_jwt("a.b.c."));
    assert!(!is_unsigned_jwt("opaque-reference-token."));
}

#[test]
fn seconds_from_token_dates_are_bounded_never_a_panic() {
    use super::bounded_secs;
    let cap = Duration::from_secs(60);
    assert_eq!(bounded_secs(1.5, cap), Duration::from_millis(1500));
    assert_eq!(bounded_secs(-5.0, cap), Duration::ZERO);
    assert_eq!(bounded_secs(f64::NAN, cap), Duration::ZERO);
    assert_eq!(bounded_secs(1e20, cap), cap);
    assert_eq!(bounded_secs(f64::INFINITY, cap), cap);
    assert_eq!(bounded_secs(3600.0, cap), cap);
}

#[test]
fn an_id_token_header_refuses_the_access_token_type() {
    let v = validator();
    let token = |typ: Option<&str>| {
        let mut header = json!({"alg": "RS256", "kid": "rsa-1"});
        if let Some(t) = typ {
            header["typ"] = json!(t);
        }
        rsa_key().sign_raw(&header, &claims())
    };
    for ok in [None, Some("JWT"), Some("application/jwt")] {
        assert!(v.id_token_header(&token(ok)).is_ok(), "{ok:?}");
    }
    for refused in ["at+jwt", "application/at+jwt", "AT+JWT", "logout+jwt"] {
        assert!(
            matches!(
                v.id_token_header(&token(Some(refused))),
                Err(JwtError::Invalid("typ not accepted"))
            ),
            "{refused}"
        );
        assert_eq!(
            v.header(&token(Some(refused))).is_ok(),
            refused.ends_with("at+jwt") || refused == "AT+JWT",
            "as an access token: {refused}"
        );
    }
}
