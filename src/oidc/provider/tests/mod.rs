// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! End-to-end tests of one provider runtime against an in-process fake IdP, and their
//! shared fake: here the token path (JWTs, introspection, fallback, userinfo);
//! `lifecycle.rs`: discovery failures, the background task, reuse across reloads.

mod lifecycle;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};

use super::*;
use crate::auth::AuthError;
use crate::config::{
    ClaimsConfig, ClientAuth, IntrospectionConfig, Secret, TokensConfig, UserinfoMode,
};
use crate::oidc::testkit::{
    json_response, jwks, now, response, rsa_key, FakeServer, Seen, TestKey,
};
use crate::oidc::{IntrospectionOutcome, NoopObserver};

struct Idp {
    server: FakeServer,
    down: Arc<Mutex<bool>>,
    issuer: String,
}

async fn idp() -> Idp {
    let down = Arc::new(Mutex::new(false));
    let issuer_cell: Arc<Mutex<String>> = Arc::default();
    let (d, iss) = (down.clone(), issuer_cell.clone());
    let server = FakeServer::start(move |seen: Seen| {
        let (d, iss) = (d.clone(), iss.lock().unwrap().clone());
        async move {
            if *d.lock().unwrap() {
                return response(503, "text/plain", None, "down");
            }
            match seen.path.as_str() {
                "/.well-known/openid-configuration" => json_response(
                    200,
                    &json!({
                        "issuer": iss,
                        "jwks_uri": format!("{iss}/jwks"),
                        "introspection_endpoint": format!("{iss}/connect/introspect"),
                        "userinfo_endpoint": format!("{iss}/connect/userinfo"),
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                    }),
                ),
                "/jwks" => json_response(200, &jwks(&[rsa_key()])),
                "/connect/introspect" => {
                    let body = String::from_utf8(seen.body.to_vec()).unwrap();
                    if body.contains("token=opaque-good") || body.contains("token=eyJ") {
                        json_response(
                            200,
                            &json!({"active": true, "sub": "svc", "exp": now() + 600}),
                        )
                    } else {
                        json_response(200, &json!({"active": false}))
                    }
                }
                "/connect/userinfo" => {
                    let auth = seen.headers.get("authorization").unwrap().to_str().unwrap();
                    if auth == "Bearer good" {
                        json_response(200, &json!({"sub": "alice", "preferred_username": "al"}))
                    } else {
                        response(401, "application/json", None, "{}")
                    }
                }
                _ => response(404, "text/plain", None, ""),
            }
        }
    })
    .await;
    let issuer = format!("http://{}", server.addr);
    *issuer_cell.lock().unwrap() = issuer.clone();
    Idp {
        server,
        down,
        issuer,
    }
}

fn provider_config(issuer: &str, introspection: bool, fallback: bool) -> ProviderConfig {
    ProviderConfig {
        name: "corp".into(),
        issuer: issuer.into(),
        discovery_url: format!("{issuer}/.well-known/openid-configuration"),
        client_id: "client-x".into(),
        client_secret: Some(Secret::new("cs")),
        client_auth: ClientAuth::ClientSecretBasic,
        private_key_file: None,
        ca_file: None,
        scopes: vec!["openid".into()],
        auth_params: BTreeMap::new(),
        userinfo: UserinfoMode::Auto,
        signing_algs: None,
        tokens: TokensConfig {
            schemes: vec!["bearer".into()],
            audiences: vec!["api1".into()],
            leeway: Duration::from_secs(30),
            jwks_refetch_interval: Duration::from_secs(3600),
            verified_cache_size: 100,
            introspection: introspection.then(|| IntrospectionConfig {
                client_id: "api1".into(),
                client_secret: Some(Secret::new("is")),
                auth_method: ClientAuth::ClientSecretBasic,
                private_key_file: None,
                cache_ttl: Duration::from_secs(300),
                negative_cache_ttl: Duration::from_secs(10),
                cache_size: 100,
                jwt_fallback: fallback,
                token_types: crate::config::DEFAULT_TOKEN_TYPES
                    .map(String::from)
                    .to_vec(),
                max_token_length: 4096,
                rate_limit: crate::config::CallLimit::default(),
            }),
            userinfo_rate_limit: crate::config::CallLimit::default(),
        },
        claims: ClaimsConfig {
            username: vec!["preferred_username".into()],
            email: vec!["email".into()],
            groups: vec!["groups".into()],
        },
        endpoints: Default::default(),
        display_name: "Corp".into(),
        domains: Vec::new(),
        dpop: Default::default(),
    }
}

#[derive(Default)]
struct Counting {
    cache_hits: AtomicUsize,
    cache_misses: AtomicUsize,
    introspections: Mutex<Vec<IntrospectionOutcome>>,
}

