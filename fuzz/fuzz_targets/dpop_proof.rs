//! Fuzzes the DPoP proof parser and checks (RFC 9449 §4.3) and the `htu` normaliser with
//! untrusted input: a `DPoP` header value and a URL. Never panics; a proof the checks
//! accept matches the request on every point (method, URI, time window, token hash),
//! which is asserted here independently of the checks' own code; normalising is
//! idempotent and never keeps a query, a fragment or a dot segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::auth::dpop::{htu, parse, token_hash, verify, Expect};

const NOW: f64 = 1_700_000_000.0;
const HTU: &str = "https://api.example.com/v1/orders";
const TOKEN: &str = "access-token";

fn check_url(text: &str) {
    let Some(once) = htu::normalize(text) else {
        return;
    };
    assert_eq!(htu::normalize(&once).as_deref(), Some(once.as_str()), "not idempotent");
    assert!(!once.contains(['?', '#']), "query or fragment kept: {once}");
    assert!(once.starts_with("http://") || once.starts_with("https://"));
    let path = &once[once.find("://").map_or(0, |i| i + 3)..];
    let path = &path[path.find('/').unwrap_or(path.len())..];
    assert!(
        !path.split('/').any(|s| s == "." || s == ".."),
        "dot segment kept: {once}"
    );
}

fn check_proof(text: &str) {
    // The parser alone: never panics, whatever it decides.
    let _ = parse(text);
    let expect = Expect {
        method: "GET",
        htu: Some(HTU),
        access_token: TOKEN,
        now: NOW,
        window: 60.0,
        leeway: 5.0,
    };
    let Ok(proof) = verify(text, &expect) else {
        return;
    };
    let c = &proof.claims;
    assert_eq!(c.htm, "GET");
    assert_eq!(htu::normalize(&c.htu).as_deref(), Some(HTU));
    assert!(c.iat <= NOW + 5.0 && c.iat >= NOW - 65.0, "iat {}", c.iat);
    assert_eq!(c.ath.as_deref(), Some(token_hash(TOKEN).as_str()));
    assert!(!c.jti.is_empty());
    assert_eq!(proof.key.thumbprint.len(), 43);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_proof(text);
    check_url(text);
});
