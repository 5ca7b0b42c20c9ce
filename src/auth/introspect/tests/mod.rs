// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Tests for introspection calls, caching and coalescing (against an in-process IdP), with
//! the shared fake IdP; `guards.rs`: what an answer must say, and the guards before a call.

mod guards;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::*;
use crate::config::{ClientAuth, Secret};
use crate::oidc::testkit::{json_response, now, response, FakeServer, Seen};
use crate::oidc::NoopObserver;

const ISS: &str = "https://idp.example.com";

/// The last request: Authorization header and form body.
type LastRequest = Arc<Mutex<Option<(Option<String>, String)>>>;

struct Idp {
    server: FakeServer,
    answer: Arc<Mutex<(u16, String)>>,
    gate: Arc<Semaphore>,
    last: LastRequest,
}

async fn idp(answer: Value) -> Idp {
    let answer = Arc::new(Mutex::new((200, answer.to_string())));
    let gate = Arc::new(Semaphore::new(1_000_000));
    let last: LastRequest = Arc::default();
    let (a, g, l) = (answer.clone(), gate.clone(), last.clone());
    let server = FakeServer::start(move |seen: Seen| {
        let (a, g, l) = (a.clone(), g.clone(), l.clone());
        async move {
            g.acquire().await.unwrap().forget();
            let auth = seen
                .headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string());
            *l.lock().unwrap() = Some((auth, String::from_utf8(seen.body.to_vec()).unwrap()));
            let (status, body) = a.lock().unwrap().clone();
            response(status, "application/json", None, &body)
        }
    })
    .await;
    Idp {
        server,
        answer,
        gate,
        last,
    }
}

pub(super) fn config(method: ClientAuth) -> IntrospectionConfig {
    IntrospectionConfig {
        client_id: "api 1".into(),
        client_secret: Some(Secret::new("s3cr:t")),
        auth_method: method,
        private_key_file: None,
        cache_ttl: Duration::from_secs(300),
        negative_cache_ttl: Duration::from_secs(10),
        cache_size: 1000,
        jwt_fallback: false,
        token_types: crate::config::DEFAULT_TOKEN_TYPES
            .map(String::from)
            .to_vec(),
        max_token_length: 4096,
        rate_limit: crate::config::CallLimit::default(),
    }
}

pub(super) fn introspector(cfg: IntrospectionConfig, timeout: Duration) -> Introspector {
    let rules = IntrospectionRules {
        issuer: ISS.into(),
        audiences: vec!["api1".into()],
        leeway: Duration::from_secs(30),
    };
    let client = IdpClient::new(None, timeout).unwrap();
    let auth = ClientAuthenticator::for_introspection(&cfg).unwrap();
    Introspector::new(
        "corp".into(),
        cfg,
        rules,
        client,
        auth,
        Arc::new(NoopObserver),
    )
}

async fn ask(i: &Introspector, idp: &Idp, token: &str) -> Result<Arc<Claims>, AuthError> {
    i.introspect(&idp.server.url("/connect/introspect"), token)
        .await
        .map(|v| v.claims.clone())
}

fn hits(idp: &Idp) -> usize {
    idp.server.hits("/connect/introspect")
}

#[tokio::test]
async fn active_tokens_are_cached_with_basic_auth() {
    let idp = idp(
        json!({"active": true, "sub": "alice", "scope": "api1.read", "exp": now() + 600,
        "iss": ISS, "aud": ["other", "api1"]}),
    )
    .await;
    let i = introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_secs(10),
    );
    let claims = ask(&i, &idp, "ref-token-1").await.unwrap();
    assert_eq!(claims["sub"], "alice");
    assert!(ask(&i, &idp, "ref-token-1").await.is_ok());
    assert_eq!(hits(&idp), 1);
    let (auth, body) = idp.last.lock().unwrap().clone().unwrap();
    let b64 = auth.unwrap().strip_prefix("Basic ").unwrap().to_string();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(raw, b"api+1:s3cr%3At");
    assert_eq!(body, "token=ref-token-1&token_type_hint=access_token");
}

#[tokio::test]
async fn client_secret_post_sends_credentials_in_the_body() {
    let idp = idp(json!({"active": true, "sub": "bob"})).await;
    let i = introspector(
        config(ClientAuth::ClientSecretPost),
        Duration::from_secs(10),
    );
    assert!(ask(&i, &idp, "t").await.is_ok());
    let (auth, body) = idp.last.lock().unwrap().clone().unwrap();
    assert_eq!(auth, None);
    assert!(
        body.ends_with("&client_id=api+1&client_secret=s3cr%3At"),
        "{body}"
    );
}

#[tokio::test]
async fn idp_errors_are_never_cached() {
    let idp = idp(json!({})).await;
    let i = introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_secs(10),
    );
    for (status, body) in [
        (500, "{}"),
        (401, r#"{"error":"invalid_client"}"#),
        (400, "{}"),
        (200, "<html>"),
        (200, "[true]"),
    ] {
        *idp.answer.lock().unwrap() = (status, body.into());
        let r = ask(&i, &idp, "t").await;
        assert!(
            matches!(r, Err(AuthError::IdpUnavailable(_))),
            "{status} {body} → {r:?}"
        );
    }
    *idp.answer.lock().unwrap() = (200, json!({"active": true}).to_string());
    assert!(ask(&i, &idp, "t").await.is_ok());
    assert_eq!(hits(&idp), 6);
}

