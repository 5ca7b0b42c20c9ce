//! Signing-key rotation across hot reloads, as verifiers see it: a new key is published
//! before it signs (a verifier's cached JWKS already holds it), a removed key that
//! signed stays published, a revoked one is gone at once, and a kid pointed at another
//! key is refused.

use serde_json::json;

use super::{api, config, key_entry, key_file, PUBLIC};
use crate::bearer::user;
use crate::support::bearer::{bearer, start_ready};
use crate::support::client::get;
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::pyjwt::{self, Keys};

fn kid_of(jws: &str) -> String {
    jsonwebtoken::decode_header(jws).unwrap().kid.unwrap()
}

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn keys_rotate_without_breaking_a_verifier_that_caches_the_jwks() {
    if !pyjwt::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (k1, k2) = (
        key_file(dir.path(), "k1.pem", "ec"),
        key_file(dir.path(), "k2.pem", "ec"),
    );
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let routes = [api(up, &["identity_assertion: { audience: orders }"])];
    let yaml = |keys: &[String]| {
        config(
            &idp,
            &routes,
            &format!("signing_key_overlap: 1h\nsigning_keys:\n{}", keys.concat()),
        )
    };
    let gw = start_ready(&yaml(&[key_entry("k1", &k1, "")])).await;
    let apply = |text: String| {
        let cfg = portcullis::config::load_str(&text).unwrap_or_else(|e| panic!("{e}"));
        gw.running.gateway.apply(cfg)
    };
    let jwks_url = format!("{}/oauth2/jwks", gw.url);
    let assertion = |name: &'static str| {
        let token = idp.sign(user(&idp, name, json!({})));
        let gw = &gw;
        async move {
            bearer(gw, "/", &token)
                .await
                .echoed("x-portcullis-assertion")
                .unwrap()
        }
    };
    let a1 = assertion("alice").await;
    assert_eq!(kid_of(&a1), "k1");

    // k2 is added: published at once, but k1 signs on for the overlap.
    apply(yaml(&[key_entry("k1", &k1, ""), key_entry("k2", &k2, "")])).unwrap();
    let cached = get(&jwks_url, &[]).await.text();
    assert_eq!(kids(&serde_json::from_str(&cached).unwrap()), ["k1", "k2"]);
    let b = assertion("bob").await;
    assert_eq!(
        kid_of(&b),
        "k1",
        "a new key does not sign before its overlap"
    );

    // k2 may sign now: a verifier holding the JWKS copy fetched above checks it.
    let now = "2000-01-01T00:00:00Z";
    apply(yaml(&[
        key_entry("k1", &k1, ""),
        key_entry("k2", &k2, &format!(", not_before: \"{now}\"")),
    ]))
    .unwrap();
    let c = assertion("carol").await;
    assert_eq!(kid_of(&c), "k2");
    pyjwt::verify(Keys::Cached(&cached), &c, "orders", PUBLIC, 0)
        .await
        .unwrap_or_else(|e| panic!("cached JWKS: {e}"));

    // k1 is removed while assertions it signed are still live: it stays published.
    apply(yaml(&[key_entry("k2", &k2, "")])).unwrap();
    let jwks: serde_json::Value = get(&jwks_url, &[]).await.json();
    assert_eq!(kids(&jwks), ["k2", "k1"]);
    pyjwt::verify(Keys::Url(&jwks_url), &a1, "orders", PUBLIC, 0)
        .await
        .unwrap_or_else(|e| panic!("a retired key's assertion: {e}"));

    // Revoked: gone from the JWKS at once, its assertions fail, new ones use k2.
    apply(yaml(&[
        "  - { kid: k1, revoked: true }\n".into(),
        key_entry("k2", &k2, ""),
    ]))
    .unwrap();
    let jwks: serde_json::Value = get(&jwks_url, &[]).await.json();
    assert_eq!(kids(&jwks), ["k2"]);
    let e = pyjwt::verify(Keys::Url(&jwks_url), &a1, "orders", PUBLIC, 0)
        .await
        .unwrap_err();
    assert!(e.starts_with("PyJWKClientError"), "{e}");
    assert_eq!(kid_of(&assertion("alice").await), "k2");

    // A kid pointed at another key (a replaced file) is refused; the old keys serve on.
    key_file(dir.path(), "k2.pem", "ec");
    let err = apply(yaml(&[key_entry("k2", &k2, "")])).unwrap_err();
    assert!(err.to_string().starts_with("signing_keys[0].kid"), "{err}");
    assert_eq!(get(&jwks_url, &[]).await.json(), jwks);
}
