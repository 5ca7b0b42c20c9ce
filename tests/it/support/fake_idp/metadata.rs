//! FakeIdp as a provider library that publishes some endpoints only in its RFC 8414
//! authorization-server metadata (issue 19 item 8): a switch that leaves introspection
//! and revocation out of OpenID discovery and serves them in an RFC 8414 document at the
//! path-inserted or path-appended location, and a switch that makes introspection accept
//! only `private_key_jwt` client assertions (RFC 7523, checked strictly).

use std::collections::HashSet;

use serde_json::{json, Value};

use super::client_auth::{
    authenticate, presented, ClientAuthMethod, ClientAuthUsed, ClientPublicKey, FlowClient,
};
use super::flow::Params;
use super::state::{lock, ClientAuthSeen, Endpoint};
use super::{now, FakeIdp, Inner};

/// Where the RFC 8414 document is served (RFC 8414 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rfc8414Form {
    /// `/.well-known/oauth-authorization-server` + the issuer's path (the RFC's form).
    Inserted,
    /// The issuer's path + `/.well-known/oauth-authorization-server`.
    Appended,
}

/// The switches' state, kept in [`super::state::State`].
#[derive(Default)]
pub(crate) struct MetadataState {
    /// Where the RFC 8414 document is served; `None` = nowhere.
    form: Option<Rfc8414Form>,
    /// Fields replaced in (or, as `null`, removed from) the RFC 8414 document.
    patch: Option<Value>,
    /// The client introspection requires an assertion from.
    assertion_client: Option<FlowClient>,
    /// Every `jti` introspection accepted (a replay is refused).
    jtis: HashSet<String>,
}

const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

impl Inner {
    pub(crate) fn rfc8414_path(&self) -> String {
        let p = &self.opts.issuer_path;
        match lock(&self.state.metadata).form {
            Some(Rfc8414Form::Inserted) => format!("{WELL_KNOWN}{p}"),
            Some(Rfc8414Form::Appended) => format!("{p}{WELL_KNOWN}"),
            None => "/rfc8414-metadata-not-served".into(),
        }
    }

    /// The RFC 8414 document: what OpenID discovery would say, endpoints included.
    pub(crate) fn rfc8414(&self) -> Value {
        let url = |ep| format!("{}{}", self.base, self.path_of(ep));
        let mut doc = json!({
            "issuer": self.issuer(),
            "authorization_endpoint": url(Endpoint::Authorize),
            "token_endpoint": url(Endpoint::Token),
            "jwks_uri": url(Endpoint::Jwks),
            "introspection_endpoint": url(Endpoint::Introspection),
            "revocation_endpoint": url(Endpoint::Revocation),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "code_challenge_methods_supported": ["S256"],
        });
        if let (Value::Object(d), Some(Value::Object(patch))) =
            (&mut doc, lock(&self.state.metadata).patch.clone())
        {
            for (k, v) in patch {
                match v {
                    Value::Null => d.remove(&k),
                    v => d.insert(k, v),
                };
            }
        }
        doc
    }

    /// `Some` when introspection requires a client assertion: the verdict on this request.
    pub(crate) fn introspection_assertion(
        &self,
        headers: &http::HeaderMap,
        form: &[(String, String)],
    ) -> Option<Result<ClientAuthSeen, String>> {
        let mut state = lock(&self.state.metadata);
        let client = state.assertion_client.clone()?;
        let form = Params(form.to_vec());
        let used = presented(headers, &form);
        // RFC 7523 §3: the token endpoint identifies the server; the endpoint called does too.
        let url = |ep| format!("{}{}", self.base, self.path_of(ep));
        let audiences = [url(Endpoint::Token), url(Endpoint::Introspection)];
        let checked = authenticate(&client, &used, &form, &audiences, &mut state.jtis, now());
        Some(checked.map(|()| {
            let claims = match used {
                ClientAuthUsed::PrivateKeyJwt(_, claims) => claims,
                _ => Value::Null,
            };
            ClientAuthSeen::PrivateKeyJwt(client.client_id.clone(), claims)
        }))
    }
}

impl FakeIdp {
    /// A provider library's layout: OpenID discovery without introspection and
    /// revocation endpoints, an RFC 8414 document with them at `form`'s location.
    pub fn set_incomplete_discovery(&self, form: Rfc8414Form) {
        self.set_discovery_patch(
            json!({"introspection_endpoint": null, "revocation_endpoint": null}),
        );
        lock(&self.inner.state.metadata).form = Some(form);
    }

    /// Serves (or, with `None`, stops serving) the RFC 8414 document without touching
    /// discovery.
    pub fn serve_rfc8414(&self, form: Option<Rfc8414Form>) {
        lock(&self.inner.state.metadata).form = form;
    }

    /// Replaces fields of the RFC 8414 document (`null` removes), e.g. another `issuer`.
    pub fn set_rfc8414_patch(&self, patch: Value) {
        lock(&self.inner.state.metadata).patch = Some(patch);
    }

    /// From now on introspection accepts only a `private_key_jwt` assertion of
    /// `client_id` signed with `key`: iss = sub = client_id, aud = the token or the
    /// introspection endpoint, a short future `exp`, a `jti` never seen before.
    pub fn require_introspection_assertion(&self, client_id: &str, key: ClientPublicKey) {
        lock(&self.inner.state.metadata).assertion_client = Some(FlowClient {
            client_id: client_id.to_owned(),
            auth: ClientAuthMethod::PrivateKeyJwt(key),
            redirect_uri: String::new(),
        });
    }
}