#[tokio::test]
async fn a_slow_idp_times_out_as_unavailable() {
    let idp = idp(json!({"active": true})).await;
    idp.gate.forget_permits(1_000_000);
    let i = introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_millis(50),
    );
    let r = ask(&i, &idp, "t").await;
    assert!(
        matches!(r, Err(AuthError::IdpUnavailable(ref m)) if m.contains("timed out")),
        "{r:?}"
    );
}

#[tokio::test]
async fn concurrent_lookups_of_one_token_make_one_call() {
    let idp = idp(json!({"active": true, "sub": "alice"})).await;
    idp.gate.forget_permits(1_000_000);
    let i = Arc::new(introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_secs(10),
    ));
    let url = idp.server.url("/connect/introspect");
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (i, url) = (i.clone(), url.clone());
            tokio::spawn(async move { i.introspect(&url, "same").await })
        })
        .collect();
    // Every task is queued ahead of us on the current-thread runtime, so all have joined
    // the in-flight lookup before the IdP is allowed to answer.
    tokio::task::yield_now().await;
    idp.gate.add_permits(1);
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().claims["sub"], "alice");
    }
    assert_eq!(hits(&idp), 1);
}

#[tokio::test]
async fn a_verdict_serves_only_lookups_at_the_endpoint_that_gave_it() {
    let idp = idp(json!({"active": true, "sub": "alice", "exp": now() + 600})).await;
    let i = introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_secs(10),
    );
    let first = idp.server.url("/connect/introspect");
    let moved = idp.server.url("/connect/introspect2");
    assert!(i.introspect(&first, "ref-token-1").await.is_ok());
    assert!(i.introspect(&first, "ref-token-1").await.is_ok());
    assert_eq!(idp.server.hits("/connect/introspect"), 1, "cached");
    // Discovery moved the endpoint: the old verdict does not answer for the new one.
    assert!(i.introspect(&moved, "ref-token-1").await.is_ok());
    assert_eq!(idp.server.hits("/connect/introspect2"), 1);
    assert!(i.introspect(&moved, "ref-token-1").await.is_ok());
    assert_eq!(idp.server.hits("/connect/introspect2"), 1, "cached again");
    // Another token is never answered from this one's entry.
    assert!(i.introspect(&moved, "ref-token-2").await.is_ok());
    assert_eq!(idp.server.hits("/connect/introspect2"), 2);
}

#[tokio::test]
async fn a_cached_verdict_answers_without_waiting_as_introspect_would() {
    // Expired beyond the leeway (30 s) but cached: judged at each lookup, like a call.
    let idp = idp(json!({"active": true, "sub": "alice", "exp": now() + 600})).await;
    let i = introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_secs(10),
    );
    let endpoint = idp.server.url("/connect/introspect");
    assert!(
        i.cached(&endpoint, "ref-token-1").is_none(),
        "nothing cached yet"
    );
    assert!(i.introspect(&endpoint, "ref-token-1").await.is_ok());
    let hit = i.cached(&endpoint, "ref-token-1").expect("cached");
    assert_eq!(hit.expect("active").claims["sub"], "alice");
    // Another endpoint's lookup or another token: not answered from this entry.
    let moved = idp.server.url("/connect/introspect2");
    assert!(i.cached(&moved, "ref-token-1").is_none());
    assert!(i.cached(&endpoint, "ref-token-2").is_none());
    // An inactive verdict is refused from the cache too.
    *idp.answer.lock().unwrap() = (200, json!({"active": false}).to_string());
    assert!(i.introspect(&endpoint, "ref-token-3").await.is_err());
    assert!(matches!(
        i.cached(&endpoint, "ref-token-3"),
        Some(Err(AuthError::InvalidToken(_)))
    ));
    // An active verdict whose exp has passed (beyond the leeway) is refused at the hit.
    let past = now() - 120;
    let body = json!({"active": true, "sub": "bob", "exp": past}).to_string();
    *idp.answer.lock().unwrap() = (200, body);
    let _ = i.introspect(&endpoint, "ref-token-4").await;
    assert!(
        !matches!(i.cached(&endpoint, "ref-token-4"), Some(Ok(_))),
        "expired verdict served"
    );
    assert_eq!(hits(&idp), 3, "no lookup above called the IdP");
}

#[test]
fn positive_ttl_is_bounded_by_exp() {
    let i = introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_secs(1),
    );
    let soon = Verdict::Active {
        verified: Arc::default(),
        exp: Some(now() as f64 + 20.0),
    };
    assert!(i.ttl(&soon) <= Duration::from_secs(20));
    let late = Verdict::Active {
        verified: Arc::default(),
        exp: Some(now() as f64 + 9999.0),
    };
    assert_eq!(i.ttl(&late), Duration::from_secs(300));
    assert_eq!(i.ttl(&Verdict::Inactive("x")), Duration::from_secs(10));
    let _ = json_response(200, &json!({}));
}
