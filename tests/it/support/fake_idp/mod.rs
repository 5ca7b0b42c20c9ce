//! FakeIdp: an in-process OpenID provider on 127.0.0.1:0 for integration tests.
//!
//! Serves discovery (configurable path), a JWKS with an RSA and an EC key (rotatable),
//! authorize, token, userinfo, introspection (client authentication checked), revocation
//! and end_session; counts hits per endpoint; lets tests switch each endpoint into a
//! failure mode or hold its responses behind a gate. Signs good tokens (`sign*`) and
//! builds hostile ones (`hostile.rs`). The authorization-code flow (`flow*.rs`,
//! `client_auth.rs`) auto-approves a chosen user and checks client authentication, PKCE,
//! one-time codes and refresh rotation strictly; `exchange.rs` adds the RFC 8693
//! token-exchange grant. Test support only: it panics on misuse.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod client_auth;
mod control;
mod exchange;
mod flow;
mod flow_server;
#[cfg(test)]
mod flow_tests;
mod hostile;
mod keys;
mod metadata;
mod server;
mod state;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

// Re-exported for the tests that use the FakeIdp; not every test binary uses all.
#[allow(unused_imports)]
pub use client_auth::{ClientAuthMethod, ClientAuthUsed, ClientKey, ClientPublicKey};
#[allow(unused_imports)]
pub use exchange::ExchangeCall;
#[allow(unused_imports)]
pub use flow::{Grant, Issued, Params, RevocationCall, TokenCall};
#[allow(unused_imports)]
pub use hostile::PublicKeyBytes;
#[allow(unused_imports)]
pub use keys::{b64url, compact, random_hex, RawSigner};
#[allow(unused_imports)]
pub use metadata::Rfc8414Form;
pub use state::{ClientAuthSeen, Endpoint, Mode};

use keys::{EcKey, RsaKey};
use state::{lock, State};

/// How a FakeIdp is laid out and what it accepts.
#[derive(Debug, Clone)]
pub struct FakeIdpOptions {
    /// Path appended to `http://127.0.0.1:PORT` to form the issuer (`""` or `/authentication`).
    pub issuer_path: String,
    /// Discovery path; `None` = issuer path + `/.well-known/openid-configuration`.
    pub discovery_path: Option<String>,
    /// `Cache-Control: max-age` of the JWKS; `None` sends no Cache-Control.
    pub jwks_max_age: Option<u64>,
    /// API resource id accepted by the introspection endpoint.
    pub resource_id: String,
    /// Its secret.
    pub resource_secret: String,
    /// Whether introspection also accepts `client_secret_post`.
    pub allow_client_secret_post: bool,
    /// `id_token_signing_alg_values_supported`.
    pub signing_algs: Vec<String>,
}

impl Default for FakeIdpOptions {
    fn default() -> Self {
        FakeIdpOptions {
            issuer_path: String::new(),
            discovery_path: None,
            jwks_max_age: Some(3600),
            resource_id: "api1".into(),
            resource_secret: "api1-secret".into(),
            allow_client_secret_post: true,
            signing_algs: vec!["RS256".into(), "ES256".into()],
        }
    }
}

impl FakeIdpOptions {
    /// Seed 000 style: issuer `/authentication`, discovery at
    /// `/authentication/.well-known/oidc-configuration`, RS256 only.
    pub fn teamwork() -> Self {
        FakeIdpOptions {
            issuer_path: "/authentication".into(),
            discovery_path: Some("/authentication/.well-known/oidc-configuration".into()),
            signing_algs: vec!["RS256".into()],
            ..FakeIdpOptions::default()
        }
    }
}

/// Signing keys: every RSA key ever generated (the last one is current and the only one
/// published) and the EC key.
pub(crate) struct KeyStore {
    rsa: Vec<RsaKey>,
    ec: EcKey,
}

/// Shared by the test-facing handle and the server task.
pub(crate) struct Inner {
    pub(crate) state: State,
    pub(crate) opts: FakeIdpOptions,
    base: String,
    keys: Mutex<KeyStore>,
    attacker: OnceLock<RsaKey>,
    discovery_patch: Mutex<Value>,
}

