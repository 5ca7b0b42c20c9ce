//! Fuzzes the JOSE header of a token (`auth::jwt::vet_header`, shared by access tokens,
//! ID tokens and back-channel logout tokens) and the compact-JWS shape checks. Never
//! panics, and never accepts a header that a reference reading of RFC 7515 refuses:
//! `alg` a string naming an allowed asymmetric algorithm (never `none`, never HMAC),
//! no `crit` member (whatever its value), `typ` absent or an accepted type (with or
//! without `application/`), and the `kid` returned is the header's own. The input is
//! tried as a token as written and as the header part of one (base64url of the bytes).
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use portcullis::auth::jwks::asymmetric_alg;
use portcullis::auth::jwt::{is_unsigned_jwt, looks_like_jwt, vet_header, ASYMMETRIC_ALGS};
use serde_json::Value;

const TYPS: &[&str] = &["jwt", "at+jwt"];

fn check(token: &str) {
    // The shapes exclude each other: a token is signed, unsigned, or neither.
    assert!(!(looks_like_jwt(token) && is_unsigned_jwt(token)), "{token:?}");
    let Ok(header) = vet_header(token, &ASYMMETRIC_ALGS, TYPS) else {
        return;
    };
    let part = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("accepted header is base64url");
    let json: Value = serde_json::from_slice(&bytes).expect("accepted header is JSON");
    let obj = json.as_object().expect("accepted header is an object");
    let alg = obj.get("alg").and_then(Value::as_str).expect("alg is a string");
    assert!(!alg.eq_ignore_ascii_case("none"), "alg none accepted");
    assert!(!alg.to_ascii_lowercase().starts_with("hs"), "HMAC accepted");
    assert_eq!(asymmetric_alg(alg), Some(header.alg), "alg {alg:?}");
    assert!(!obj.contains_key("crit"), "crit accepted: {json}");
    if let Some(typ) = obj.get("typ") {
        let typ = typ.as_str().expect("accepted typ is a string").to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ);
        assert!(TYPS.contains(&typ), "typ {typ:?} accepted");
    }
    let kid = obj.get("kid").and_then(Value::as_str);
    assert_eq!(header.kid.as_deref(), kid, "kid");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text);
    }
    let header = URL_SAFE_NO_PAD.encode(data);
    check(&format!("{header}.e30.c2ln"));
    check(&format!("{header}.e30."));
});
