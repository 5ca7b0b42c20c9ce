//! FakeIdp's authorization-code flow state and its test-facing controls: the registered
//! client, the user that `/connect/authorize` auto-approves, switches that make the
//! provider misbehave on purpose (wrong `iss`/nonce, refused PKCE, failing refresh…), and
//! everything recorded for assertions (authorize requests, token calls, issued tokens,
//! revocations, end_session calls). The handlers live in `flow_server.rs`.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::client_auth::{ClientAuthMethod, ClientAuthUsed, FlowClient};
use super::state::lock;
use super::FakeIdp;

/// Parsed form or query parameters, in order (duplicates kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` (also a query string).
    pub fn parse(raw: &[u8]) -> Params {
        Params(super::server::parse_form(raw))
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// How many times `key` occurs.
    pub fn count(&self, key: &str) -> usize {
        self.0.iter().filter(|(k, _)| k == key).count()
    }
}

/// A token-endpoint grant type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
    /// Anything else (or missing).
    Other,
}

impl Grant {
    pub(crate) fn of(form: &Params) -> Grant {
        match form.get("grant_type") {
            Some("authorization_code") => Grant::AuthorizationCode,
            Some("refresh_token") => Grant::RefreshToken,
            _ => Grant::Other,
        }
    }
}

/// One request to the token endpoint that the code flow handled.
#[derive(Debug, Clone)]
pub struct TokenCall {
    /// Its grant type.
    pub grant: Grant,
    /// The form body.
    pub form: Params,
    /// The client authentication it presented.
    pub auth: ClientAuthUsed,
    /// The status answered.
    pub status: u16,
    /// `error` and `error_description` when refused.
    pub error: Option<(String, String)>,
}

/// Tokens the token endpoint handed out.
#[derive(Debug, Clone)]
pub struct Issued {
    /// For which grant.
    pub grant: Grant,
    /// The user.
    pub sub: String,
    /// `access_token`.
    pub access_token: String,
    /// `id_token`.
    pub id_token: Option<String>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// Unix time at which the access token expires (`iat` + `expires_in`).
    pub expires_at: u64,
}

/// One revocation request.
#[derive(Debug, Clone)]
pub struct RevocationCall {
    /// `token`.
    pub token: String,
    /// `token_type_hint`.
    pub token_type_hint: Option<String>,
    /// The client authentication it presented.
    pub auth: ClientAuthUsed,
    /// The status answered.
    pub status: u16,
}

/// An authorization code handed out by `/connect/authorize`.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: String,
    pub(crate) nonce: String,
    pub(crate) sub: String,
    pub(crate) claims: Value,
    pub(crate) scope: String,
    pub(crate) used: bool,
}

/// A live refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) sub: String,
    pub(crate) claims: Value,
    pub(crate) scope: String,
    pub(crate) used: bool,
}

/// Everything the code flow keeps; one mutex in [`super::state::State`].
pub(crate) struct Flow {
    pub(crate) client: Option<FlowClient>,
    pub(crate) user: Option<(String, Value)>,
    pub(crate) authorize_iss: Option<String>,
    pub(crate) authorize_error: Option<String>,
    pub(crate) tamper_pkce: bool,
    pub(crate) wrong_nonce: bool,
    pub(crate) omit_preferred_username: bool,
    pub(crate) id_token_patch: Value,
    pub(crate) userinfo_patch: Value,
    pub(crate) expires_in: u64,
    pub(crate) rotate_refresh: bool,
    pub(crate) refresh_error: Option<String>,
    pub(crate) opaque_access_tokens: bool,
    /// `token_type` of token responses; `None` leaves the member out.
    pub(crate) token_type: Option<String>,
    pub(crate) codes: HashMap<String, Code>,
    pub(crate) refresh: HashMap<String, RefreshGrant>,
    pub(crate) jtis: HashSet<String>,
    pub(crate) authorizations: Vec<Params>,
    pub(crate) rejections: Vec<(String, Params)>,
    pub(crate) token_calls: Vec<TokenCall>,
    pub(crate) issued: Vec<Issued>,
    pub(crate) revocations: Vec<RevocationCall>,
    pub(crate) end_sessions: Vec<Params>,
    pub(crate) post_logout_uris: Option<Vec<String>>,
}

impl Default for Flow {
    fn default() -> Self {
        Flow {
            client: None,
            user: None,
            authorize_iss: None,
            authorize_error: None,
            tamper_pkce: false,
            wrong_nonce: false,
            omit_preferred_username: false,
            id_token_patch: Value::Null,
            userinfo_patch: Value::Null,
            expires_in: 300,
            rotate_refresh: true,
            refresh_error: None,
            opaque_access_tokens: false,
            token_type: Some("Bearer".into()),
            codes: HashMap::new(),
            refresh: HashMap::new(),
            jtis: HashSet::new(),
            authorizations: Vec::new(),
            rejections: Vec::new(),
            token_calls: Vec::new(),
            issued: Vec::new(),
            revocations: Vec::new(),
            end_sessions: Vec::new(),
            post_logout_uris: None,
        }
    }
}

