//! Fuzzes judging an introspection answer (RFC 7662) from arbitrary bytes, as the body
//! of a `200` from the provider. Never panics; the verdict matches a reference decision
//! written here independently: active only for a JSON object with `"active": true` (the
//! boolean), every type field (`token_type`, `token_use`, `typ`) absent or an allowed
//! access-token type, `iss` absent or ours, `aud` absent or naming us, and `exp`/`nbf`
//! absent or finite numbers that put now inside the token's lifetime.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use portcullis::auth::introspect::{IntrospectionRules, Introspector};
use portcullis::config::{CallLimit, ClientAuth, IntrospectionConfig, Secret, DEFAULT_TOKEN_TYPES};
use portcullis::idp::client_auth::ClientAuthenticator;
use portcullis::idp::observe::NoopObserver;
use portcullis::idp::IdpClient;
use serde_json::Value;

const ISS: &str = "https://idp.example.com";
const NOW: f64 = 1_700_000_000.0;
const LEEWAY: f64 = 30.0;

fn introspector() -> Option<&'static Introspector> {
    static I: OnceLock<Option<Introspector>> = OnceLock::new();
    I.get_or_init(|| {
        let cfg = IntrospectionConfig {
            client_id: "api1".into(),
            client_secret: Some(Secret::new("s")),
            private_key_file: None,
            auth_method: ClientAuth::ClientSecretBasic,
            cache_ttl: Duration::from_secs(300),
            negative_cache_ttl: Duration::from_secs(10),
            cache_size: 10,
            jwt_fallback: false,
            token_types: DEFAULT_TOKEN_TYPES.map(String::from).to_vec(),
            max_token_length: 4096,
            rate_limit: CallLimit::default(),
        };
        let rules = IntrospectionRules {
            issuer: ISS.into(),
            audiences: vec!["api2".into()],
            leeway: Duration::from_secs(30),
        };
        let client = IdpClient::new(None, Duration::from_secs(1)).ok()?;
        let auth = ClientAuthenticator::for_introspection(&cfg).ok()?;
        Some(Introspector::new(
            "fuzz".into(),
            cfg,
            rules,
            client,
            auth,
            Arc::new(NoopObserver),
        ))
    })
    .as_ref()
}

fn reference(body: &[u8]) -> Option<bool> {
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let time = |k: &str| match o.get(k) {
        None => Some(None),
        Some(v) => v.as_f64().filter(|f| f.is_finite()).map(Some),
    };
    let ok_type = |k: &str| match o.get(k) {
        None => true,
        Some(Value::String(t)) => DEFAULT_TOKEN_TYPES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(t)),
        Some(_) => false,
    };
    let ours = |a: &Value| a.as_str().is_some_and(|a| a == "api1" || a == "api2");
    let active = o.get("active") == Some(&Value::Bool(true))
        && ["token_type", "token_use", "typ"]
            .iter()
            .all(|k| ok_type(k))
        && match (time("exp"), time("nbf")) {
            (Some(exp), Some(nbf)) => {
                exp.is_none_or(|e| NOW < e + LEEWAY) && nbf.is_none_or(|n| n <= NOW + LEEWAY)
            }
            _ => false,
        }
        && match o.get("iss") {
            None => true,
            Some(v) => v.as_str() == Some(ISS),
        }
        && match o.get("aud") {
            None => true,
            Some(Value::Array(list)) => list.iter().any(ours),
            Some(v) => ours(v),
        };
    Some(active)
}

fuzz_target!(|data: &[u8]| {
    let Some(i) = introspector() else { return };
    let got = i.judge_answer(data, NOW);
    match (reference(data), got) {
        (None, None) => {}
        (Some(true), Some(Ok(v))) => {
            assert_eq!(v.claims.get("active"), Some(&Value::Bool(true)));
        }
        (Some(false), Some(Err(_))) => {}
        (want, got) => panic!(
            "{:?}: reference {want:?}, judge {:?}",
            String::from_utf8_lossy(data),
            got.map(|r| r.map(|_| "active"))
        ),
    }
});
