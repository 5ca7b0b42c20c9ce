//! A verified claim set as the token caches keep it, with the [`Principal`] built from
//! it once per cache entry instead of on every request that presents the token again,
//! and what bearer requests derive from it: per route, whether userinfo could add a
//! claim the route reads, and the principal completed by the current userinfo answer.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use super::memo::PerRoute;
use super::principal::Principal;
use super::{AuthError, Claims};
use crate::config::ClaimsConfig;

/// A principal completed from a userinfo answer.
#[derive(Debug)]
struct Completed {
    /// The answer (compared by identity).
    answer: Arc<Claims>,
    /// The principal it completed (compared by identity).
    from: Arc<Principal>,
    /// The result.
    done: Arc<Principal>,
    /// The end of the answer's life in the userinfo cache.
    until: Instant,
}

/// Claims whose token was verified (signature, or introspection), and their principal.
#[derive(Debug, Default)]
pub struct Verified {
    /// The claims.
    pub claims: Arc<Claims>,
    /// Built on first use, with the provider's position it was built for (a reload can
    /// keep a provider, and its caches, at another position).
    principal: OnceLock<(usize, Arc<Principal>)>,
    /// Per route's wanted claims: whether userinfo could add one (`userinfo: auto`).
    userinfo_wanted: PerRoute<bool>,
    /// The last completion by a userinfo answer.
    completed: Mutex<Option<Completed>>,
}

impl Verified {
    /// Wraps a verified claim set.
    pub fn new(claims: Claims) -> Verified {
        Verified {
            claims: Arc::new(claims),
            ..Verified::default()
        }
    }

    /// The same claims, with nothing derived from them yet: for a thread's own copy
    /// (see `auth::local`), whose principal and memos that thread alone touches.
    pub fn copy_for_thread(&self) -> Verified {
        Verified {
            claims: self.claims.clone(),
            ..Verified::default()
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

    /// Whether userinfo could add a claim the route whose wanted claims have `key` reads,
    /// decided by `decide` once per route.
    pub fn userinfo_wanted(&self, key: u64, decide: impl FnOnce() -> bool) -> bool {
        self.userinfo_wanted.get_or_derive(key, decide)
    }

    /// `base` (this token's principal) completed from the userinfo answer `info`, which
    /// the userinfo cache serves until `until`: merged once per answer (the cache hands
    /// out the same `Arc` while it keeps one), then shared. A refused answer (another
    /// `sub`) is never kept.
    pub fn completed(
        &self,
        base: &Arc<Principal>,
        info: &Arc<Claims>,
        until: Instant,
        cfg: &ClaimsConfig,
    ) -> Result<Arc<Principal>, AuthError> {
        if let Ok(slot) = self.completed.lock() {
            if let Some(c) = slot.as_ref() {
                if Arc::ptr_eq(&c.answer, info) && Arc::ptr_eq(&c.from, base) {
                    return Ok(c.done.clone());
                }
            }
        }
        let mut principal = Principal::clone(base);
        principal.merge_userinfo(Claims::clone(info), cfg)?;
        let done = Arc::new(principal);
        if let Ok(mut slot) = self.completed.lock() {
            *slot = Some(Completed {
                answer: info.clone(),
                from: base.clone(),
                done: done.clone(),
                until,
            });
        }
        Ok(done)
    }

    /// The completion of `base` by a userinfo answer the cache still serves at `now`, if
    /// one was made: the request needs neither the cache nor a merge.
    pub fn fresh_completion(&self, base: &Arc<Principal>, now: Instant) -> Option<Arc<Principal>> {
        let slot = self.completed.lock().ok()?;
        let c = slot.as_ref()?;
        (Arc::ptr_eq(&c.from, base) && now < c.until).then(|| c.done.clone())
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

    fn later() -> Instant {
        Instant::now() + std::time::Duration::from_secs(60)
    }

    fn info(v: serde_json::Value) -> Arc<Claims> {
        let serde_json::Value::Object(map) = v else {
            panic!("an object");
        };
        Arc::new(map)
    }

    #[test]
    fn the_userinfo_decision_is_made_once_per_route() {
        let v = verified(serde_json::json!({"sub": "u1"}));
        let mut asked = 0;
        for _ in 0..3 {
            assert!(v.userinfo_wanted(7, || {
                asked += 1;
                true
            }));
        }
        assert_eq!(asked, 1);
        assert!(
            !v.userinfo_wanted(8, || false),
            "another route decides anew"
        );
    }

    #[test]
    fn a_completion_is_shared_per_answer_and_never_kept_when_refused() {
        let v = verified(serde_json::json!({"sub": "u1"}));
        let base = v.principal(&cfg(), 0).unwrap();
        let answer = info(serde_json::json!({"sub": "u1", "preferred_username": "alice"}));
        let first = v.completed(&base, &answer, later(), &cfg()).unwrap();
        assert_eq!(first.username.as_deref(), Some("alice"));
        assert!(
            base.username.is_none(),
            "the token's own principal is untouched"
        );
        let again = v.completed(&base, &answer, later(), &cfg()).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "merged once per answer");
        // A new answer (the userinfo cache fetched again) is merged anew.
        let renamed = info(serde_json::json!({"sub": "u1", "preferred_username": "bob"}));
        let second = v.completed(&base, &renamed, later(), &cfg()).unwrap();
        assert_eq!(second.username.as_deref(), Some("bob"));
        // An answer for another subject is refused, every time, and replaces nothing.
        let other = info(serde_json::json!({"sub": "u2", "preferred_username": "eve"}));
        assert!(v.completed(&base, &other, later(), &cfg()).is_err());
        assert!(v.completed(&base, &other, later(), &cfg()).is_err());
        let kept = v.completed(&base, &renamed, later(), &cfg()).unwrap();
        assert!(Arc::ptr_eq(&second, &kept));
        // The principal rebuilt for another provider position completes its own copy.
        let moved = v.principal(&cfg(), 2).unwrap();
        let for_moved = v.completed(&moved, &renamed, later(), &cfg()).unwrap();
        assert_eq!(for_moved.provider, 2);
    }

    #[test]
    fn a_completion_serves_alone_only_while_its_answer_is_cached() {
        let v = verified(serde_json::json!({"sub": "u1"}));
        let base = v.principal(&cfg(), 0).unwrap();
        let now = Instant::now();
        assert!(v.fresh_completion(&base, now).is_none(), "none made yet");
        let answer = info(serde_json::json!({"sub": "u1", "preferred_username": "alice"}));
        let until = now + std::time::Duration::from_secs(60);
        let done = v.completed(&base, &answer, until, &cfg()).unwrap();
        let fresh = v.fresh_completion(&base, now).unwrap();
        assert!(Arc::ptr_eq(&done, &fresh));
        assert!(
            v.fresh_completion(&base, until).is_none(),
            "the answer's life is over"
        );
        let moved = v.principal(&cfg(), 2).unwrap();
        assert!(
            v.fresh_completion(&moved, now).is_none(),
            "another base principal"
        );
    }
}
