//! The guards around an introspection call, kept apart from the HTTP exchange
//! (`introspect.rs`): the token's shape before any call, the cap on uncached calls, and
//! what an answer must say to count as an active access token of this provider.

use std::sync::Arc;

use serde_json::Value;

use super::{Entry, Introspector, MissFailure, Verdict};
use crate::auth::credentials::{is_token68, TokenHash};
use crate::auth::verified::Verified;
use crate::auth::{AuthError, Claims};
use crate::idp::observe::IdpCall;

/// The answer fields in which providers say what kind of token they looked at: RFC 7662
/// `token_type`, Ory's and Cognito's `token_use`, Keycloak's `typ` (`Refresh`, `ID`).
const TOKEN_TYPE_FIELDS: [&str; 3] = ["token_type", "token_use", "typ"];

impl Introspector {
    /// What an active answer must say to be an active access token of this provider:
    /// its token type, `exp`/`nbf` within the leeway, our `iss`, one of our audiences.
    pub(super) fn judge(&self, body: Claims, now: f64) -> Verdict {
        if body.get("active") != Some(&Value::Bool(true)) {
            return Verdict::Inactive("inactive (introspection)");
        }
        if let Err(reason) = self.check_token_type(&body) {
            return Verdict::Inactive(reason);
        }
        let leeway = self.rules.leeway.as_secs_f64();
        let exp = match number(&body, "exp") {
            Err(reason) => return Verdict::Inactive(reason),
            Ok(Some(exp)) if now >= exp + leeway => {
                return Verdict::Inactive("expired (introspection)")
            }
            Ok(exp) => exp,
        };
        match number(&body, "nbf") {
            Err(reason) => return Verdict::Inactive(reason),
            Ok(Some(nbf)) if nbf > now + leeway => {
                return Verdict::Inactive("not yet valid (introspection)")
            }
            Ok(_) => {}
        }
        match body.get("iss") {
            None => {}
            Some(Value::String(iss)) if *iss == self.rules.issuer => {}
            Some(_) => return Verdict::Inactive("wrong iss (introspection)"),
        }
        let ours = |a: &str| a == self.cfg.client_id || self.rules.audiences.iter().any(|x| x == a);
        let aud_ok = match body.get("aud") {
            None => true,
            Some(Value::String(a)) => ours(a),
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str().is_some_and(ours)),
            Some(_) => false,
        };
        if !aud_ok {
            return Verdict::Inactive("wrong aud (introspection)");
        }
        Verdict::Active {
            verified: Arc::new(Verified::new(body)),
            exp,
        }
    }

    /// An active refresh token or ID token is still not an API credential (a refresh
    /// token lives for days): every type field present must name an allowed type
    /// (`token_types`, case-insensitive). Absent fields are accepted: RFC 7662 makes
    /// them optional, and the request said `token_type_hint=access_token`.
    fn check_token_type(&self, body: &Claims) -> Result<(), &'static str> {
        let allowed = |t: &str| {
            self.cfg
                .token_types
                .iter()
                .any(|a| a.eq_ignore_ascii_case(t))
        };
        for field in TOKEN_TYPE_FIELDS {
            match body.get(field) {
                None => {}
                Some(Value::String(t)) if allowed(t) => {}
                Some(_) => return Err("not an access token (introspection token type)"),
            }
        }
        Ok(())
    }

    /// A token that cannot be one never costs an IdP call: longer than
    /// `max_token_length`, or outside the token68 charset (RFC 7235 §2.1, what the
    /// Authorization header can carry).
    pub(super) fn check_shape(&self, token: &str) -> Result<(), AuthError> {
        if token.len() > self.cfg.max_token_length {
            return Err(AuthError::InvalidToken(
                "longer than introspection.max_token_length".into(),
            ));
        }
        if !is_token68(token) {
            return Err(AuthError::InvalidToken(
                "not a token68 value (introspection)".into(),
            ));
        }
        Ok(())
    }

    /// Judges the body of a `200` introspection answer as a call does (a JSON object,
    /// then every check of the verdict), without caching or any call: for the fuzz target.
    /// `None`: not a JSON object (the IdP failed, a 503); `Some(Err(reason))`: inactive or
    /// refused (401); `Some(Ok(_))`: an active access token of this provider.
    pub fn judge_answer(
        &self,
        body: &[u8],
        now: f64,
    ) -> Option<Result<Arc<Verified>, &'static str>> {
        let claims = serde_json::from_slice::<Claims>(body).ok()?;
        Some(match self.judge(claims, now) {
            Verdict::Active { verified, .. } => Ok(verified),
            Verdict::Inactive(reason) => Err(reason),
        })
    }

    /// The cache-miss path: an uncached call only within the provider's cap (rate and
    /// calls in flight); past it, fail closed at once. Coalesced misses of one token
    /// share one call and so one permit.
    pub(super) async fn limited_call(
        &self,
        endpoint: &str,
        token: &str,
    ) -> Result<Arc<Entry>, MissFailure> {
        // Only a miss pays for the token's SHA-256 (its form in logs).
        let hash = &TokenHash::of(token);
        let _permit = self.limiter.try_acquire().map_err(|t| {
            self.observer
                .idp_throttled(&self.provider, IdpCall::Introspection);
            tracing::debug!(provider = %self.provider, token = %hash.short(), retry_after_s = t.retry_after_secs(), "introspection capped");
            MissFailure::Throttled(t)
        })?;
        self.call(endpoint, token, hash)
            .await
            .map_err(MissFailure::Idp)
    }
}

fn number(body: &Claims, name: &str) -> Result<Option<f64>, &'static str> {
    match body.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or("time claim is not a number (introspection)"),
    }
}
