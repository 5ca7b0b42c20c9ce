//! Providers whose OpenID discovery is incomplete (issue 19 item 8): introspection and
//! revocation published only in RFC 8414 metadata (both URL forms), endpoints written in
//! the config winning over discovery, an RFC 8414 document for another issuer refused, an
//! issuer with RFC 8414 metadata only, and introspection with `private_key_jwt`.

use serde_json::json;

use super::{active, user};
use crate::support::bearer::{
    assert_unavailable, bearer, config, route, start_ready, ProviderYaml,
};
use crate::support::echo_upstream;
use crate::support::fake_idp::{
    ClientAuthSeen, ClientKey, Endpoint, FakeIdp, FakeIdpOptions, Mode, Rfc8414Form,
};
use crate::support::TestGateway;
use portcullis::oidc::metadata::Source;

fn tenant() -> FakeIdpOptions {
    FakeIdpOptions {
        issuer_path: "/tenant".into(),
        ..FakeIdpOptions::default()
    }
}

/// Where the gateway's first provider found its introspection and revocation endpoints.
fn sources(gw: &TestGateway) -> (Option<Source>, Option<Source>) {
    let rt = gw.running.gateway.snapshot();
    let s = rt.providers[0].endpoint_sources().expect("discovered");
    (s.introspection, s.revocation)
}

async fn gateway(idp: &FakeIdp, provider: ProviderYaml) -> TestGateway {
    let up = echo_upstream().await;
    start_ready(&config(
        &[provider.render(idp)],
        &[route("api", "/", up, &[])],
    ))
    .await
}

#[tokio::test]
async fn introspection_published_only_in_rfc8414_metadata_is_found_at_either_location() {
    for form in [Rfc8414Form::Inserted, Rfc8414Form::Appended] {
        let idp = FakeIdp::start_with(tenant()).await;
        idp.set_incomplete_discovery(form);
        let gw = gateway(&idp, ProviderYaml::default()).await;
        let token = idp.new_reference_token(active(&idp, "alice", json!({})));
        let r = bearer(&gw, "/", &token).await;
        assert_eq!(r.status, 200, "{form:?}: {}", r.text());
        assert_eq!(r.echoed("x-auth-user").as_deref(), Some("alice"));
        assert_eq!(idp.hits(Endpoint::Introspection), 1, "{form:?}");
        assert!(idp.hits(Endpoint::Rfc8414) >= 1, "{form:?}");
        assert_eq!(
            sources(&gw),
            (Some(Source::Rfc8414), Some(Source::Rfc8414)),
            "{form:?}"
        );
    }
}

