//! The provider's userinfo endpoint: fetching a token's claims (JSON only), with a short
//! per-token cache and coalescing, and a cap on the uncached calls bearer requests cause.
//! Must never cache a failure, never accept a non-JSON (e.g. signed) answer, and never log
//! the access token.

use std::sync::Arc;
use std::time::Instant;

use super::USERINFO_TTL;

use super::ProviderRuntime;
use crate::auth::{AuthError, Claims};
use crate::idp::limit::Throttled;
use crate::idp::observe::IdpCall;

/// A userinfo answer as cached: the claims, and until when the cache serves them.
#[derive(Debug, Clone)]
pub struct UserinfoAnswer {
    /// The claims (the caller checks `sub`).
    pub claims: Arc<Claims>,
    /// The end of the answer's life in the cache (fetched + its TTL): whoever keeps what
    /// it derived from the answer keeps it no longer.
    pub until: Instant,
}

/// Userinfo failures shared among coalesced waiters (never cached).
#[derive(Debug, Clone)]
enum UserinfoFailure {
    Rejected,
    Unavailable(String),
    Throttled(Throttled),
}

impl ProviderRuntime {
    /// The userinfo claims for `access_token` (GET with Bearer, JSON only; cached per token
    /// for a minute; concurrent calls coalesced). The caller must check that `sub` equals
    /// the token's `sub`. 401/403 → [`AuthError::InvalidToken`]; other failures →
    /// [`AuthError::IdpUnavailable`]; failures are never cached.
    pub async fn userinfo(&self, access_token: &str) -> Result<Arc<Claims>, AuthError> {
        self.userinfo_with(access_token, false)
            .await
            .map(|a| a.claims)
    }

    /// [`Self::userinfo`] for completing a bearer request's principal: an uncached call
    /// counts against `tokens.userinfo_rate_limit`, and past it the answer is
    /// [`AuthError::IdpThrottled`] without a call. (Logins are not capped: each one already
    /// cost the provider a whole authorization-code flow.)
    pub async fn userinfo_for_bearer(
        &self,
        access_token: &str,
    ) -> Result<UserinfoAnswer, AuthError> {
        self.userinfo_with(access_token, true).await
    }

    async fn userinfo_with(
        &self,
        access_token: &str,
        capped: bool,
    ) -> Result<UserinfoAnswer, AuthError> {
        let Some(discovered) = self.discovered.load_full() else {
            return Err(AuthError::IdpUnavailable(format!(
                "provider `{}` not discovered yet",
                self.name
            )));
        };
        let Some(endpoint) = discovered.metadata.userinfo_endpoint.as_deref() else {
            return Err(AuthError::IdpUnavailable(format!(
                "provider `{}` has no userinfo endpoint",
                self.name
            )));
        };
        let fetch = async {
            let _permit = if capped {
                Some(self.userinfo_limiter.try_acquire().map_err(|t| {
                    self.observer.idp_throttled(&self.name, IdpCall::Userinfo);
                    UserinfoFailure::Throttled(t)
                })?)
            } else {
                None
            };
            let claims = self.fetch_userinfo(endpoint, access_token).await?;
            Ok(UserinfoAnswer {
                claims,
                until: Instant::now() + USERINFO_TTL,
            })
        };
        self.userinfo
            .try_get_with_by_ref(access_token, fetch)
            .await
            .map_err(|e| match &*e {
                UserinfoFailure::Rejected => {
                    AuthError::InvalidToken("userinfo rejected the token".into())
                }
                UserinfoFailure::Unavailable(m) => AuthError::IdpUnavailable(m.clone()),
                UserinfoFailure::Throttled(t) => AuthError::IdpThrottled(t.retry_after_secs()),
            })
    }

    async fn fetch_userinfo(
        &self,
        endpoint: &str,
        token: &str,
    ) -> Result<Arc<Claims>, UserinfoFailure> {
        let started = Instant::now();
        let result = self
            .client
            .get_bearer(endpoint, "application/json", token)
            .await;
        let outcome = match result {
            Err(e) => Err(UserinfoFailure::Unavailable(format!("userinfo: {e}"))),
            Ok(r)
                if r.status == http::StatusCode::UNAUTHORIZED
                    || r.status == http::StatusCode::FORBIDDEN =>
            {
                Err(UserinfoFailure::Rejected)
            }
            Ok(r) if !r.status.is_success() => Err(UserinfoFailure::Unavailable(format!(
                "userinfo answered {}",
                r.status.as_u16()
            ))),
            Ok(r) if !r.is_json() => Err(UserinfoFailure::Unavailable(
                "userinfo is not JSON (signed userinfo is not supported)".into(),
            )),
            Ok(r) => serde_json::from_slice::<Claims>(&r.body)
                .map(Arc::new)
                .map_err(|_| UserinfoFailure::Unavailable("userinfo is not a JSON object".into())),
        };
        let ok = !matches!(outcome, Err(UserinfoFailure::Unavailable(_)));
        self.observer
            .idp_call(&self.name, IdpCall::Userinfo, started.elapsed(), ok);
        outcome
    }
}
