//! The test-facing controls of a FakeIdp: token/userinfo/code registries, recorded
//! requests, hit counters, failure modes and gates. Signing lives in `mod.rs` and
//! `hostile.rs`; the server side only reads what these methods write.

use std::time::Duration;

use serde_json::Value;

use super::state::{lock, ClientAuthSeen, Endpoint, Mode};
use super::{random_hex, FakeIdp};

impl FakeIdp {
    /// Registers an opaque reference token; introspection returns `response` verbatim
    /// (so include `"active": true`, or test `"active": "true"`). Unknown → `{"active":false}`.
    pub fn add_reference_token(&self, token: &str, response: Value) {
        lock(&self.inner.state.reference_tokens).insert(token.to_owned(), response);
    }

    /// Registers `response` under a fresh random opaque token and returns the token.
    pub fn new_reference_token(&self, response: Value) -> String {
        let token = random_hex(24);
        self.add_reference_token(&token, response);
        token
    }

    /// Registers the userinfo answer for a bearer token. Unregistered JWTs get their own
    /// payload minus bookkeeping claims; anything else gets 401.
    pub fn add_userinfo(&self, token: &str, claims: Value) {
        lock(&self.inner.state.userinfo).insert(token.to_owned(), claims);
    }

    /// Registers the token endpoint's answer to `grant_type=authorization_code&code=…`.
    pub fn add_code(&self, code: &str, response: Value) {
        let key = format!("code:{code}");
        lock(&self.inner.state.token_responses).insert(key, response);
    }

    /// Registers the token endpoint's answer to `grant_type=refresh_token&refresh_token=…`.
    pub fn add_refresh_token(&self, refresh_token: &str, response: Value) {
        let key = format!("refresh:{refresh_token}");
        lock(&self.inner.state.token_responses).insert(key, response);
    }

    /// `(token, token_type_hint)` of every revocation request so far.
    pub fn revoked(&self) -> Vec<(String, Option<String>)> {
        lock(&self.inner.state.revoked).clone()
    }

    /// The last query string (authorize, end_session) or form body (token) received.
    pub fn last_request(&self, ep: Endpoint) -> Option<String> {
        lock(&self.inner.state.last_query).get(&ep).cloned()
    }

    /// How the last introspection call authenticated.
    pub fn last_introspection_auth(&self) -> Option<ClientAuthSeen> {
        lock(&self.inner.state.last_introspection_auth).clone()
    }

    /// Requests received by `ep` so far (counted on arrival, before gates and modes).
    pub fn hits(&self, ep: Endpoint) -> u64 {
        self.inner.state.hits(ep)
    }

    /// Sets every counter back to zero.
    pub fn reset_hits(&self) {
        self.inner.state.reset_hits();
    }

    /// Waits (up to 10 s) until `ep` has seen at least `n` requests; false on timeout.
    pub async fn wait_for_hits(&self, ep: Endpoint, n: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.hits(ep) < n {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Switches how `ep` answers from now on.
    pub fn set_mode(&self, ep: Endpoint, mode: Mode) {
        self.inner.state.set_mode(ep, mode);
    }

    /// Switches every endpoint at once (e.g. `Mode::Down` for "the IdP is down").
    pub fn set_all_modes(&self, mode: Mode) {
        for ep in Endpoint::ALL {
            self.set_mode(ep, mode);
        }
    }

    /// Holds `ep`'s responses (requests are counted, then wait) until [`FakeIdp::release`].
    pub fn hold(&self, ep: Endpoint) {
        self.inner.state.set_held(ep, true);
    }

    /// Lets held and future requests to `ep` through.
    pub fn release(&self, ep: Endpoint) {
        self.inner.state.set_held(ep, false);
    }
}