#[tokio::test]
async fn endpoints_in_the_config_win_over_discovery() {
    let idp = FakeIdp::start().await;
    // Discovery points introspection somewhere useless; the config knows better.
    idp.set_discovery_patch(json!({"introspection_endpoint": "http://127.0.0.1:9/nothing"}));
    let provider = ProviderYaml::default().with(&format!(
        "introspection_endpoint: \"{}\"",
        idp.url(Endpoint::Introspection)
    ));
    let gw = gateway(&idp, provider).await;
    let token = idp.new_reference_token(active(&idp, "bob", json!({})));
    let r = bearer(&gw, "/", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(idp.hits(Endpoint::Introspection), 1);
    assert_eq!(sources(&gw).0, Some(Source::Config));
    assert_eq!(sources(&gw).1, Some(Source::Discovery));
}

#[tokio::test]
async fn rfc8414_metadata_for_another_issuer_is_refused() {
    let idp = FakeIdp::start_with(tenant()).await;
    idp.set_incomplete_discovery(Rfc8414Form::Inserted);
    idp.set_rfc8414_patch(json!({"issuer": "https://evil.example.com/tenant"}));
    let gw = gateway(&idp, ProviderYaml::default()).await;
    assert!(idp.hits(Endpoint::Rfc8414) >= 1);
    let token = idp.new_reference_token(active(&idp, "mallory", json!({})));
    assert_unavailable(&bearer(&gw, "/", &token).await, "no trusted endpoint");
    assert_eq!(idp.hits(Endpoint::Introspection), 0);
    assert_eq!(sources(&gw), (None, None));
}

#[tokio::test]
async fn an_issuer_with_only_rfc8414_metadata_serves_bearer_routes() {
    let idp = FakeIdp::start_with(tenant()).await;
    idp.set_mode(Endpoint::Discovery, Mode::NotFound);
    idp.serve_rfc8414(Some(Rfc8414Form::Appended));
    // No discovery_url: the default location 404s and RFC 8414 stands in.
    let up = echo_upstream().await;
    let yaml = format!(
        "providers:\n  - name: as\n    issuer: \"{}\"\n    client_id: gw\n    tokens:\n      \
         audiences: [api1]\n      introspection: {{ client_id: api1, client_secret: api1-secret }}\n\
         routes:\n{}",
        idp.issuer(),
        route("api", "/", up, &[]),
    );
    let gw = start_ready(&yaml).await;
    let jwt = idp.sign(user(&idp, "carol", json!({})));
    let r = bearer(&gw, "/", &jwt).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let opaque = idp.new_reference_token(active(&idp, "dave", json!({})));
    assert_eq!(bearer(&gw, "/", &opaque).await.status, 200);
    assert!(idp.hits(Endpoint::Discovery) >= 1 && idp.hits(Endpoint::Rfc8414) >= 1);
    let rt = gw.running.gateway.snapshot();
    let s = rt.providers[0].endpoint_sources().expect("discovered");
    assert_eq!(s.jwks_uri, Some(Source::Rfc8414));
    assert_eq!(s.introspection, Some(Source::Rfc8414));
}

#[tokio::test]
async fn introspection_authenticates_with_a_fresh_client_assertion_per_call() {
    let idp = FakeIdp::start_with(tenant()).await;
    idp.set_incomplete_discovery(Rfc8414Form::Inserted);
    let key = ClientKey::ec();
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = key.write_pem(dir.path());
    idp.require_introspection_assertion("api1", key.public_key());
    let provider = ProviderYaml {
        introspection: Some(format!(
            "{{ client_id: api1, client_auth: private_key_jwt, private_key_file: \"{}\" }}",
            pem.display()
        )),
        ..ProviderYaml::default()
    };
    let gw = gateway(&idp, provider).await;
    // Two tokens, two calls: the IdP refuses a replayed jti, so each must be fresh.
    for name in ["erin", "frank"] {
        let token = idp.new_reference_token(active(&idp, name, json!({})));
        let r = bearer(&gw, "/", &token).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
    }
    assert_eq!(idp.hits(Endpoint::Introspection), 2);
    let Some(ClientAuthSeen::PrivateKeyJwt(client, claims)) = idp.last_introspection_auth() else {
        panic!("no assertion: {:?}", idp.last_introspection_auth());
    };
    assert_eq!(client, "api1");
    assert_eq!(claims["iss"], "api1");
    assert_eq!(claims["sub"], "api1");
    assert_eq!(claims["aud"], idp.url(Endpoint::Introspection));
}

#[tokio::test]
async fn introspection_reuses_the_providers_assertion_key() {
    let idp = FakeIdp::start().await;
    let key = ClientKey::rsa();
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = key.write_pem(dir.path());
    idp.require_introspection_assertion("portcullis", key.public_key());
    let provider = ProviderYaml {
        introspection: Some("{ client_id: portcullis, client_auth: private_key_jwt }".into()),
        ..ProviderYaml::default()
    }
    .with("client_auth: private_key_jwt")
    .with(&format!("private_key_file: \"{}\"", pem.display()));
    let gw = gateway(&idp, provider).await;
    let token = idp.new_reference_token(active(&idp, "gina", json!({"aud": "portcullis"})));
    let r = bearer(&gw, "/", &token).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(matches!(
        idp.last_introspection_auth(),
        Some(ClientAuthSeen::PrivateKeyJwt(..))
    ));
}
