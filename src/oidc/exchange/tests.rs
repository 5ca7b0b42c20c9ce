// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Reading token-exchange answers: what is refused (403), what is the provider's
//! trouble (503), and how long an issued token is reused.

use super::*;

const NOW: u64 = 1_800_000_000;

fn ok(body: &str) -> Result<Exchanged, ExchangeError> {
    parse(200, body.as_bytes(), NOW)
}

#[test]
fn a_bearer_access_token_is_sent_and_reused_until_near_its_expiry() {
    let e = ok(r#"{"access_token":"abc","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":300}"#).unwrap();
    assert_eq!(e.authorization, "Bearer abc");
    assert!(e.authorization.is_sensitive());
    assert_eq!(e.ttl, Duration::from_secs(270));
    // No expires_in: the JWT's exp bounds it; neither: a short default.
    let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{}}}"#, NOW + 100));
    let jwt = format!("e30.{payload}.sig");
    let e = ok(&format!(
        r#"{{"access_token":"{jwt}","token_type":"bearer"}}"#
    ))
    .unwrap();
    assert_eq!(e.ttl, Duration::from_secs(90));
    let e = ok(r#"{"access_token":"abc","token_type":"Bearer"}"#).unwrap();
    assert_eq!(e.ttl, Duration::from_secs(54));
    // An absurd lifetime is capped; an expired JWT is not reused.
    let e = ok(r#"{"access_token":"abc","token_type":"Bearer","expires_in":99999999}"#).unwrap();
    assert_eq!(e.ttl, Duration::from_secs(3570));
    let old = URL_SAFE_NO_PAD.encode(format!(r#"{{"exp":{}}}"#, NOW - 5));
    let e = ok(&format!(
        r#"{{"access_token":"e30.{old}.s","token_type":"Bearer"}}"#
    ))
    .unwrap();
    assert_eq!(e.ttl, Duration::ZERO);
}

#[test]
fn refusals_are_refused_and_everything_else_unavailable() {
    for (status, body) in [
        (400, r#"{"error":"invalid_grant"}"#),
        (400, r#"{"error":"invalid_target"}"#),
        (401, r#"{"error":"invalid_client"}"#),
        (403, "forbidden"),
    ] {
        assert!(
            matches!(
                parse(status, body.as_bytes(), NOW),
                Err(ExchangeError::Refused(_))
            ),
            "{status} {body}"
        );
    }
    for (status, body) in [
        (500, r#"{"error":"server_error"}"#),
        (503, "down"),
        (429, r#"{"error":"slow_down"}"#),
        (408, ""),
        (200, "<html>"),
        (200, r#"{"token_type":"Bearer"}"#),
        (200, r#"{"access_token":"abc","token_type":"N_A"}"#),
        (200, r#"{"access_token":"abc"}"#),
        (200, r#"{"access_token":"","token_type":"Bearer"}"#),
        (200, r#"{"access_token":"a\nb","token_type":"Bearer"}"#),
        (
            200,
            r#"{"access_token":"abc","token_type":"Bearer","issued_token_type":"urn:ietf:params:oauth:token-type:id_token"}"#,
        ),
    ] {
        assert!(
            matches!(
                parse(status, body.as_bytes(), NOW),
                Err(ExchangeError::Unavailable(_))
            ),
            "{status} {body}"
        );
    }
}

#[test]
fn an_error_code_is_kept_short_and_printable() {
    let body = format!(r#"{{"error":"bad\r\n{}"}}"#, "x".repeat(500));
    let Err(ExchangeError::Refused(code)) = parse(400, body.as_bytes(), NOW) else {
        panic!("refused")
    };
    assert_eq!(code.len(), 64);
    assert!(code.starts_with("bad"));
}