impl ProviderObserver for Counting {
    fn verified_cache(&self, _: &str, hit: bool) {
        let c = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
    fn introspection(&self, _: &str, outcome: IntrospectionOutcome) {
        self.introspections.lock().unwrap().push(outcome);
    }
}

fn token(iss: &str) -> String {
    let t = now();
    rsa_key().sign(&json!({"iss": iss, "aud": "api1", "sub": "alice", "exp": t + 300, "iat": t}))
}

#[tokio::test]
async fn undiscovered_provider_is_unavailable_then_validates() {
    let idp = idp().await;
    let obs = Arc::new(Counting::default());
    let p = ProviderRuntime::new(provider_config(&idp.issuer, false, false), obs.clone()).unwrap();
    assert!(!p.is_ready());
    let t = token(&idp.issuer);
    assert!(matches!(
        p.authenticate_token(&t).await,
        Err(AuthError::IdpUnavailable(_))
    ));
    p.discover().await.unwrap();
    assert!(p.is_ready());
    assert_eq!(idp.server.hits("/jwks"), 1, "JWKS warmed during discovery");
    assert_eq!(p.authenticate_token(&t).await.unwrap()["sub"], "alice");
    assert_eq!(p.authenticate_token(&t).await.unwrap()["sub"], "alice");
    assert_eq!(obs.cache_misses.load(Ordering::Relaxed), 1);
    assert_eq!(obs.cache_hits.load(Ordering::Relaxed), 1);
    // Discovery advertised RS256 + ES256: an EdDSA token is refused by the allowlist.
    let ed = TestKey::ed25519("ed");
    let r = p
        .authenticate_token(&ed.sign(&json!({"iss": idp.issuer})))
        .await;
    assert!(matches!(r, Err(AuthError::InvalidToken(m)) if m == "alg not allowed"));
    assert!(matches!(
        p.authenticate_token("opaque").await,
        Err(AuthError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn idp_down_after_warm_up_keeps_jwts_working_but_introspection_is_503() {
    let idp = idp().await;
    let p = ProviderRuntime::new(
        provider_config(&idp.issuer, true, false),
        Arc::new(NoopObserver),
    )
    .unwrap();
    p.discover().await.unwrap();
    *idp.down.lock().unwrap() = true;
    let fresh = token(&idp.issuer);
    assert!(p.authenticate_token(&fresh).await.is_ok());
    assert!(matches!(
        p.authenticate_token("opaque-good").await,
        Err(AuthError::IdpUnavailable(_))
    ));
    // A refused discovery refresh keeps the old metadata.
    assert!(p.discover().await.is_err());
    assert!(p.is_ready());
    *idp.down.lock().unwrap() = false;
    assert_eq!(
        p.authenticate_token("opaque-good").await.unwrap()["sub"],
        "svc"
    );
    assert!(matches!(
        p.authenticate_token("opaque-bad").await,
        Err(AuthError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn unknown_kid_falls_back_to_introspection_only_when_configured() {
    let idp = idp().await;
    let stranger = TestKey::es256("not-in-jwks");
    let t = now();
    let foreign = stranger.sign(&json!({"iss": idp.issuer, "aud": "api1", "exp": t + 300}));
    let strict = ProviderRuntime::new(
        provider_config(&idp.issuer, true, false),
        Arc::new(NoopObserver),
    )
    .unwrap();
    strict.discover().await.unwrap();
    assert!(matches!(
        strict.authenticate_token(&foreign).await,
        Err(AuthError::InvalidToken(_))
    ));
    let obs = Arc::new(Counting::default());
    let lenient =
        ProviderRuntime::new(provider_config(&idp.issuer, true, true), obs.clone()).unwrap();
    lenient.discover().await.unwrap();
    assert_eq!(
        lenient.authenticate_token(&foreign).await.unwrap()["sub"],
        "svc"
    );
    assert_eq!(
        lenient.authenticate_token(&foreign).await.unwrap()["sub"],
        "svc"
    );
    assert_eq!(
        *obs.introspections.lock().unwrap(),
        vec![IntrospectionOutcome::Active, IntrospectionOutcome::CacheHit]
    );
}

#[tokio::test]
async fn userinfo_is_cached_and_rejections_are_not() {
    let idp = idp().await;
    let p = ProviderRuntime::new(
        provider_config(&idp.issuer, false, false),
        Arc::new(NoopObserver),
    )
    .unwrap();
    assert!(matches!(
        p.userinfo("good").await,
        Err(AuthError::IdpUnavailable(_))
    ));
    p.discover().await.unwrap();
    assert_eq!(
        p.userinfo("good").await.unwrap()["preferred_username"],
        "al"
    );
    assert_eq!(p.userinfo("good").await.unwrap()["sub"], "alice");
    assert_eq!(idp.server.hits("/connect/userinfo"), 1);
    assert!(matches!(
        p.userinfo("bad").await,
        Err(AuthError::InvalidToken(_))
    ));
    assert!(matches!(
        p.userinfo("bad").await,
        Err(AuthError::InvalidToken(_))
    ));
    assert_eq!(idp.server.hits("/connect/userinfo"), 3);
}

#[tokio::test]
async fn a_token_of_another_issuer_is_refused_before_any_key_lookup() {
    let idp = idp().await;
    let mut cfg = provider_config(&idp.issuer, false, false);
    // No refetch limit: only the issuer check can keep the JWKS endpoint quiet.
    cfg.tokens.jwks_refetch_interval = Duration::ZERO;
    let p = ProviderRuntime::new(cfg, Arc::new(NoopObserver)).unwrap();
    p.discover().await.unwrap();
    assert_eq!(idp.server.hits("/jwks"), 1);
    let t = now();
    let elsewhere = TestKey::rsa("kid-of-another-provider").sign(
        &json!({"iss": "https://other.example.com", "aud": "api1", "sub": "a", "exp": t + 300}),
    );
    for _ in 0..3 {
        let r = p.authenticate_token(&elsewhere).await;
        assert!(
            matches!(&r, Err(AuthError::InvalidToken(m)) if m == "issuer not accepted here"),
            "{:?}",
            r.err()
        );
    }
    assert_eq!(
        idp.server.hits("/jwks"),
        1,
        "no refetch for a foreign issuer"
    );
    // An unknown kid of the right issuer still triggers the refetch.
    let unknown = TestKey::rsa("rotated-in")
        .sign(&json!({"iss": idp.issuer, "aud": "api1", "sub": "a", "exp": t + 300}));
    assert!(p.authenticate_token(&unknown).await.is_err());
    assert_eq!(idp.server.hits("/jwks"), 2);
}
