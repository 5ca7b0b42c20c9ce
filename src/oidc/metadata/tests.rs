// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Endpoint resolution against an in-process server whose documents each test lays out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::oidc::testkit::{json_response, response, FakeServer, Seen};

/// path → (status, body); unknown paths answer 404.
type Docs = Arc<Mutex<HashMap<String, (u16, Value)>>>;

struct Idp {
    server: FakeServer,
    docs: Docs,
    issuer: String,
}

impl Idp {
    async fn start(issuer_path: &str) -> Idp {
        let docs: Docs = Arc::default();
        let d = docs.clone();
        let server = FakeServer::start(move |seen: Seen| {
            let found = d.lock().unwrap().get(&seen.path).cloned();
            async move {
                match found {
                    Some((status, body)) => json_response(status, &body),
                    None => response(404, "text/plain", None, "not found"),
                }
            }
        })
        .await;
        let issuer = format!("http://{}{issuer_path}", server.addr);
        Idp {
            server,
            docs,
            issuer,
        }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    fn serve(&self, path: &str, status: u16, body: Value) {
        self.docs
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body));
    }

    /// OpenID discovery without introspection and revocation, at the default location.
    fn serve_discovery(&self, issuer_path: &str) {
        let doc = json!({
            "issuer": self.issuer,
            "jwks_uri": self.url("/jwks"),
            "userinfo_endpoint": self.url("/userinfo"),
            "token_endpoint": self.url("/token"),
        });
        self.serve(
            &format!("{issuer_path}/.well-known/openid-configuration"),
            200,
            doc,
        );
    }

    /// An RFC 8414 document at `path` naming `issuer`.
    fn serve_rfc8414(&self, path: &str, issuer: &str) {
        let doc = json!({
            "issuer": issuer,
            "jwks_uri": self.url("/as-jwks"),
            "token_endpoint": self.url("/token"),
            "introspection_endpoint": self.url("/introspect"),
            "revocation_endpoint": self.url("/revoke"),
        });
        self.serve(path, 200, doc);
    }

    fn config(&self, extra: &str) -> ProviderConfig {
        let yaml = format!(
            "providers:\n  - name: corp\n    issuer: \"{}\"\n    client_id: gw\n    \
             tokens: {{ introspection: {{ client_id: api1, client_secret: s }} }}\n{extra}",
            self.issuer
        );
        let mut c = crate::config::load_str_with_env(&yaml, &|_| None).unwrap();
        c.providers.remove(0)
    }
}

fn client() -> IdpClient {
    IdpClient::new(None, Duration::from_secs(5)).unwrap()
}

#[test]
fn rfc8414_urls_insert_then_append_the_issuer_path() {
    assert_eq!(
        rfc8414_urls("https://as.example.com"),
        ["https://as.example.com/.well-known/oauth-authorization-server"]
    );
    assert_eq!(
        rfc8414_urls("https://as.example.com/"),
        ["https://as.example.com/.well-known/oauth-authorization-server"]
    );
    assert_eq!(
        rfc8414_urls("https://as.example.com:8443/tenant/one/"),
        [
            "https://as.example.com:8443/.well-known/oauth-authorization-server/tenant/one",
            "https://as.example.com:8443/tenant/one/.well-known/oauth-authorization-server",
        ]
    );
    assert!(rfc8414_urls("not a url").is_empty());
}

#[test]
fn sources_name_every_endpoint() {
    let s = EndpointSources {
        jwks_uri: Some(Source::Discovery),
        userinfo: None,
        introspection: Some(Source::Rfc8414),
        revocation: Some(Source::Config),
        end_session: None,
    };
    assert_eq!(
        s.to_string(),
        "jwks_uri=discovery userinfo_endpoint=none introspection_endpoint=rfc8414 \
         revocation_endpoint=config end_session_endpoint=none"
    );
}

#[tokio::test]
async fn missing_endpoints_come_from_the_path_inserted_rfc8414_document() {
    let idp = Idp::start("/tenant").await;
    idp.serve_discovery("/tenant");
    let issuer = idp.issuer.clone();
    idp.serve_rfc8414("/.well-known/oauth-authorization-server/tenant", &issuer);
    let r = resolve(&client(), &idp.config(""), None).await.unwrap();
    let m = &r.metadata;
    assert_eq!(m.jwks_uri, idp.url("/jwks"), "discovery's own value stays");
    assert_eq!(m.introspection_endpoint, Some(idp.url("/introspect")));
    assert_eq!(m.revocation_endpoint, Some(idp.url("/revoke")));
    assert_eq!(m.userinfo_endpoint, Some(idp.url("/userinfo")));
    assert_eq!(r.sources.jwks_uri, Some(Source::Discovery));
    assert_eq!(r.sources.introspection, Some(Source::Rfc8414));
    assert_eq!(r.sources.revocation, Some(Source::Rfc8414));
    assert_eq!(r.sources.end_session, None);
    let appended = "/tenant/.well-known/oauth-authorization-server";
    assert_eq!(idp.server.hits(appended), 0, "the first form answered");
}

