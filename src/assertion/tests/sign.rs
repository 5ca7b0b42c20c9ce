// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Signed assertions: verified by jsonwebtoken against the published JWK for each
//! algorithm, cached per route, and kept with the principal only while the route's cache
//! would keep them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn principal(name: &str) -> Principal {
    let claims = json!({"sub": format!("sub-{name}"), "preferred_username": name,
                        "email": format!("{name}@example.com"), "groups": ["staff", "ops"]});
    let Value::Object(map) = claims else {
        unreachable!()
    };
    let cfg = ClaimsConfig {
        username: vec!["preferred_username".into()],
        email: vec!["email".into()],
        groups: vec!["groups".into()],
    };
    Principal::from_claims(Arc::new(map), &cfg, 0).unwrap()
}

#[tokio::test]
async fn assertions_verify_against_the_published_jwk_and_are_cached() {
    let metrics = Metrics::new().unwrap();
    for alg in ["ES256", "RS256", "EdDSA"] {
        let cfg = config(alg, &[], "10m");
        let r = ring(&cfg, None, T0);
        let a = cfg.routes[0].identity_assertion.as_ref().unwrap();
        let route = RouteAssertion::new(
            a,
            Arc::from("api"),
            "https://gw.example/",
            metrics.assertion("api"),
        );
        let now = crate::session::unix_now();
        let alice = principal("alice");
        let v = route.value(&r, &alice, "idp", now).await.unwrap();
        assert!(v.is_sensitive());
        let token = v.to_str().unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&r.jwks(now)).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.set_audience(&["orders"]);
        validation.set_issuer(&["https://gw.example"]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
        let c = data.claims;
        assert_eq!(c["sub"], "sub-alice", "{alg}");
        assert_eq!(c["email"], "alice@example.com");
        assert_eq!(c["preferred_username"], "alice");
        assert_eq!(c["groups"], json!(["staff", "ops"]));
        assert_eq!(c["route"], "api");
        assert_eq!(c["idp"], "idp");
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 60);
        // Cached: the same assertion again; another user gets another one.
        let again = route.value(&r, &alice, "idp", now).await.unwrap();
        assert_eq!(again, v);
        let bob = route
            .value(&r, &principal("bob"), "idp", now)
            .await
            .unwrap();
        assert_ne!(bob, v);
        // Tampered payloads fail.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(c.to_string().replace("sub-alice", "sub-admin"));
        parts[1] = &forged;
        assert!(jsonwebtoken::decode::<Value>(&parts.join("."), &key, &validation).is_err());
    }
    let m = metrics.encode();
    let text = String::from_utf8_lossy(&m);
    assert!(
        text.contains("portcullis_identity_assertions_total{outcome=\"signed\",route=\"api\"} 6"),
        "{text}"
    );
    assert!(
        text.contains(
            "portcullis_identity_assertions_total{outcome=\"cache_hit\",route=\"api\"} 3"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn an_assertion_kept_with_the_principal_is_served_until_the_cache_would_replace_it() {
    let metrics = Metrics::new().unwrap();
    let cfg = config("ES256", &[], "10m");
    let r = ring(&cfg, None, T0);
    let a = cfg.routes[0].identity_assertion.as_ref().unwrap();
    let new_route = || {
        RouteAssertion::new(
            a,
            Arc::from("api"),
            "https://gw.example/",
            metrics.assertion("api"),
        )
    };
    let route = new_route();
    let now = crate::session::unix_now();
    let alice = principal("alice");
    assert!(route.cached_now(&alice, now).is_none(), "nothing kept yet");
    let v = route.value(&r, &alice, "idp", now).await.unwrap();
    assert_eq!(route.cached_now(&alice, now), Some(v.clone()));
    // ttl 60 s, margin 5 s: served through second 54, not at 55 (the cache's own TTL).
    assert_eq!(route.cached_now(&alice, now + 54), Some(v.clone()));
    assert!(
        route.cached_now(&alice, now + 55).is_none(),
        "expired: sign anew"
    );
    // Not for a copy of the principal (userinfo completes copies), another principal,
    // or the route's assertion as a reload builds it again (new audience, say).
    assert!(route.cached_now(&alice.clone(), now).is_none());
    assert!(route.cached_now(&principal("bob"), now).is_none());
    assert!(new_route().cached_now(&alice, now).is_none());
}
