//! The shipped seed-style example configs, served as written (only addresses and secrets
//! substituted) in front of a FakeIdp that behaves like the seed's provider.

use std::net::SocketAddr;

use serde_json::json;

use super::active;
use crate::support::bearer::{bearer, start_ready, with_auth};
use crate::support::echo_upstream;
use crate::support::fake_idp::{ClientAuthSeen, Endpoint, FakeIdp, FakeIdpOptions};

/// A shipped config with its listeners on port 0, upstream on `up`, and literal values
/// in place of the given `(from, to)` pairs.
fn shipped(file: &str, up: SocketAddr, upstream: &str, swaps: &[(&str, String)]) -> String {
    let path = format!("{}/config/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).expect("read shipped config");
    let listen = [
        ("listen: \"0.0.0.0:8080\"", "listen: \"127.0.0.1:0\""),
        ("listen: \"127.0.0.1:9090\"", "listen: \"127.0.0.1:0\""),
    ];
    for (from, to) in listen {
        assert!(text.contains(from), "{file} has no `{from}`");
        text = text.replace(from, to);
    }
    assert!(text.contains(upstream), "{file} has no `{upstream}`");
    text = text.replace(upstream, &format!("http://{up}"));
    for (from, to) in swaps {
        assert!(text.contains(from), "{file} has no `{from}`");
        text = text.replace(from, to);
    }
    text
}

#[tokio::test]
async fn teamwork_token_example_accepts_id_tokens_with_the_token_scheme() {
    let idp = FakeIdp::start_with(FakeIdpOptions::teamwork()).await;
    let up = echo_upstream().await;
    let base = idp.issuer().trim_end_matches("/authentication").to_owned();
    let yaml = shipped(
        "teamwork-token.yaml",
        up,
        "http://127.0.0.1:8111",
        &[
            ("https://twc.example.com:8443", base),
            ("${TWC_CLIENT_SECRET}", "client-secret".into()),
        ],
    );
    let gw = start_ready(&yaml).await;
    assert!(idp.hits(Endpoint::Discovery) >= 1);
    let id_token = idp.sign(idp.claims_for(
        "u-7",
        "twc-portal",
        json!({"preferred_username": "jdoe", "email": "jdoe@example.com", "nonce": "n"}),
    ));
    let r = with_auth(&gw, "/osmc/workspaces", &format!("Token {id_token}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("jdoe"));
    assert_eq!(r.echoed("x-auth-subject").as_deref(), Some("u-7"));
    assert_eq!(r.echoed("authorization"), Some(format!("Token {id_token}")));
    // Bearer is not configured: a bare challenge naming the scheme the route accepts.
    let r = with_auth(&gw, "/osmc/workspaces", &format!("Bearer {id_token}")).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Token realm="twc-api""#)
    );
    let r = with_auth(&gw, "/osmc/workspaces", "Token not.a.jwt").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Token realm="twc-api", error="invalid_token""#)
    );
    let r = crate::support::bearer::anonymous(&gw, "/osmc/health").await;
    assert_eq!(r.status, 200, "public health path");
}

#[tokio::test]
async fn identityserver_example_introspects_reference_tokens_with_basic_auth() {
    let idp = FakeIdp::start_with(FakeIdpOptions {
        resource_id: "configportal".into(),
        resource_secret: "api-secret".into(),
        allow_client_secret_post: false,
        ..FakeIdpOptions::default()
    })
    .await;
    let up = echo_upstream().await;
    let yaml = shipped(
        "identityserver-reference.yaml",
        up,
        "http://127.0.0.1:5001",
        &[
            ("https://auth.example.com", idp.issuer()),
            ("${AUTHSERVER_CLIENT_SECRET}", "client-secret".into()),
            ("${CONFIGPORTAL_API_SECRET}", "api-secret".into()),
        ],
    );
    let gw = start_ready(&yaml).await;
    let reference = |roles: serde_json::Value| {
        idp.new_reference_token(active(
            &idp,
            "bob",
            json!({"aud": "configportal", "scope": "openid configportalscope", "role": roles}),
        ))
    };
    let admin = reference(json!(["user", "admin"]));
    let r = bearer(&gw, "/api/settings", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-auth-user").as_deref(), Some("bob"));
    assert_eq!(r.echoed("x-auth-groups").as_deref(), Some("user,admin"));
    assert_eq!(r.echoed("x-auth-client").as_deref(), Some("mobile-app"));
    assert_eq!(
        r.echoed("authorization"),
        None,
        "forward_authorization: false"
    );
    assert_eq!(
        idp.last_introspection_auth(),
        Some(ClientAuthSeen::Basic(
            "configportal".into(),
            "api-secret".into()
        ))
    );
    assert_eq!(bearer(&gw, "/admin/users", &admin).await.status, 200);
    // A plain user passes the API but not the admin route.
    let user = reference(json!("user"));
    assert_eq!(bearer(&gw, "/api/settings", &user).await.status, 200);
    assert_eq!(bearer(&gw, "/admin/users", &user).await.status, 403);
    // Without the API scope: 403 insufficient_scope.
    let unscoped = idp.new_reference_token(active(
        &idp,
        "carl",
        json!({"aud": "configportal", "scope": "openid"}),
    ));
    let r = bearer(&gw, "/api/settings", &unscoped).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            r#"Bearer realm="configportal", error="insufficient_scope", scope="configportalscope""#
        )
    );
    // Revoked / unknown reference tokens are inactive.
    let r = bearer(&gw, "/api/settings", "revoked-or-unknown-handle").await;
    assert_eq!(r.status, 401);
}