#[tokio::test]
async fn the_path_appended_form_is_tried_next() {
    let idp = Idp::start("/tenant").await;
    idp.serve_discovery("/tenant");
    let issuer = idp.issuer.clone();
    idp.serve_rfc8414("/tenant/.well-known/oauth-authorization-server", &issuer);
    let r = resolve(&client(), &idp.config(""), None).await.unwrap();
    assert_eq!(
        r.metadata.introspection_endpoint,
        Some(idp.url("/introspect"))
    );
    assert_eq!(r.sources.introspection, Some(Source::Rfc8414));
    let inserted = "/.well-known/oauth-authorization-server/tenant";
    assert_eq!(idp.server.hits(inserted), 1);
}

#[tokio::test]
async fn an_rfc8414_document_for_another_issuer_is_never_used() {
    let idp = Idp::start("/tenant").await;
    idp.serve_discovery("/tenant");
    let other = format!("{}/other", idp.url(""));
    idp.serve_rfc8414("/.well-known/oauth-authorization-server/tenant", &other);
    idp.serve_rfc8414("/tenant/.well-known/oauth-authorization-server", &other);
    let r = resolve(&client(), &idp.config(""), None).await.unwrap();
    assert_eq!(r.metadata.introspection_endpoint, None);
    assert_eq!(r.metadata.revocation_endpoint, None);
    assert_eq!(r.sources.introspection, None);
}

#[tokio::test]
async fn config_endpoints_win_over_both_documents() {
    let idp = Idp::start("").await;
    idp.serve_discovery("");
    let issuer = idp.issuer.clone();
    idp.serve_rfc8414("/.well-known/oauth-authorization-server", &issuer);
    let cfg = idp.config(&format!(
        "    introspection_endpoint: \"{}\"\n    jwks_uri: \"{}\"\n    \
         end_session_endpoint: \"https://idp.example.com/bye\"\n",
        idp.url("/mine/introspect"),
        idp.url("/mine/jwks"),
    ));
    let r = resolve(&client(), &cfg, None).await.unwrap();
    let m = &r.metadata;
    assert_eq!(m.introspection_endpoint, Some(idp.url("/mine/introspect")));
    assert_eq!(m.jwks_uri, idp.url("/mine/jwks"));
    assert_eq!(
        m.end_session_endpoint.as_deref(),
        Some("https://idp.example.com/bye")
    );
    assert_eq!(m.revocation_endpoint, Some(idp.url("/revoke")));
    assert_eq!(r.sources.introspection, Some(Source::Config));
    assert_eq!(r.sources.jwks_uri, Some(Source::Config));
    assert_eq!(r.sources.end_session, Some(Source::Config));
    assert_eq!(r.sources.revocation, Some(Source::Rfc8414));
}

#[tokio::test]
async fn an_issuer_with_only_rfc8414_metadata_is_served_from_it() {
    let idp = Idp::start("/as").await;
    let issuer = idp.issuer.clone();
    idp.serve_rfc8414("/as/.well-known/oauth-authorization-server", &issuer);
    let r = resolve(&client(), &idp.config(""), None).await.unwrap();
    assert_eq!(r.metadata.jwks_uri, idp.url("/as-jwks"));
    assert_eq!(r.sources.jwks_uri, Some(Source::Rfc8414));
    assert_eq!(r.sources.introspection, Some(Source::Rfc8414));
    assert_eq!(r.sources.userinfo, None);
    // An explicit discovery URL that 404s is the operator's mistake: no fallback.
    let cfg = idp.config(&format!(
        "    discovery_url: \"{}\"\n",
        idp.url("/as/.well-known/oidc")
    ));
    let e = resolve(&client(), &cfg, None).await.unwrap_err();
    assert!(
        matches!(e, DiscoveryError::Http(HttpError::Status(404))),
        "{e}"
    );
    // Neither document: the error says both were tried.
    let nothing = Idp::start("/none").await;
    let e = resolve(&client(), &nothing.config(""), None)
        .await
        .unwrap_err();
    assert!(matches!(e, DiscoveryError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("oauth-authorization-server"), "{e}");
}

#[tokio::test]
async fn jwks_uri_is_required_from_somewhere() {
    let idp = Idp::start("").await;
    idp.serve(
        "/.well-known/openid-configuration",
        200,
        json!({"issuer": idp.issuer}),
    );
    let e = resolve(&client(), &idp.config(""), None).await.unwrap_err();
    assert!(e.to_string().contains("jwks_uri"), "{e}");
    let cfg = idp.config(&format!("    jwks_uri: \"{}\"\n", idp.url("/k")));
    let r = resolve(&client(), &cfg, None).await.unwrap();
    assert_eq!(r.metadata.jwks_uri, idp.url("/k"));
}

#[tokio::test]
async fn a_passing_rfc8414_failure_keeps_what_was_found_before() {
    let idp = Idp::start("").await;
    idp.serve_discovery("");
    let issuer = idp.issuer.clone();
    let path = "/.well-known/oauth-authorization-server";
    idp.serve_rfc8414(path, &issuer);
    let cfg = idp.config("");
    let first = resolve(&client(), &cfg, None).await.unwrap();
    idp.serve(path, 503, json!({}));
    let second = resolve(&client(), &cfg, Some(&first)).await.unwrap();
    assert_eq!(
        second.metadata.introspection_endpoint,
        Some(idp.url("/introspect"))
    );
    assert_eq!(second.sources.introspection, Some(Source::Rfc8414));
    // A definite answer (the document is gone) is believed.
    idp.serve(path, 404, json!({}));
    let third = resolve(&client(), &cfg, Some(&second)).await.unwrap();
    assert_eq!(third.metadata.introspection_endpoint, None);
}
