//! `userinfo: auto` (issue 19 item 8): never for a token that stands for no user
//! (client credentials), and only when a claim the route reads (identity headers,
//! `allow` rules) is missing. Counted at the FakeIdp's userinfo endpoint.

use serde_json::json;

use super::{active, standard_bed, user, AUD};
use crate::support::bearer::{bearer, config, route, start_ready, ProviderYaml};
use crate::support::echo_upstream;
use crate::support::fake_idp::{now, Endpoint, FakeIdp};

/// A client-credentials access token (JWT) of client `svc`; `sub` as given.
fn service_token(idp: &FakeIdp, sub: Option<&str>) -> String {
    let t = now();
    let mut claims = json!({"iss": idp.issuer(), "aud": AUD, "client_id": "svc",
                            "scope": "api1.read", "iat": t, "exp": t + 300});
    if let Some(sub) = sub {
        claims["sub"] = json!(sub);
    }
    idp.sign(claims)
}

#[tokio::test]
async fn client_credentials_tokens_never_reach_userinfo() {
    // The default identity headers read username, email and groups: all missing here.
    let (idp, _up, gw) = standard_bed(&[]).await;
    for token in [service_token(&idp, None), service_token(&idp, Some("svc"))] {
        let r = bearer(&gw, "/", &token).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.echoed("x-auth-subject").as_deref(), Some("svc"));
    }
    // Opaque: the introspection answer has no `sub`, only the client.
    let opaque = idp.new_reference_token(active(
        &idp,
        "x",
        json!({"sub": null, "preferred_username": null}),
    ));
    assert_eq!(bearer(&gw, "/", &opaque).await.status, 200);
    assert_eq!(idp.hits(Endpoint::Userinfo), 0);
    // A user token with the same gaps does ask.
    let person = idp.sign(user(&idp, "ann", json!({"preferred_username": null})));
    assert_eq!(bearer(&gw, "/", &person).await.status, 200);
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
}

#[tokio::test]
async fn userinfo_is_asked_only_for_claims_the_route_reads() {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let gw = start_ready(&config(
        &[ProviderYaml::default().render(&idp)],
        &[
            route(
                "bare",
                "/bare/",
                up,
                &["identity_headers: { X-Sub: \"{sub}\" }"],
            ),
            route(
                "mail",
                "/mail/",
                up,
                &["identity_headers: { X-Mail: \"{email}\" }"],
            ),
            route(
                "dept",
                "/dept/",
                up,
                &[
                    "identity_headers: {}",
                    "allow: { claims: { department: sales } }",
                ],
            ),
        ],
    ))
    .await;
    // No preferred_username, no email, no department: only what a route reads is asked.
    let token = idp.sign(user(
        &idp,
        "bea",
        json!({"preferred_username": null, "email": null}),
    ));
    idp.add_userinfo(
        &token,
        json!({"sub": "sub-bea", "email": "bea@example.com", "department": "sales"}),
    );
    let r = bearer(&gw, "/bare/x", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.hits(Endpoint::Userinfo), 0, "the route reads only sub");
    let r = bearer(&gw, "/mail/x", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.echoed("x-mail").as_deref(), Some("bea@example.com"));
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
    let r = bearer(&gw, "/dept/x", &token).await;
    assert_eq!(
        r.status,
        200,
        "the allow rule saw userinfo's claim: {}",
        r.text()
    );
    assert_eq!(idp.hits(Endpoint::Userinfo), 1, "cached per token");
    // Everything the routes read is in the token: no call at all.
    let full = idp.sign(user(&idp, "cy", json!({"department": "sales"})));
    for path in ["/bare/x", "/mail/x", "/dept/x"] {
        assert_eq!(bearer(&gw, path, &full).await.status, 200, "{path}");
    }
    assert_eq!(idp.hits(Endpoint::Userinfo), 1);
}
