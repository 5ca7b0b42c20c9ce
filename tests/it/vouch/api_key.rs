//! Identity assertions for callers authenticated by API key: the upstream gets an
//! assertion stating the key's identity (its `sub` and `groups` from the key file), one
//! per key, which PyJWT verifies against the gateway's JWKS like any other; a bearer
//! user on the same route keeps their own.

use serde_json::json;

use super::{api, config, PUBLIC};
use crate::bearer::user;
use crate::machine::key_line;
use crate::support::bearer::{bearer, start_ready};
use crate::support::client::get;
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::pyjwt::{self, Keys};

#[tokio::test]
async fn a_key_callers_assertion_states_the_keys_identity() {
    if !pyjwt::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ci, a) = key_line("ci-bot", ", groups: [deployers, ops], scopes: [deploy]");
    let (other, b) = key_line("report-bot", "");
    let keys = dir.path().join("keys.yaml");
    std::fs::write(&keys, format!("{a}{b}")).unwrap();
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let routes = [api(
        up,
        &[
            "auth: any",
            "accept: [bearer, api_key]",
            "identity_assertion: { audience: orders }",
        ],
    )];
    let tail = format!(
        "api_keys:\n  - {{ name: ci, file: \"{}\" }}\n",
        keys.display()
    );
    let gw = start_ready(&config(&idp, &routes, &tail)).await;
    let jwks = format!("{}/oauth2/jwks", gw.url);
    let assertion = |r: &crate::support::client::Resp| {
        assert_eq!(r.status, 200, "{}", r.text());
        r.echoed("x-portcullis-assertion")
            .expect("the upstream got an assertion")
    };

    let first = assertion(
        &get(
            &format!("{}/a", gw.url),
            &[("authorization", &format!("ApiKey {ci}"))],
        )
        .await,
    );
    let claims = pyjwt::verify(Keys::Url(&jwks), &first, "orders", PUBLIC, 0)
        .await
        .unwrap_or_else(|e| panic!("PyJWT refused: {e}"));
    assert_eq!(claims["sub"], "ci-bot");
    assert_eq!(claims["groups"], json!(["deployers", "ops"]));
    assert_eq!(claims["preferred_username"], "ci-bot");
    assert!(
        claims.get("email").is_none(),
        "a key has no e-mail: {claims}"
    );
    assert_eq!(claims["route"], "api");
    assert_eq!(claims["iss"], PUBLIC);
    // No identity provider vouched for a key: the claim names none.
    assert_eq!(claims["idp"], "", "{claims}");
    assert!(!first.contains(&ci), "the key itself is never in it");

    // The same key again: the cached assertion (signed once per identity and route).
    let again = assertion(
        &get(
            &format!("{}/b", gw.url),
            &[("authorization", &format!("ApiKey {ci}"))],
        )
        .await,
    );
    assert_eq!(again, first);

    // Another key, and a bearer user on the same route: each their own identity.
    let r = get(
        &format!("{}/c", gw.url),
        &[("authorization", &format!("ApiKey {other}"))],
    )
    .await;
    let claims = pyjwt::verify(Keys::Url(&jwks), &assertion(&r), "orders", PUBLIC, 0)
        .await
        .unwrap_or_else(|e| panic!("PyJWT refused: {e}"));
    assert_eq!(claims["sub"], "report-bot");
    assert_eq!(claims["groups"], json!([]));
    let token = idp.sign(user(&idp, "alice", json!({})));
    let r = bearer(&gw, "/d", &token).await;
    let claims = pyjwt::verify(Keys::Url(&jwks), &assertion(&r), "orders", PUBLIC, 0)
        .await
        .unwrap_or_else(|e| panic!("PyJWT refused: {e}"));
    assert_eq!(claims["sub"], "sub-alice");
    assert_eq!(claims["idp"], "idp");
    let m =
        |o: &str| format!("portcullis_identity_assertions_total{{outcome=\"{o}\",route=\"api\"}}");
    assert_eq!(gw.metric(&m("signed")).await, 3.0);
    assert_eq!(gw.metric(&m("cache_hit")).await, 1.0);
}
