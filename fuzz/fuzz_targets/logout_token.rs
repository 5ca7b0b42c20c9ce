//! Fuzzes the back-channel logout endpoint's parsing of untrusted input: the form body
//! (`logout_token=…`), the token's compact-JWS shape and JSON payload, and the claim
//! rules of Back-Channel Logout 1.0 §2.4/§2.6. Never panics; a token the rules accept
//! names our audience, carries the logout event, no `nonce`, a non-empty `jti`, a `sid`
//! or a `sub`, and an `iat` within the allowed window. The checks here are independent
//! of the rules' own code.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use portcullis::oidc::backchannel::{check_claims_at, parse_unverified, LOGOUT_EVENT, MAX_AGE};
use portcullis::oidc::urlenc::query_get;
use serde_json::Value;

const NOW: f64 = 1_700_000_000.0;
const CLIENT_ID: &str = "portcullis";
const LEEWAY: Duration = Duration::from_secs(60);

fn check_token(token: &str) {
    let Ok(claims) = parse_unverified(token) else {
        return;
    };
    let Ok(checked) = check_claims_at(&claims, CLIENT_ID, LEEWAY, NOW) else {
        return;
    };
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == CLIENT_ID,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(CLIENT_ID)),
        _ => false,
    };
    assert!(aud_ok, "accepted without our audience: {claims:?}");
    assert!(
        claims
            .get("events")
            .and_then(|e| e.get(LOGOUT_EVENT))
            .is_some_and(Value::is_object),
        "accepted without the logout event"
    );
    assert!(!claims.contains_key("nonce"), "accepted with a nonce");
    assert!(!checked.jti.is_empty() && checked.jti.len() <= 1024);
    assert!(checked.sid.is_some() || checked.sub.is_some());
    let leeway = LEEWAY.as_secs_f64();
    assert!(checked.iat <= NOW + leeway, "iat in the future");
    assert!(NOW - checked.iat <= MAX_AGE.as_secs_f64() + leeway, "iat too old");
    if let Some(exp) = checked.exp {
        assert!(NOW < exp + leeway, "expired");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As the endpoint reads its body, and the same bytes as a bare token.
    if let Some(token) = query_get(Some(text), "logout_token") {
        check_token(&token);
    }
    check_token(text);
});