impl FakeIdp {
    fn flow(&self) -> std::sync::MutexGuard<'_, Flow> {
        lock(&self.inner.state.flow)
    }

    /// Registers the one code-flow client (replacing any previous one).
    pub fn register_client(&self, client_id: &str, auth: ClientAuthMethod, redirect_uri: &str) {
        self.flow().client = Some(FlowClient {
            client_id: client_id.to_owned(),
            auth,
            redirect_uri: redirect_uri.to_owned(),
        });
    }

    /// Changes the registered client's `redirect_uri`.
    pub fn set_redirect_uri(&self, redirect_uri: &str) {
        let mut flow = self.flow();
        let client = flow.client.as_mut().expect("register_client first");
        client.redirect_uri = redirect_uri.to_owned();
    }

    /// The user `/connect/authorize` signs in without asking: `sub` and the claims its ID
    /// token and userinfo carry (e.g. `preferred_username`, `email`, `groups`).
    pub fn set_login_user(&self, sub: &str, claims: Value) {
        self.flow().user = Some((sub.to_owned(), claims));
    }

    /// RFC 9207: add `iss=<value>` to authorization responses (`None`: no `iss`).
    pub fn set_authorize_iss(&self, iss: Option<&str>) {
        self.flow().authorize_iss = iss.map(str::to_owned);
    }

    /// Answer authorization requests with `error=<e>` (e.g. `access_denied`).
    pub fn set_authorize_error(&self, error: Option<&str>) {
        self.flow().authorize_error = error.map(str::to_owned);
    }

    /// Store a challenge no verifier matches, so the code exchange fails PKCE.
    pub fn set_tamper_pkce(&self, on: bool) {
        self.flow().tamper_pkce = on;
    }

    /// Put a nonce into ID tokens that is not the one of the authorization request.
    pub fn set_wrong_nonce(&self, on: bool) {
        self.flow().wrong_nonce = on;
    }

    /// Leave `preferred_username` out of ID tokens (userinfo still has it).
    pub fn set_omit_preferred_username(&self, on: bool) {
        self.flow().omit_preferred_username = on;
    }

    /// Merged into every ID token's claims (`null` removes a claim).
    pub fn set_id_token_patch(&self, patch: Value) {
        self.flow().id_token_patch = patch;
    }

    /// Merged into the userinfo of every access token issued from now on.
    pub fn set_userinfo_patch(&self, patch: Value) {
        self.flow().userinfo_patch = patch;
    }

    /// `token_type` of token responses from now on (default `Bearer`); `None` leaves it
    /// out (RFC 6749 §5.1 requires it).
    pub fn set_token_type(&self, token_type: Option<&str>) {
        self.flow().token_type = token_type.map(str::to_owned);
    }

    /// `expires_in` of access tokens issued from now on (default 300).
    pub fn set_token_lifetime(&self, secs: u64) {
        self.flow().expires_in = secs;
    }

    /// Rotate refresh tokens (default: a used one is invalid afterwards) or reuse them.
    pub fn set_refresh_rotation(&self, rotate: bool) {
        self.flow().rotate_refresh = rotate;
    }

    /// Refuse every refresh with this OAuth error (e.g. `invalid_grant`); `None`: normal.
    pub fn set_refresh_error(&self, error: Option<&str>) {
        self.flow().refresh_error = error.map(str::to_owned);
    }

    /// Issue opaque access tokens instead of JWTs.
    pub fn set_opaque_access_tokens(&self, on: bool) {
        self.flow().opaque_access_tokens = on;
    }

    /// Like IdentityServer or oidc-provider: end_session refuses (400) any
    /// `post_logout_redirect_uri` not in `uris` (compared exactly). `None`: anything goes.
    pub fn set_post_logout_redirect_uris(&self, uris: Option<Vec<String>>) {
        self.flow().post_logout_uris = uris;
    }

    /// Every authorization request received, in order.
    pub fn authorizations(&self) -> Vec<Params> {
        self.flow().authorizations.clone()
    }

    /// The last authorization request.
    pub fn last_authorization(&self) -> Option<Params> {
        self.flow().authorizations.last().cloned()
    }

    /// Authorization requests refused as malformed: (reason, request).
    pub fn authorize_rejections(&self) -> Vec<(String, Params)> {
        self.flow().rejections.clone()
    }

    /// Every token call the code flow handled, in order.
    pub fn token_calls(&self) -> Vec<TokenCall> {
        self.flow().token_calls.clone()
    }

    /// How many token calls of `grant` arrived (refused ones included).
    pub fn token_count(&self, grant: Grant) -> usize {
        self.flow()
            .token_calls
            .iter()
            .filter(|c| c.grant == grant)
            .count()
    }

    /// Tokens handed out, in order.
    pub fn issued(&self) -> Vec<Issued> {
        self.flow().issued.clone()
    }

    /// The most recently issued tokens.
    pub fn last_issued(&self) -> Option<Issued> {
        self.flow().issued.last().cloned()
    }

    /// Every revocation request with its client authentication, in order.
    pub fn revocations(&self) -> Vec<RevocationCall> {
        self.flow().revocations.clone()
    }

    /// Every end_session request's query, in order.
    pub fn end_sessions(&self) -> Vec<Params> {
        self.flow().end_sessions.clone()
    }
}
