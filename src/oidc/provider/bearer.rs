//! A provider's answer to "is this bearer token good here?": JWT-shaped tokens verified
//! locally against its JWKS (refetched once for an unknown `kid`), reference tokens
//! introspected, `jwt_fallback` between the two, and the verified-token caches in front.
//! Must never pass a token issued elsewhere (the issuer is checked before any key
//! refetch) and never log a token (only its short hash).

use std::sync::Arc;

use super::{Discovered, ProviderRuntime};
use crate::auth::credentials::TokenHash;
use crate::auth::jwks::{JwksError, KeyMiss};
use crate::auth::jwt::{self, JwtError, VerifiedToken};
use crate::auth::verified::Verified;
use crate::auth::{AuthError, Claims};
use crate::idp::observe::TokenCache;

impl ProviderRuntime {
    /// Authenticates a bearer token: JWT-shaped tokens are validated locally (and, with
    /// `jwt_fallback`, introspected when no local key fits); other tokens are introspected
    /// when configured, else refused. Before discovery → [`AuthError::IdpUnavailable`].
    pub async fn authenticate_token(&self, token: &str) -> Result<Arc<Claims>, AuthError> {
        self.authenticate(token).await.map(|v| v.claims.clone())
    }

    /// [`Self::authenticate_token`], with the principal the caches build once per token.
    pub async fn authenticate(&self, token: &str) -> Result<Arc<Verified>, AuthError> {
        match self.cached(token.as_bytes()) {
            Some(hit) => hit,
            None => self.authenticate_uncached(token).await,
        }
    }

    /// The verification of a token byte-equal to one this provider verified before, when
    /// cached: `exp` is checked at this call (an expired token is refused), nothing else:
    /// the token passed every check when it was verified, its shape included, so `token`
    /// may be the bytes as presented, unchecked. `None`: not cached (or not discovered).
    /// A reference token's cached introspection verdict counts too (judged as
    /// [`Self::authenticate_uncached`] would judge it: same endpoint, `exp` now).
    pub fn cached(&self, token: &[u8]) -> Option<Result<Arc<Verified>, AuthError>> {
        let discovered = self.discovered.load();
        let discovered = discovered.as_ref()?;
        // Only verified JWTs are in the verified-token cache, and a compact JWS has dots:
        // a token without one (most reference tokens) skips that cache (a miss there
        // costs a lookup in the shared cache) and the JWT-shape scans.
        let dotted = memchr::memchr(b'.', token).is_some();
        let Some(hit) = dotted.then(|| self.verified.get(token)).flatten() else {
            return self.cached_introspection(discovered, token, dotted);
        };
        self.verified_hits
            .hit(&*self.observer, &self.name, TokenCache::Jwt);
        if discovered.validator.still_valid(hit.exp, jwt::unix_now()) {
            return Some(Ok(hit.verified.clone()));
        }
        tracing::debug!(provider = %self.name, reason = "expired", "cached JWT refused");
        Some(Err(JwtError::Invalid("expired").into()))
    }

    /// The branch of [`Self::authenticate_uncached`] that introspects (a token that is
    /// not JWT-shaped), answered from the verdict cache when it can be without waiting.
    fn cached_introspection(
        &self,
        discovered: &Discovered,
        token: &[u8],
        dotted: bool,
    ) -> Option<Result<Arc<Verified>, AuthError>> {
        let introspector = self.introspector.as_ref()?;
        let endpoint = discovered.metadata.introspection_endpoint.as_deref()?;
        let token = std::str::from_utf8(token).ok()?;
        if dotted && (jwt::is_unsigned_jwt(token) || jwt::looks_like_jwt(token)) {
            return None;
        }
        introspector.cached(endpoint, token)
    }

