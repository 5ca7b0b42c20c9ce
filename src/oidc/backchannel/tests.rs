// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Logout-token rules, parsing of untrusted tokens, and when "refused" is logged.
use super::*;
use serde_json::json;

const NOW: f64 = 1_700_000_000.0;

fn claims(patch: Value) -> Claims {
    let mut c = json!({"iss": "https://idp", "aud": "portcullis", "iat": NOW, "jti": "j1",
        "sid": "s1", "sub": "u1", "events": {LOGOUT_EVENT: {}}});
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c.as_object().unwrap().clone()
}

fn check(patch: Value) -> Result<Checked, GatewayError> {
    check_claims_at(&claims(patch), "portcullis", Duration::from_secs(60), NOW)
}

#[test]
fn a_good_token_passes() {
    let c = check(json!({})).unwrap();
    assert_eq!(c.jti, "j1");
    assert_eq!(c.sid.as_deref(), Some("s1"));
    assert!(check(json!({"aud": ["x", "portcullis"], "sid": null})).is_ok());
    assert!(check(json!({"sub": null, "exp": NOW + 120.0})).is_ok());
}

#[test]
fn every_rule_is_enforced() {
    for patch in [
        json!({"aud": "other"}),
        json!({"aud": null}),
        json!({"iat": null}),
        json!({"iat": NOW + 600.0}),
        json!({"iat": NOW - 3600.0}),
        json!({"iat": "1700000000"}),
        json!({"exp": NOW - 120.0}),
        json!({"events": null}),
        json!({"events": {}}),
        json!({"events": {LOGOUT_EVENT: "yes"}}),
        json!({"nonce": "n"}),
        json!({"sid": null, "sub": null}),
        json!({"jti": null}),
        json!({"jti": ""}),
        json!({"sub": 5}),
    ] {
        let r = check(patch.clone());
        assert!(
            matches!(r, Err(GatewayError::BadRequest(_))),
            "{patch} → {r:?}"
        );
    }
}

/// A compact JWS with this payload (the signature is never looked at by the parser).
fn token(payload: &Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2ln",
        enc(&json!({"alg": "RS256", "typ": "logout+jwt"})),
        enc(payload)
    )
}

#[test]
fn parsing_untrusted_tokens() {
    let good = Value::Object(claims(json!({})));
    assert_eq!(parse_unverified(&token(&good)).unwrap(), claims(json!({})));
    let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
    for bad_token in [
        String::new(),
        "a.b".into(),
        "a.b.c.d".into(),
        "..".into(),
        format!("{}..c2ln", b64("{}")),
        format!("{}.{}.c2ln", b64("{}"), "not base64!"),
        format!("{}.{}.c2ln", b64("{}"), b64("[1,2]")),
        format!("{}.{}.c2ln", b64("{}"), b64("\"iss\"")),
        format!("{}.{}.c2ln", b64("{}"), b64("{\"iss\":")),
        format!("{}.{}.c2ln", b64("{}"), b64(&"[".repeat(10_000))),
    ] {
        assert!(
            matches!(
                parse_unverified(&bad_token),
                Err(GatewayError::BadRequest(_))
            ),
            "{bad_token:?}"
        );
    }
}

/// Everything logged while `f` runs, formatted, at every level.
fn logs_of<T>(f: impl FnOnce() -> T) -> (T, String) {
    use std::sync::Mutex;
    #[derive(Clone)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture(Arc::default());
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[test]
fn an_accepted_token_logs_no_refusal() {
    let (outcome, logs) = logs_of(|| {
        let parsed = parse_unverified(&token(&Value::Object(claims(json!({})))))?;
        let outcome = check_claims_at(&parsed, "portcullis", Duration::from_secs(60), NOW);
        log_refusal(&outcome);
        outcome
    });
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(
        !logs.contains("refused"),
        "logged on the success path:\n{logs}"
    );
}

#[test]
fn a_refusal_is_logged_once_with_its_reason_and_an_outage_is_not_one() {
    let (_, logs) = logs_of(|| log_refusal(&check(json!({"nonce": "n"}))));
    assert_eq!(
        logs.matches("back-channel logout refused").count(),
        1,
        "{logs}"
    );
    assert!(logs.contains("nonce present"), "{logs}");
    let (_, logs) = logs_of(|| {
        let parsed = parse_unverified("x.y");
        log_refusal(&parsed);
    });
    assert_eq!(logs.matches("refused").count(), 1, "{logs}");
    assert!(logs.contains("not a JWS"), "{logs}");
    let (_, logs) = logs_of(|| {
        log_refusal::<()>(&Err(GatewayError::Unavailable("redis down".into())));
    });
    assert!(logs.is_empty(), "{logs}");
}
