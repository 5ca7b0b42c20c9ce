//! A decoded session as the stores' caches share it between requests: the session, its
//! access token ready to pass on, and the [`Principal`] built from it once.
//!
//! A browser sends the same session on every request; decoding it (decrypting, parsing
//! JSON) and turning it into a principal each time is most of a session route's cost.
//! What is shared here is immutable: a request that must change its session (touch,
//! refresh, re-seal) works on a copy and saves that. Liveness is never cached: callers
//! check `is_live` at their own `now` on every use.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::codec::SessionData;
use crate::auth::principal::Principal;

/// A decoded session, shared by the requests that present it.
#[derive(Debug)]
pub struct SharedSession {
    data: SessionData,
    /// The access token as the identity phase passes it on, copied once.
    access_token: Option<Arc<str>>,
    /// Built on first use, with the provider position it was built for (a reload may
    /// keep a store's cache while moving providers around).
    principal: OnceLock<(usize, Arc<Principal>)>,
}

impl SharedSession {
    /// Wraps a decoded session.
    pub fn new(data: SessionData) -> Arc<SharedSession> {
        Arc::new(SharedSession {
            access_token: data.access_token.as_deref().map(Arc::from),
            data,
            principal: OnceLock::new(),
        })
    }

    /// The session.
    pub fn data(&self) -> &SessionData {
        &self.data
    }

    /// The access token, shared (no copy per request).
    pub fn access_token(&self) -> Option<Arc<str>> {
        self.access_token.clone()
    }

    /// The session itself: moved out when this was the last reference, else copied.
    pub fn into_data(self: Arc<Self>) -> SessionData {
        match Arc::try_unwrap(self) {
            Ok(shared) => shared.data,
            Err(shared) => shared.data.clone(),
        }
    }

    /// The principal of this session for the provider at `provider`: built once, shared
    /// afterwards.
    pub fn principal(&self, provider: usize) -> Arc<Principal> {
        if let Some((built_for, principal)) = self.principal.get() {
            if *built_for == provider {
                return principal.clone();
            }
        }
        let principal = Arc::new(principal_of(&self.data, provider));
        // A concurrent first use may have set it meanwhile: both are the same.
        let _ = self.principal.set((provider, principal.clone()));
        principal
    }
}

/// Two shared sessions are equal when their sessions are (the principal is derived).
impl PartialEq for SharedSession {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

/// The principal a session stands for (scopes from its kept `scope` claim).
pub fn principal_of(data: &SessionData, provider: usize) -> Principal {
    let scopes = match data.claims.get("scope") {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    Principal {
        subject: data.subject.clone(),
        username: data.username.clone(),
        email: data.email.clone(),
        groups: data.groups.clone(),
        scopes,
        claims: Arc::new(data.claims.clone()),
        provider,
        rendered: Default::default(),
        asserted: Default::default(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn data() -> SessionData {
        let Value::Object(claims) = serde_json::json!({"scope": "openid api.read"}) else {
            panic!("object")
        };
        SessionData {
            subject: "u1".into(),
            username: Some("alice".into()),
            email: None,
            groups: vec!["g".into()],
            claims,
            id_token: None,
            access_token: Some("at-1".into()),
            access_token_expires_at: None,
            refresh_token: None,
            provider: "idp".into(),
            sid: None,
            created_at: 1,
            last_seen_at: 1,
        }
    }

    #[test]
    fn the_principal_is_built_once_per_provider_position() {
        let s = SharedSession::new(data());
        let first = s.principal(0);
        assert!(Arc::ptr_eq(&first, &s.principal(0)), "built once");
        assert_eq!(first.username.as_deref(), Some("alice"));
        assert_eq!(first.scopes, ["openid", "api.read"]);
        assert_eq!(s.principal(3).provider, 3, "another position: built for it");
        assert_eq!(s.access_token().as_deref(), Some("at-1"));
    }

    #[test]
    fn into_data_copies_only_when_shared() {
        let s = SharedSession::new(data());
        let other = s.clone();
        assert_eq!(s.into_data(), data());
        assert_eq!(other.into_data(), data());
    }
}