impl Inner {
    fn issuer(&self) -> String {
        format!("{}{}", self.base, self.opts.issuer_path)
    }

    fn discovery_path(&self) -> String {
        self.opts.discovery_path.clone().unwrap_or_else(|| {
            format!("{}/.well-known/openid-configuration", self.opts.issuer_path)
        })
    }

    fn path_of(&self, ep: Endpoint) -> String {
        let p = &self.opts.issuer_path;
        match ep {
            Endpoint::Discovery => self.discovery_path(),
            Endpoint::Jwks => format!("{p}/jwks.json"),
            Endpoint::Authorize => format!("{p}/connect/authorize"),
            Endpoint::Token => format!("{p}/connect/token"),
            Endpoint::Userinfo => format!("{p}/connect/userinfo"),
            Endpoint::Introspection => format!("{p}/connect/introspect"),
            Endpoint::Revocation => format!("{p}/connect/revocation"),
            Endpoint::EndSession => format!("{p}/connect/endsession"),
            Endpoint::Rfc8414 => self.rfc8414_path(),
            Endpoint::AttackerJwks => "/attacker/jwks.json".into(),
            Endpoint::Other => "/not-an-endpoint".into(),
        }
    }

    pub(crate) fn classify(&self, path: &str) -> Endpoint {
        Endpoint::ALL
            .into_iter()
            .find(|ep| *ep != Endpoint::Other && self.path_of(*ep) == path)
            .unwrap_or(Endpoint::Other)
    }

