//! RFC 8693 token exchange through a running gateway: the upstream gets the exchanged
//! token and never the caller's, one exchange serves repeated and concurrent requests,
//! a refusal is 403 and an unavailable provider 503 (neither cached).

use std::time::Duration;

use serde_json::json;

use super::{api, config};
use crate::bearer::user;
use crate::support::bearer::{
    assert_unavailable, bearer, concurrent, echoed_headers, poll, start_ready,
};
use crate::support::echo_upstream;
use crate::support::fake_idp::{ClientAuthMethod, Endpoint, FakeIdp, Mode};
use crate::support::TestGateway;

const EXCHANGE: &str =
    "token_exchange: { audience: orders-backend, scope: \"orders.read orders.write\" }";

async fn bed() -> (FakeIdp, TestGateway) {
    let idp = FakeIdp::start().await;
    // The provider's client credentials from ProviderYaml::default.
    idp.register_client(
        "portcullis",
        ClientAuthMethod::SecretBasic("client-secret".into()),
        "https://gw.test/oauth2/callback",
    );
    let up = echo_upstream().await;
    let gw = start_ready(&config(&idp, &[api(up, &[EXCHANGE])], "")).await;
    (idp, gw)
}

fn m(outcome: &str) -> String {
    format!("portcullis_token_exchanges_total{{outcome=\"{outcome}\",route=\"api\"}}")
}

#[tokio::test]
async fn the_upstream_gets_the_exchanged_token_exchanged_once() {
    let (idp, gw) = bed().await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    let mut sent = Vec::new();
    for _ in 0..3 {
        let r = bearer(&gw, "/orders", &token).await;
        assert_eq!(r.status, 200, "{}", r.text());
        for (name, value) in echoed_headers(&r.json()) {
            assert!(
                !value.contains(&token),
                "the caller's token reached the upstream in {name}"
            );
        }
        sent.push(r.echoed("authorization").unwrap());
    }
    assert_eq!(idp.exchange_hits(), 1, "cached after the first");
    let call = &idp.exchanges()[0];
    let issued = call.issued.clone().unwrap();
    assert!(
        sent.iter().all(|s| *s == format!("Bearer {issued}")),
        "{sent:?}"
    );
    let f = &call.form;
    assert_eq!(
        f.get("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(f.get("subject_token"), Some(token.as_str()));
    assert_eq!(
        f.get("subject_token_type"),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    assert_eq!(f.get("audience"), Some("orders-backend"));
    assert_eq!(f.get("scope"), Some("orders.read orders.write"));
    // Another caller: another exchange.
    let bob = idp.sign(user(&idp, "bob", json!({})));
    assert_eq!(bearer(&gw, "/orders", &bob).await.status, 200);
    assert_eq!(idp.exchange_hits(), 2);
    assert_eq!(gw.metric(&m("exchanged")).await, 2.0);
    assert_eq!(gw.metric(&m("cache_hit")).await, 2.0);
}

#[tokio::test]
async fn concurrent_requests_with_one_token_make_one_exchange() {
    let (idp, gw) = bed().await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    idp.hold(Endpoint::Token);
    let url = format!("{}/orders", gw.url);
    let auth = format!("Bearer {token}");
    let all = tokio::spawn(async move { concurrent(&url, vec![auth; 8]).await });
    // Every request is inside the gateway, and the first exchange waits at the provider.
    let ok = poll(Duration::from_secs(20), || async {
        idp.hits(Endpoint::Token) >= 1 && gw.metric("portcullis_requests_in_flight").await >= 8.0
    })
    .await;
    assert!(ok, "requests did not all arrive");
    idp.release(Endpoint::Token);
    let responses = all.await.unwrap();
    assert!(responses.iter().all(|r| r.status == 200));
    assert_eq!(idp.exchange_hits(), 1, "coalesced into one exchange");
    let first = responses[0].echoed("authorization");
    assert!(responses.iter().all(|r| r.echoed("authorization") == first));
}

#[tokio::test]
async fn a_refusal_is_403_and_not_remembered() {
    let (idp, gw) = bed().await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    for (status, error) in [
        (400, "invalid_grant"),
        (400, "invalid_target"),
        (401, "invalid_client"),
        (403, "access_denied"),
    ] {
        idp.refuse_exchanges(Some((status, error)));
        let r = bearer(&gw, "/orders", &token).await;
        assert_eq!(r.status, 403, "{status} {error}: {}", r.text());
        assert!(!r.text().contains(&token));
    }
    // Wrong client credentials at the provider: its 401 invalid_client is a refusal too.
    idp.refuse_exchanges(None);
    idp.register_client(
        "portcullis",
        ClientAuthMethod::SecretBasic("rotated".into()),
        "https://gw.test/cb",
    );
    assert_eq!(bearer(&gw, "/orders", &token).await.status, 403);
    idp.register_client(
        "portcullis",
        ClientAuthMethod::SecretBasic("client-secret".into()),
        "https://gw.test/cb",
    );
    assert_eq!(bearer(&gw, "/orders", &token).await.status, 200);
    assert_eq!(gw.metric(&m("refused")).await, 5.0);
}

#[tokio::test]
async fn an_unavailable_provider_is_503_and_not_remembered() {
    let (idp, gw) = bed().await;
    let token = idp.sign(user(&idp, "alice", json!({})));
    for mode in [
        Mode::Down,
        Mode::Unavailable,
        Mode::Error500,
        Mode::NotJson,
        Mode::TooManyRequests,
    ] {
        idp.set_mode(Endpoint::Token, mode);
        let r = bearer(&gw, "/orders", &token).await;
        assert_unavailable(&r, &format!("{mode:?}"));
    }
    idp.set_mode(Endpoint::Token, Mode::Normal);
    assert_eq!(bearer(&gw, "/orders", &token).await.status, 200);
    assert_eq!(gw.metric(&m("unavailable")).await, 5.0);
}

#[tokio::test]
async fn a_session_access_token_is_exchanged_and_the_session_user_asserted() {
    use crate::sso::{Bed, Setup};
    let setup = Setup::default()
        .app(EXCHANGE)
        .app("identity_assertion: { audience: app }");
    let bed = Bed::start(setup).await;
    bed.login("/app/x").await;
    let echo = bed.browser.get(&bed.url("/app/y")).await.json();
    let session_token = bed.idp.issued()[0].access_token.clone();
    let call = &bed.idp.exchanges()[0];
    assert_eq!(call.form.get("subject_token"), Some(session_token.as_str()));
    let issued = call.issued.clone().unwrap();
    assert_eq!(
        echo["headers"]["authorization"][0],
        format!("Bearer {issued}")
    );
    let jws = echo["headers"]["x-portcullis-assertion"][0]
        .as_str()
        .unwrap();
    let payload = jws.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (claims["sub"].as_str(), claims["aud"].as_str()),
        (Some("sub-alice"), Some("app"))
    );
    assert_eq!(claims["iss"], bed.public);
}