    /// [`Self::authenticate`] for a token [`Self::cached`] does not know.
    pub async fn authenticate_uncached(&self, token: &str) -> Result<Arc<Verified>, AuthError> {
        let Some(discovered) = self.discovered.load_full() else {
            return Err(AuthError::IdpUnavailable(format!(
                "provider `{}` not discovered yet",
                self.name
            )));
        };
        if jwt::is_unsigned_jwt(token) {
            return Err(AuthError::InvalidToken("unsigned JWT (alg none)".into()));
        }
        if !jwt::looks_like_jwt(token) {
            return match &self.introspector {
                Some(_) => self.introspect(&discovered, token).await,
                None => Err(AuthError::InvalidToken(
                    "not a JWT and introspection is not configured".into(),
                )),
            };
        }
        let failure = match self.validate_jwt(&discovered, token).await {
            Ok(verified) => return Ok(verified),
            Err(failure) => failure,
        };
        let fallback = self.introspector.is_some()
            && self
                .cfg
                .tokens
                .introspection
                .as_ref()
                .is_some_and(|i| i.jwt_fallback);
        match failure {
            LocalFailure::Jwt(JwtError::UnknownKey) | LocalFailure::Keys(_) if fallback => {
                self.introspect(&discovered, token).await
            }
            LocalFailure::Jwt(e) => {
                let hash = TokenHash::of(token);
                tracing::debug!(provider = %self.name, token = %hash.short(), reason = ?e, "JWT refused");
                Err(e.into())
            }
            LocalFailure::Keys(e) => Err(AuthError::IdpUnavailable(format!(
                "provider `{}`: {e}",
                self.name
            ))),
        }
    }

    async fn validate_jwt(
        &self,
        discovered: &Discovered,
        token: &str,
    ) -> Result<Arc<Verified>, LocalFailure> {
        // The caller has looked in the verified-token cache already.
        let validator = &discovered.validator;
        if self.cfg.tokens.verified_cache_size > 0 {
            self.observer.verified_cache(&self.name, false);
        }
        let header = validator.header(token).map_err(LocalFailure::Jwt)?;
        // Unverified, and used only to refuse early: a token issued elsewhere must never
        // cost this provider a JWKS refetch. Trusted only once the signature verifies.
        let claims = jwt::unverified_claims(token).map_err(LocalFailure::Jwt)?;
        validator.check_issuer(&claims).map_err(LocalFailure::Jwt)?;
        let kid = header.kid.as_deref();
        let mut keys = self.jwks.keys().await.map_err(LocalFailure::Keys)?;
        if let Err(KeyMiss::NotFound) = keys.find(kid, header.alg) {
            keys = self
                .jwks
                .refetch_for_unknown_key()
                .await
                .map_err(LocalFailure::Keys)?;
        }
        let candidates = keys
            .find(kid, header.alg)
            .map_err(|m| LocalFailure::Jwt(jwt::key_miss(m)))?;
        jwt::verify_signature(token, header.alg, candidates).map_err(LocalFailure::Jwt)?;
        let exp = validator
            .check_claims(&claims, jwt::unix_now())
            .map_err(LocalFailure::Jwt)?;
        let verified = Arc::new(Verified::new(claims));
        let entry = Arc::new(VerifiedToken {
            verified: verified.clone(),
            exp,
        });
        self.verified.insert(token, entry).await;
        Ok(verified)
    }

    async fn introspect(
        &self,
        discovered: &Discovered,
        token: &str,
    ) -> Result<Arc<Verified>, AuthError> {
        let (Some(introspector), Some(endpoint)) = (
            &self.introspector,
            discovered.metadata.introspection_endpoint.as_deref(),
        ) else {
            return Err(AuthError::IdpUnavailable(format!(
                "provider `{}` has no introspection endpoint (not in discovery, RFC 8414 \
                 metadata or config)",
                self.name
            )));
        };
        introspector.introspect(endpoint, token).await
    }
}

/// A local-validation failure, before deciding on fallback.
enum LocalFailure {
    Jwt(JwtError),
    Keys(JwksError),
}
