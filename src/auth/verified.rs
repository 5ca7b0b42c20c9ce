//! A verified claim set as the token caches keep it, with the [`Principal`] built from
//! it once per cache entry instead of on every request that presents the token again.

use std::sync::{Arc, OnceLock};

use super::principal::Principal;
use super::{AuthError, Claims};
use crate::config::ClaimsConfig;

/// Claims whose token was verified (signature, or introspection), and their principal.
#[derive(Debug, Default)]
pub struct Verified {
    /// The claims.
    pub claims: Arc<Claims>,
    /// Built on first use, with the provider's position it was built for (a reload can
    /// keep a provider, and its caches, at another position).
    principal: OnceLock<(usize, Arc<Principal>)>,
}

impl Verified {
    /// Wraps a verified claim set.
    pub fn new(claims: Claims) -> Verified {
        Verified {
            claims: Arc::new(claims),
            principal: OnceLock::new(),
        }
    }

    /// The principal of these claims under `cfg` for the provider at `provider`: built
    /// once, shared afterwards. `cfg` is the provider's own, which cannot change while
    /// its caches live (a reload that changes it builds a new provider).
    pub fn principal(
        &self,
        cfg: &ClaimsConfig,
        provider: usize,
    ) -> Result<Arc<Principal>, AuthError> {
        if let Some((built_for, principal)) = self.principal.get() {
            if *built_for == provider {
                return Ok(principal.clone());
            }
        }
        let principal = Arc::new(Principal::from_claims(self.claims.clone(), cfg, provider)?);
        // A concurrent first use may have set it meanwhile: both are the same.
        let _ = self.principal.set((provider, principal.clone()));
        Ok(principal)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn cfg() -> ClaimsConfig {
        ClaimsConfig {
            username: vec!["preferred_username".into()],
            email: vec!["email".into()],
            groups: vec!["groups".into()],
        }
    }

    fn verified(claims: serde_json::Value) -> Verified {
        let serde_json::Value::Object(map) = claims else {
            panic!("an object");
        };
        Verified::new(map)
    }

    #[test]
    fn the_principal_is_built_once_and_shared() {
        let v = verified(serde_json::json!({"sub": "u1", "preferred_username": "alice"}));
        let first = v.principal(&cfg(), 0).unwrap();
        let again = v.principal(&cfg(), 0).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "built once");
        assert_eq!(first.username.as_deref(), Some("alice"));
        assert_eq!(first.provider, 0);
        // The same provider kept at another position by a reload: built for that one.
        let moved = v.principal(&cfg(), 2).unwrap();
        assert_eq!(moved.provider, 2);
    }

    #[test]
    fn claims_without_a_subject_are_refused_every_time() {
        let v = verified(serde_json::json!({"preferred_username": "alice"}));
        assert!(v.principal(&cfg(), 0).is_err());
        assert!(v.principal(&cfg(), 0).is_err());
    }
}
