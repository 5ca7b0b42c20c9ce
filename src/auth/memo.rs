//! Values derived once per shared principal (or verified token) and route, kept with it:
//! the principal of a cached token or session serves every request presenting it, so
//! what a route derives from it (rendered identity headers, whether userinfo could add a
//! claim the route reads) is computed on first use and reused.
//!
//! Owns the memo and the keys that name a route's compiled rules; never decides what is
//! derived (the callers' closures do).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Derived values kept for this many routes at most (a token or session is seldom used on
/// more; past it, the oldest is replaced).
const ROUTES: usize = 8;

/// A fresh key for a route's compiled rules (identity templates, wanted claims): never
/// reused within the process, never 0 (the key of empty rules).
pub fn next_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Values derived from one principal (or verified token), by the key of the route rules
/// they were derived for.
///
/// Cloning gives an empty memo: a principal is copied only to be changed (userinfo
/// completes it), and the copy's values must be derived from the copy. Equality ignores
/// it (it is derived data).
pub struct PerRoute<T> {
    slots: Mutex<Vec<(u64, T)>>,
}

impl<T: Clone> PerRoute<T> {
    /// The value for the rules `key`, made by `derive` on first use. A poisoned lock
    /// derives without remembering.
    pub fn get_or_derive(&self, key: u64, derive: impl FnOnce() -> T) -> T {
        let Ok(mut slots) = self.slots.lock() else {
            return derive();
        };
        if let Some((_, hit)) = slots.iter().find(|(k, _)| *k == key) {
            return hit.clone();
        }
        let value = derive();
        if slots.len() == ROUTES {
            slots.remove(0);
        }
        slots.push((key, value.clone()));
        value
    }
}

impl<T: Clone> PerRoute<T> {
    /// The value kept for `key`, if any (for values that expire: see [`Self::set`]).
    pub fn get(&self, key: u64) -> Option<T> {
        let slots = self.slots.lock().ok()?;
        slots
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` for `key`, replacing what was kept (a value that expired).
    pub fn set(&self, key: u64, value: T) {
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        if let Some(slot) = slots.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
            return;
        }
        if slots.len() == ROUTES {
            slots.remove(0);
        }
        slots.push((key, value));
    }
}

impl<T> Default for PerRoute<T> {
    fn default() -> Self {
        PerRoute {
            slots: Mutex::new(Vec::new()),
        }
    }
}

impl<T> Clone for PerRoute<T> {
    fn clone(&self) -> Self {
        PerRoute::default()
    }
}

impl<T> PartialEq for PerRoute<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> fmt::Debug for PerRoute<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PerRoute")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use http::HeaderName;

    use super::*;

    fn one(v: &'static str) -> Arc<str> {
        v.into()
    }

    #[test]
    fn derives_once_per_key_and_forgets_on_clone() {
        let memo = PerRoute::default();
        let first = memo.get_or_derive(1, || one("a"));
        let again = memo.get_or_derive(1, || panic!("derived twice"));
        assert!(Arc::ptr_eq(&first, &again));
        let other = memo.get_or_derive(2, || one("b"));
        assert_eq!(&*other, "b");
        let copy = memo.clone();
        let fresh = copy.get_or_derive(1, || one("c"));
        assert_eq!(&*fresh, "c", "a copy derives anew");
    }

    #[test]
    fn bounded() {
        let memo = PerRoute::default();
        for id in 0..(ROUTES as u64 + 3) {
            memo.get_or_derive(id, || one("a"));
        }
        assert_eq!(memo.slots.lock().unwrap().len(), ROUTES);
        // The oldest went first; the newest are kept.
        memo.get_or_derive(ROUTES as u64 + 2, || panic!("kept"));
        let mut derived = false;
        memo.get_or_derive(0, || {
            derived = true;
            one("a")
        });
        assert!(derived, "evicted");
    }

    #[test]
    fn a_shared_principal_is_rendered_once_per_route_and_a_copy_anew() {
        use crate::auth::identity::IdentityHeaders;
        use crate::auth::principal::Principal;
        let cfg = crate::config::ClaimsConfig {
            username: vec!["preferred_username".into()],
            email: vec!["email".into()],
            groups: vec!["groups".into()],
        };
        let serde_json::Value::Object(claims) =
            serde_json::json!({"sub": "s1", "preferred_username": "alice"})
        else {
            panic!("object")
        };
        let p = Principal::from_claims(Arc::new(claims), &cfg, 0).unwrap();
        let spec = |t: &str| vec![(HeaderName::from_static("x-auth-user"), t.to_owned())];
        let route_a = IdentityHeaders::compile(&spec("{username}")).unwrap();
        let route_b = IdentityHeaders::compile(&spec("u={username}")).unwrap();
        let applied = |ih: &IdentityHeaders, p: &Principal| {
            let mut h = http::HeaderMap::new();
            ih.apply(p, &mut h);
            h.remove("x-auth-user").unwrap()
        };
        let (first, again) = (applied(&route_a, &p), applied(&route_a, &p));
        assert_eq!(first, "alice");
        // The same bytes, not a second rendering.
        assert_eq!(first.as_bytes().as_ptr(), again.as_bytes().as_ptr());
        assert_eq!(applied(&route_b, &p), "u=alice", "each route its own");
        let mut changed = p.clone();
        changed.username = Some("bob".into());
        assert_eq!(applied(&route_a, &changed), "bob", "a copy renders anew");
        assert_eq!(applied(&route_a, &p), "alice");
    }
}
