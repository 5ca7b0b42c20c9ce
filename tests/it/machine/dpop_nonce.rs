//! DPoP server nonces (RFC 9449 §9: `use_dpop_nonce` with a fresh `DPoP-Nonce`, then
//! accepted) and `htu` built from the client's Host when there is no public URL.

use serde_json::json;

use super::dpop::{assert_proof_refused, bed, bound, dpop_get};
use super::{challenge, PUBLIC};
use crate::support::bearer::{config, route, start_ready, ProviderYaml};
use crate::support::dpop::DpopKey;
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;

#[tokio::test]
async fn server_nonces_are_asked_for_and_then_accepted() {
    let (idp, gw) = bed().await;
    let key = DpopKey::new();
    let token = bound(&idp, &key);
    let htu = format!("{PUBLIC}/nonce/x");
    let r = dpop_get(&gw, "/nonce/x", &token, &key.proof("GET", &htu, &token)).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        challenge(&r).contains("error=\"use_dpop_nonce\""),
        "{}",
        challenge(&r)
    );
    assert_eq!(r.json()["error"], "use_dpop_nonce");
    let nonce = r.header("dpop-nonce").expect("a DPoP-Nonce").to_owned();
    let with_nonce = |n: &str| {
        key.proof_with(
            &key.header(),
            &key.claims("GET", &htu, &token, json!({"nonce": n})),
        )
    };
    let r = dpop_get(&gw, "/nonce/x", &token, &with_nonce(&nonce)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A made-up nonce is answered with a fresh one, never accepted.
    let r = dpop_get(&gw, "/nonce/x", &token, &with_nonce("bm90LWEtbm9uY2U")).await;
    assert_eq!(r.status, 401);
    assert!(r.header("dpop-nonce").is_some());
    // Routes that do not ask for nonces take proofs without one.
    let r = dpop_get(
        &gw,
        "/v1/x",
        &token,
        &key.proof("GET", &format!("{PUBLIC}/v1/x"), &token),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn without_public_url_htu_is_the_host_the_client_used() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let provider = ProviderYaml::default().with("dpop: required").render(&idp);
    let gw = start_ready(&config(&[provider], &[route("api", "/", up, &[])])).await;
    let key = DpopKey::new();
    let token = bound(&idp, &key);
    let htu = format!("{}/x", gw.url);
    assert_eq!(
        dpop_get(&gw, "/x", &token, &key.proof("GET", &htu, &token))
            .await
            .status,
        200
    );
    let r = dpop_get(
        &gw,
        "/x",
        &token,
        &key.proof("GET", &format!("{PUBLIC}/x"), &token),
    )
    .await;
    assert_proof_refused(&r, "another origin than the Host");
}
