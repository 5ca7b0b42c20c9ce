// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! The guards around an introspection call: only `"active": true` is active, the
//! audiences and token types an answer may name, and tokens refused before any call
//! (shape, length, the cap on uncached calls).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[tokio::test]
async fn only_a_boolean_true_is_active_and_inactive_is_cached() {
    for answer in [
        json!({"active": false}),
        json!({"active": "true"}),
        json!({"active": 1}),
        json!({"sub": "alice"}),
        json!({"active": true, "exp": now() - 600}),
        json!({"active": true, "exp": (now() + 600).to_string()}),
        json!({"active": true, "nbf": now() + 600}),
        json!({"active": true, "iss": "https://evil"}),
        json!({"active": true, "aud": "api2"}),
        json!({"active": true, "aud": 5}),
    ] {
        let idp = idp(answer.clone()).await;
        let i = introspector(
            config(ClientAuth::ClientSecretBasic),
            Duration::from_secs(10),
        );
        let r = ask(&i, &idp, "t").await;
        assert!(
            matches!(r, Err(AuthError::InvalidToken(_))),
            "{answer} → {r:?}"
        );
        assert!(matches!(
            ask(&i, &idp, "t").await,
            Err(AuthError::InvalidToken(_))
        ));
        assert_eq!(hits(&idp), 1, "negative result cached for {answer}");
    }
}

#[tokio::test]
async fn the_introspection_client_id_is_an_accepted_audience() {
    let idp = idp(json!({"active": true, "aud": "api 1"})).await;
    let i = introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_secs(10),
    );
    assert!(ask(&i, &idp, "t").await.is_ok());
}

#[tokio::test]
async fn an_active_answer_for_anything_but_an_access_token_is_invalid_token() {
    let i = introspector(
        config(ClientAuth::ClientSecretBasic),
        Duration::from_secs(10),
    );
    let refused = [
        json!({"token_type": "refresh_token"}),
        json!({"token_type": "urn:ietf:params:oauth:token-type:refresh_token"}),
        json!({"token_type": "urn:ietf:params:oauth:token-type:id_token"}),
        json!({"token_type": "id_token"}),
        json!({"token_type": "N_A"}),
        json!({"token_type": ""}),
        json!({"token_type": 1}),
        json!({"token_type": null}),
        json!({"token_type": ["Bearer"]}),
        json!({"typ": "Refresh"}),
        json!({"typ": "ID"}),
        json!({"token_use": "refresh_token"}),
        json!({"token_use": "id"}),
        json!({"token_type": "Bearer", "typ": "Refresh"}),
    ];
    for (n, extra) in refused.into_iter().enumerate() {
        let answer = active_with(&extra);
        let idp = idp(answer.clone()).await;
        let r = ask(&i, &idp, &format!("refused-{n}")).await;
        assert!(
            matches!(&r, Err(AuthError::InvalidToken(m)) if m.contains("not an access token")),
            "{answer}: {r:?}"
        );
    }
    for (n, extra) in [
        json!({}),
        json!({"token_type": "Bearer"}),
        json!({"token_type": "bearer"}),
        json!({"token_type": "DPoP"}),
        json!({"token_type": "access_token", "token_use": "access_token", "typ": "Bearer"}),
        json!({"token_type": "urn:ietf:params:oauth:token-type:access_token"}),
        json!({"token_use": "access"}),
    ]
    .into_iter()
    .enumerate()
    {
        let answer = active_with(&extra);
        let idp = idp(answer.clone()).await;
        let r = ask(&i, &idp, &format!("accepted-{n}")).await;
        assert!(r.is_ok(), "{answer}: {r:?}");
    }
    // The operator's list replaces the default one.
    let mut cfg = config(ClientAuth::ClientSecretBasic);
    cfg.token_types = vec!["reference".into()];
    let i = introspector(cfg, Duration::from_secs(10));
    let idp1 = idp(json!({"active": true, "sub": "a", "token_type": "Reference"})).await;
    assert!(ask(&i, &idp1, "custom").await.is_ok());
    let idp2 = idp(json!({"active": true, "sub": "a", "token_type": "Bearer"})).await;
    assert!(ask(&i, &idp2, "not-listed").await.is_err());
}

#[tokio::test]
async fn tokens_that_cannot_be_tokens_and_calls_past_the_cap_never_reach_the_idp() {
    let idp = idp(json!({"active": true, "sub": "alice"})).await;
    let mut cfg = config(ClientAuth::ClientSecretBasic);
    cfg.max_token_length = 8;
    cfg.rate_limit = crate::config::CallLimit {
        per_second: 1.0 / 3600.0,
        burst: 1,
        max_in_flight: 4,
    };
    let i = introspector(cfg, Duration::from_secs(10));
    for bad in ["123456789", "a b", "tok\"en", "=", "", "\u{e9}t\u{e9}"] {
        let r = ask(&i, &idp, bad).await;
        assert!(
            matches!(r, Err(AuthError::InvalidToken(_))),
            "{bad:?}: {r:?}"
        );
    }
    assert_eq!(hits(&idp), 0);
    assert!(ask(&i, &idp, "12345678").await.is_ok());
    let r = ask(&i, &idp, "other").await;
    assert!(
        matches!(r, Err(AuthError::IdpThrottled(s)) if s >= 3000),
        "{r:?}"
    );
    assert_eq!(hits(&idp), 1);
    // Cached: no cap.
    assert!(ask(&i, &idp, "12345678").await.is_ok());
}

/// An active answer for `alice` with the fields of `extra` added.
fn active_with(extra: &serde_json::Value) -> serde_json::Value {
    let mut answer = json!({"active": true, "sub": "alice"});
    answer
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    answer
}
