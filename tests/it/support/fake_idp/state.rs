//! FakeIdp's shared mutable state: hit counters, failure modes, gates and registries.
//!
//! Everything a test flips at run time lives here behind atomics, mutexes or watch
//! channels, so the server task and the test observe the same values without races.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

/// One endpoint of the fake provider (counters, modes and gates are per endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The discovery document.
    Discovery,
    /// The JWKS.
    Jwks,
    /// The authorization endpoint.
    Authorize,
    /// The token endpoint.
    Token,
    /// The userinfo endpoint.
    Userinfo,
    /// The RFC 7662 introspection endpoint.
    Introspection,
    /// The RFC 7009 revocation endpoint.
    Revocation,
    /// The RP-initiated logout endpoint.
    EndSession,
    /// The RFC 8414 authorization-server metadata (where [`FakeIdp::serve_rfc8414`] put it).
    Rfc8414,
    /// An attacker's key set that hostile `jku` headers point at; must never be fetched.
    AttackerJwks,
    /// Any other path (answered 404).
    Other,
}

impl Endpoint {
    /// Every endpoint, in index order.
    pub const ALL: [Endpoint; 11] = [
        Endpoint::Discovery,
        Endpoint::Jwks,
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::Userinfo,
        Endpoint::Introspection,
        Endpoint::Revocation,
        Endpoint::EndSession,
        Endpoint::Rfc8414,
        Endpoint::AttackerJwks,
        Endpoint::Other,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// How an endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Normally.
    #[default]
    Normal,
    /// The connection is closed without any response.
    Down,
    /// `503 Service Unavailable`.
    Unavailable,
    /// Normally, after this delay.
    Slow(Duration),
    /// `500` with a JSON error body.
    Error500,
    /// `200` with `Content-Type: application/json` and a body that is not JSON.
    NotJson,
    /// `401` with `{"error":"invalid_client"}`, as when the provider stops accepting the
    /// caller's client credentials (seed 001's introspection answer to a bad secret).
    Unauthorized,
    /// `429 Too Many Requests` with an OAuth-looking error body (a rate limiter).
    TooManyRequests,
    /// `404 Not Found` (e.g. a provider without OpenID discovery).
    NotFound,
}

/// How a client authenticated to the introspection endpoint (last call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthSeen {
    /// `Authorization: Basic` with these (decoded) credentials.
    Basic(String, String),
    /// `client_id` / `client_secret` in the form body.
    Post(String, String),
    /// A client assertion (RFC 7523) that verified: the form's `client_id` and its claims.
    PrivateKeyJwt(String, Value),
    /// No client authentication.
    None,
}

/// The mutable state shared between the server task and the test.
pub(crate) struct State {
    hits: [AtomicU64; Endpoint::ALL.len()],
    modes: Mutex<[Mode; Endpoint::ALL.len()]>,
    gates: [watch::Sender<bool>; Endpoint::ALL.len()],
    pub(crate) jwks_max_age: Mutex<Option<u64>>,
    pub(crate) reference_tokens: Mutex<HashMap<String, Value>>,
    pub(crate) userinfo: Mutex<HashMap<String, Value>>,
    pub(crate) token_responses: Mutex<HashMap<String, Value>>,
    pub(crate) revoked: Mutex<Vec<(String, Option<String>)>>,
    pub(crate) last_query: Mutex<HashMap<Endpoint, String>>,
    pub(crate) last_introspection_auth: Mutex<Option<ClientAuthSeen>>,
    pub(crate) metadata: Mutex<super::metadata::MetadataState>,
    pub(crate) flow: Mutex<super::flow::Flow>,
    pub(crate) exchange: super::exchange::ExchangeState,
}

impl State {
    pub(crate) fn new(jwks_max_age: Option<u64>) -> State {
        State {
            hits: std::array::from_fn(|_| AtomicU64::new(0)),
            modes: Mutex::new([Mode::Normal; Endpoint::ALL.len()]),
            gates: std::array::from_fn(|_| watch::channel(false).0),
            jwks_max_age: Mutex::new(jwks_max_age),
            reference_tokens: Mutex::default(),
            userinfo: Mutex::default(),
            token_responses: Mutex::default(),
            revoked: Mutex::default(),
            last_query: Mutex::default(),
            last_introspection_auth: Mutex::default(),
            metadata: Mutex::default(),
            flow: Mutex::default(),
            exchange: super::exchange::ExchangeState::default(),
        }
    }

    pub(crate) fn hit(&self, ep: Endpoint) {
        self.hits[ep.index()].fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn hits(&self, ep: Endpoint) -> u64 {
        self.hits[ep.index()].load(Ordering::SeqCst)
    }

    pub(crate) fn reset_hits(&self) {
        for h in &self.hits {
            h.store(0, Ordering::SeqCst);
        }
    }

    pub(crate) fn mode(&self, ep: Endpoint) -> Mode {
        lock(&self.modes)[ep.index()]
    }

    pub(crate) fn set_mode(&self, ep: Endpoint, mode: Mode) {
        lock(&self.modes)[ep.index()] = mode;
    }

    /// Closes (`true`) or opens (`false`) the gate in front of `ep`'s responses.
    pub(crate) fn set_held(&self, ep: Endpoint, held: bool) {
        self.gates[ep.index()].send_replace(held);
    }

    /// Waits while the gate in front of `ep` is closed.
    pub(crate) async fn pass_gate(&self, ep: Endpoint) {
        let mut rx = self.gates[ep.index()].subscribe();
        // The sender lives as long as `self`, so `wait_for` cannot fail here.
        let _ = rx.wait_for(|held| !*held).await;
    }
}

/// Locks a test mutex; a poisoned lock only means another test thread panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
