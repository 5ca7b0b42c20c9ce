//! RFC 9728 through the gateway: the document of a protected route (what MCP clients
//! fetch first), `resource_metadata` in its challenges, and no route shadowed: only the
//! exact document paths of publishing routes are answered, on their host.

use serde_json::json;

use super::{call, challenge, server_head, PUBLIC};
use crate::support::bearer::{config, route, start_ready, ProviderYaml, AUD};
use crate::support::echo_upstream;
use crate::support::fake_idp::FakeIdp;
use crate::support::TestGateway;

const DOC: &str = "/.well-known/oauth-protected-resource/mcp";

async fn bed() -> (FakeIdp, TestGateway) {
    let idp = FakeIdp::start().await;
    let up = echo_upstream().await;
    let provider = ProviderYaml::default().with("userinfo: never").render(&idp);
    let yaml = server_head(Some(PUBLIC))
        + &config(
            &[provider],
            &[
                route(
                    "mcp",
                    "/mcp/",
                    up,
                    &[
                        "protected_resource_metadata: true",
                        "dpop: allowed",
                        "allow: { scopes: [mcp.read, mcp.write] }",
                    ],
                ),
                route(
                    "plain",
                    "/plain/",
                    up,
                    &["protected_resource_metadata: true"],
                ),
                format!(
                    "  - name: hosted\n    match: {{ host: tools.example.test, path_prefix: /hosted/ }}\n    \
                     upstream: \"http://{up}\"\n    auth: bearer\n    protected_resource_metadata: true\n"
                ),
                route("site", "/", up, &["auth: none"]),
            ],
        );
    (idp, start_ready(&yaml).await)
}

#[tokio::test]
async fn the_document_names_resource_issuer_scopes_and_dpop() {
    let (idp, gw) = bed().await;
    let r = call(&gw, "GET", DOC, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc["resource"], format!("{PUBLIC}/mcp"));
    assert_eq!(doc["authorization_servers"], json!([idp.issuer()]));
    assert_eq!(doc["scopes_supported"], json!(["mcp.read", "mcp.write"]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    assert_eq!(doc["dpop_bound_access_tokens_required"], json!(false));
    assert!(doc["dpop_signing_alg_values_supported"]
        .as_array()
        .is_some_and(|a| a.contains(&json!("ES256"))));
    let plain = call(
        &gw,
        "GET",
        "/.well-known/oauth-protected-resource/plain",
        &[],
    )
    .await
    .json();
    assert_eq!(plain["resource"], format!("{PUBLIC}/plain"));
    assert!(
        plain.get("scopes_supported").is_none()
            && plain.get("dpop_signing_alg_values_supported").is_none(),
        "{plain}"
    );
    assert_eq!(call(&gw, "HEAD", DOC, &[]).await.status, 200);
    let served = r#"portcullis_protected_resource_metadata_total{route="mcp"}"#;
    assert_eq!(gw.metric(served).await, 2.0);
}

#[tokio::test]
async fn challenges_point_at_the_document() {
    let (idp, gw) = bed().await;
    let url = format!("{PUBLIC}{DOC}");
    let r = call(&gw, "GET", "/mcp/tools", &[]).await;
    assert_eq!(r.status, 401);
    let c = challenge(&r);
    assert!(
        c.starts_with(&format!(
            "Bearer realm=\"mcp\", resource_metadata=\"{url}\", DPoP realm=\"mcp\", algs="
        )),
        "{c}"
    );
    assert!(c.ends_with(&format!("resource_metadata=\"{url}\"")), "{c}");
    let token = idp.sign(idp.claims_for("sub-a", AUD, json!({"scope": "mcp.read"})));
    let r = call(
        &gw,
        "GET",
        "/mcp/tools",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(
        challenge(&r).contains("error=\"insufficient_scope\"") && challenge(&r).contains(&url),
        "{}",
        challenge(&r)
    );
    let token = idp.sign(idp.claims_for("sub-a", AUD, json!({"scope": "mcp.read mcp.write"})));
    let r = call(
        &gw,
        "GET",
        "/mcp/tools",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A route that does not publish says nothing about metadata.
    let r = call(&gw, "GET", "/other", &[]).await;
    assert_eq!(r.status, 200, "site is open");
}

#[tokio::test]
async fn no_route_is_shadowed_beyond_the_exact_documents() {
    let (_idp, gw) = bed().await;
    // Paths near the documents, and other methods, reach the catch-all route's upstream.
    for (method, path) in [
        ("GET", "/.well-known/oauth-protected-resource"),
        ("GET", "/.well-known/oauth-protected-resource/other"),
        ("GET", "/.well-known/oauth-protected-resource/mcp/x"),
        ("GET", "/.well-known/oauth-protected-resourcex/mcp"),
        ("POST", DOC),
    ] {
        let r = call(&gw, method, path, &[]).await;
        assert_eq!(r.status, 200, "{method} {path}");
        assert_eq!(
            r.echoed_path(),
            path,
            "{method} {path} must reach the upstream"
        );
    }
    // A host-bound route publishes on its host only.
    let hosted = "/.well-known/oauth-protected-resource/hosted";
    let r = call(&gw, "GET", hosted, &[]).await;
    assert_eq!(
        r.echoed_path(),
        hosted,
        "another host: the upstream answers"
    );
    let r = call(&gw, "GET", hosted, &[("host", "tools.example.test")]).await;
    assert_eq!(r.json()["resource"], "https://tools.example.test/hosted");
}