    pub(crate) fn discovery(&self) -> Value {
        let url = |ep| format!("{}{}", self.base, self.path_of(ep));
        let mut doc = json!({
            "issuer": self.issuer(),
            "authorization_endpoint": url(Endpoint::Authorize),
            "token_endpoint": url(Endpoint::Token),
            "userinfo_endpoint": url(Endpoint::Userinfo),
            "jwks_uri": url(Endpoint::Jwks),
            "introspection_endpoint": url(Endpoint::Introspection),
            "revocation_endpoint": url(Endpoint::Revocation),
            "end_session_endpoint": url(Endpoint::EndSession),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "id_token_signing_alg_values_supported": self.opts.signing_algs,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                      "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        });
        if let (Value::Object(d), Value::Object(patch)) = (&mut doc, &*lock(&self.discovery_patch))
        {
            for (k, v) in patch {
                match v {
                    Value::Null => d.remove(k),
                    v => d.insert(k.clone(), v.clone()),
                };
            }
        }
        doc
    }

    pub(crate) fn jwks(&self) -> Value {
        let keys = lock(&self.keys);
        let current = keys.rsa.last().expect("an RSA key");
        json!({"keys": [current.jwk(), keys.ec.jwk()]})
    }

    pub(crate) fn attacker(&self) -> &RsaKey {
        self.attacker
            .get_or_init(|| RsaKey::generate(format!("attacker-{}", random_hex(4))))
    }
}

/// A running fake identity provider; stops when dropped.
pub struct FakeIdp {
    inner: Arc<Inner>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

impl FakeIdp {
    /// Starts a provider with default options.
    pub async fn start() -> FakeIdp {
        FakeIdp::start_with(FakeIdpOptions::default()).await
    }

    /// Starts a provider laid out as `opts` says.
    pub async fn start_with(opts: FakeIdpOptions) -> FakeIdp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let keys = KeyStore {
            rsa: vec![RsaKey::generate(format!("rsa-{}", random_hex(4)))],
            ec: EcKey::generate(format!("ec-{}", random_hex(4))),
        };
        let inner = Arc::new(Inner {
            state: State::new(opts.jwks_max_age),
            opts,
            base: format!("http://{addr}"),
            keys: Mutex::new(keys),
            attacker: OnceLock::new(),
            discovery_patch: Mutex::new(json!({})),
        });
        let task = tokio::spawn(server::serve(listener, inner.clone()));
        FakeIdp { inner, addr, task }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + issuer path: what tokens carry in `iss`.
    pub fn issuer(&self) -> String {
        self.inner.issuer()
    }

    /// The absolute URL of an endpoint (`url(Endpoint::Discovery)` = the discovery URL).
    pub fn url(&self, ep: Endpoint) -> String {
        format!("{}{}", self.inner.base, self.inner.path_of(ep))
    }

    /// The discovery document's URL.
    pub fn discovery_url(&self) -> String {
        self.url(Endpoint::Discovery)
    }

    /// The introspection client id and secret this provider accepts.
    pub fn resource_credentials(&self) -> (String, String) {
        let o = &self.inner.opts;
        (o.resource_id.clone(), o.resource_secret.clone())
    }

    /// Overrides discovery fields from now on (a `null` value removes the field), e.g.
    /// `{"issuer": "https://other"}` or `{"introspection_endpoint": null}`.
    pub fn set_discovery_patch(&self, patch: Value) {
        *lock(&self.inner.discovery_patch) = patch;
    }

    /// The current RSA `kid`.
    pub fn kid(&self) -> String {
        lock(&self.inner.keys)
            .rsa
            .last()
            .expect("an RSA key")
            .kid
            .clone()
    }

    /// The EC key's `kid`.
    pub fn es_kid(&self) -> String {
        lock(&self.inner.keys).ec.kid.clone()
    }

    /// Publishes a new RSA key (new kid) in place of the current one; returns the new kid.
    /// Tokens can still be signed with retired keys via [`FakeIdp::sign_with_kid`].
    pub fn rotate(&self) -> String {
        let key = RsaKey::generate(format!("rsa-{}", random_hex(4)));
        let kid = key.kid.clone();
        lock(&self.inner.keys).rsa.push(key);
        kid
    }

    /// Sets the JWKS `Cache-Control: max-age` (`None`: no header).
    pub fn set_jwks_max_age(&self, secs: Option<u64>) {
        *lock(&self.inner.state.jwks_max_age) = secs;
    }

    /// Standard claims: `iss` (this issuer), `sub`, `aud` (string or array), `iat` = now,
    /// `exp` = now + 300; then `extra`'s fields are merged in (a `null` removes a field).
    pub fn claims_for(&self, sub: &str, aud: impl Into<Value>, extra: Value) -> Value {
        let t = now();
        let mut c = json!({"iss": self.issuer(), "sub": sub, "aud": aud.into(),
                           "iat": t, "exp": t + 300});
        merge(&mut c, extra);
        c
    }

    /// RS256 with the current key (`kid` and `typ: JWT` set).
    pub fn sign(&self, claims: Value) -> String {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(self.kid());
        self.sign_with_header(h, claims)
    }

    /// ES256 with the EC key.
    pub fn sign_es256(&self, claims: Value) -> String {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        h.kid = Some(self.es_kid());
        self.sign_with_header(h, claims)
    }

    /// Signs with the header as given: RS*/PS* with the current RSA key, ES256 with the EC
    /// key (the header's `kid` is not changed, so it may name any key or none).
    pub fn sign_with_header(&self, header: jsonwebtoken::Header, claims: Value) -> String {
        use jsonwebtoken::AlgorithmFamily;
        let keys = lock(&self.inner.keys);
        let key = match header.alg.family() {
            AlgorithmFamily::Rsa => keys.rsa.last().expect("an RSA key").encoding_key(),
            AlgorithmFamily::Ec => keys.ec.encoding_key(),
            other => panic!("FakeIdp has no {other:?} key; use the hostile helpers"),
        };
        jsonwebtoken::encode(&header, &claims, &key).expect("sign")
    }

    /// RS256 with any RSA key this provider ever had (current or retired), kid = `kid`.
    pub fn sign_with_kid(&self, kid: &str, claims: Value) -> String {
        let keys = lock(&self.inner.keys);
        let key = keys.rsa.iter().find(|k| k.kid == kid).expect("a known kid");
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&h, &claims, &key.encoding_key()).expect("sign")
    }
}

/// Shallow merge: `patch`'s fields replace `target`'s; `null` removes.
fn merge(target: &mut Value, patch: Value) {
    if let (Value::Object(t), Value::Object(p)) = (target, patch) {
        for (k, v) in p {
            if v.is_null() {
                t.remove(&k);
            } else {
                t.insert(k, v);
            }
        }
    }
}
