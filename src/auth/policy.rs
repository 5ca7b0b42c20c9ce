//! Access policy: whether a [`Principal`] may use a route, per the route's `allow` block.
//!
//! Owns the meaning of `users`, `email_domains`, `groups`, `scopes` and `claims`. Pure
//! logic over already-verified identities: it never authenticates, never performs I/O
//! and never chooses a status code (`error::respond` maps [`Denied`]). Every comparison
//! fails closed: a missing or malformed attribute never satisfies a rule.

use serde_json::Value;
use thiserror::Error;

use super::principal::{lookup_claim, Principal};
use crate::config::AllowRules;

/// Why a principal was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Denied {
    /// A required scope is missing (403 `insufficient_scope`); holds ALL the route's
    /// required scopes, space-joined, for the `scope` attribute of `WWW-Authenticate`.
    #[error("insufficient scope (requires `{0}`)")]
    InsufficientScope(String),
    /// Another rule failed (403); names the rule, for logs only.
    #[error("forbidden by the `{0}` rule")]
    Forbidden(&'static str),
}

/// Checks every present rule; all must hold. An empty `allow` block allows everyone.
///
/// Identity rules (`users`, `email_domains`, `groups`, `claims`) are checked before
/// `scopes`, so `insufficient_scope` is only reported when a token with more scope
/// would actually be let in.
pub fn authorize(rules: &AllowRules, p: &Principal) -> Result<(), Denied> {
    if !rules.users.is_empty() {
        let ok = p
            .username
            .as_deref()
            .is_some_and(|u| rules.users.iter().any(|allowed| allowed == u));
        if !ok {
            return Err(Denied::Forbidden("users"));
        }
    }
    if !rules.email_domains.is_empty() && !email_domain_allowed(&rules.email_domains, p) {
        return Err(Denied::Forbidden("email_domains"));
    }
    if !rules.groups.is_empty() && !p.groups.iter().any(|g| rules.groups.contains(g)) {
        return Err(Denied::Forbidden("groups"));
    }
    for (path, expected) in &rules.claims {
        if !claim_matches(lookup_claim(&p.claims, path), expected) {
            return Err(Denied::Forbidden("claims"));
        }
    }
    if !rules.scopes.iter().all(|s| p.scopes.contains(s)) {
        return Err(Denied::InsufficientScope(rules.scopes.join(" ")));
    }
    Ok(())
}

/// Equal as JSON values (so `true` ≠ `"true"` and `1` ≠ `"1"`), or an array claim holding
/// an element equal to `expected`.
fn claim_matches(actual: Option<&Value>, expected: &Value) -> bool {
    match actual {
        None => false,
        Some(v) if v == expected => true,
        Some(Value::Array(items)) => items.iter().any(|i| i == expected),
        Some(_) => false,
    }
}

/// The email's domain is in the list.
///
/// Fails when there is no email, when `email_verified` is present and false (boolean
/// `false` or the string `"false"`, which some providers send), or when the address is not
/// [`email_domain`]-clean. Entries compare case-insensitively: `example.com` matches that
/// domain exactly; `.example.com` matches any subdomain (`a.example.com`, `x.y.example.com`)
/// but NOT `example.com` itself (list both to allow both), and never `evil-example.com`.
fn email_domain_allowed(entries: &[String], p: &Principal) -> bool {
    match p.claims.get("email_verified") {
        Some(Value::Bool(false)) => return false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => return false,
        _ => {}
    }
    let Some(domain) = p.email.as_deref().and_then(email_domain) else {
        return false;
    };
    entries.iter().any(|entry| match entry.strip_prefix('.') {
        Some(suffix) => {
            let cut = domain.len().checked_sub(suffix.len() + 1);
            !suffix.is_empty()
                && cut.is_some_and(|cut| {
                    domain.as_bytes().get(cut) == Some(&b'.')
                        && domain
                            .get(cut + 1..)
                            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
                })
        }
        None => domain.eq_ignore_ascii_case(entry),
    })
}

/// The domain of a conservatively well-formed address, or `None`.
///
/// Refused: not exactly one `@` (so `attacker@evil.com@example.com` never yields
/// `example.com`), an empty local part, local-part characters outside RFC 5322 `atext`
/// plus `.` (no quotes, spaces, backslashes, controls or non-ASCII), and domains that are
/// not dot-separated LDH labels of 1–63 characters (no empty label, so no trailing dot;
/// no leading/trailing `-`; internationalised domains only in their `xn--` form).
pub fn email_domain(email: &str) -> Option<&str> {
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || domain.contains('@') || local.len() > 64 || domain.len() > 253 {
        return None;
    }
    let local_ok = local
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let domain_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    (local_ok && domain_ok).then_some(domain)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn who(username: Option<&str>, email: Option<&str>, claims: Value) -> Principal {
        let Value::Object(claims) = claims else {
            panic!("claims must be an object")
        };
        let scopes = match claims.get("scope") {
            Some(Value::String(s)) => s.split(' ').map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        let groups = match claims.get("groups") {
            Some(Value::Array(g)) => g
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Principal {
            subject: "sub-1".into(),
            username: username.map(str::to_owned),
            email: email.map(str::to_owned),
            groups,
            scopes,
            claims: claims.into(),
            provider: 0,
            rendered: Default::default(),
            asserted: Default::default(),
        }
    }

    fn domains(list: &[&str]) -> AllowRules {
        AllowRules {
            email_domains: list.iter().map(|s| s.to_string()).collect(),
            ..AllowRules::default()
        }
    }

    fn email_ok(rules: &AllowRules, email: &str) -> bool {
        authorize(rules, &who(None, Some(email), json!({}))).is_ok()
    }

    #[test]
    fn empty_rules_allow_everyone() {
        assert_eq!(
            authorize(&AllowRules::default(), &who(None, None, json!({}))),
            Ok(())
        );
    }

    #[test]
    fn users_exact() {
        let rules = AllowRules {
            users: vec!["alice".into()],
            ..AllowRules::default()
        };
        assert!(authorize(&rules, &who(Some("alice"), None, json!({}))).is_ok());
        for u in [Some("Alice"), Some("alice "), Some("bob"), None] {
            assert_eq!(
                authorize(&rules, &who(u, None, json!({}))),
                Err(Denied::Forbidden("users"))
            );
        }
    }

    #[test]
    fn email_domain_exact_and_suffix() {
        let exact = domains(&["example.com"]);
        assert!(email_ok(&exact, "a@example.com"));
        assert!(
            email_ok(&exact, "A.B+tag@EXAMPLE.COM"),
            "domains are case-insensitive"
        );
        assert!(email_ok(&domains(&["Example.COM"]), "a@example.com"));
        assert!(!email_ok(&exact, "a@sub.example.com"));
        let suffix = domains(&[".example.com"]);
        assert!(email_ok(&suffix, "a@sub.example.com"));
        assert!(email_ok(&suffix, "a@x.y.EXAMPLE.com"));
        assert!(
            !email_ok(&suffix, "a@example.com"),
            "suffix does not match the apex"
        );
        assert!(!email_ok(&domains(&["."]), "a@example.com"));
    }

    #[test]
    fn email_domain_tricks_are_refused() {
        let both = domains(&["example.com", ".example.com"]);
        for bad in [
            "attacker@evil.com@example.com",
            "a@evil-example.com",
            "a@evilexample.com",
            "a@example.com.",
            "a@example.com.evil.com",
            "@example.com",
            "a@",
            "example.com",
            "\"a@b\"@example.com",
            "a b@example.com",
            "a@example.com\r\nX-Evil: 1",
            "a@exämple.com",
            "a@-example.com",
            "a@example..com",
            "a\\@example.com",
        ] {
            assert!(!email_ok(&both, bad), "{bad:?} must be refused");
        }
        assert_eq!(email_domain("a@b@c"), None);
    }

    #[test]
    fn email_verified_false_fails_the_domain_rule() {
        let rules = domains(&["example.com"]);
        for (v, ok) in [
            (json!(false), false),
            (json!("false"), false),
            (json!(true), true),
            (json!("x"), true),
        ] {
            let p = who(None, Some("a@example.com"), json!({"email_verified": v}));
            assert_eq!(authorize(&rules, &p).is_ok(), ok, "email_verified = {v}");
        }
        let p = who(None, None, json!({}));
        assert_eq!(
            authorize(&rules, &p),
            Err(Denied::Forbidden("email_domains"))
        );
    }

    #[test]
    fn groups_any_of() {
        let rules = AllowRules {
            groups: vec!["admins".into(), "ops".into()],
            ..AllowRules::default()
        };
        assert!(authorize(&rules, &who(None, None, json!({"groups": ["x", "ops"]}))).is_ok());
        let denied = who(None, None, json!({"groups": ["Admins", "x"]}));
        assert_eq!(authorize(&rules, &denied), Err(Denied::Forbidden("groups")));
    }

    #[test]
    fn scopes_all_of_and_checked_last() {
        let rules = AllowRules {
            scopes: vec!["api.read".into(), "api.write".into()],
            ..AllowRules::default()
        };
        assert!(authorize(
            &rules,
            &who(None, None, json!({"scope": "api.write x api.read"}))
        )
        .is_ok());
        let partial = who(None, None, json!({"scope": "api.read"}));
        assert_eq!(
            authorize(&rules, &partial),
            Err(Denied::InsufficientScope("api.read api.write".into()))
        );
        let both = AllowRules {
            users: vec!["alice".into()],
            ..rules
        };
        assert_eq!(authorize(&both, &partial), Err(Denied::Forbidden("users")));
    }

    #[test]
    fn claims_equal_or_contained_with_json_types() {
        let mut rules = AllowRules::default();
        rules.claims.insert("email_verified".into(), json!(true));
        rules
            .claims
            .insert("realm_access.roles".into(), json!("admin"));
        rules.claims.insert("tier".into(), json!(2));
        let good =
            json!({"email_verified": true, "realm_access": {"roles": ["u", "admin"]}, "tier": 2});
        assert!(authorize(&rules, &who(None, None, good)).is_ok());
        for bad in [
            json!({"email_verified": "true", "realm_access": {"roles": ["admin"]}, "tier": 2}),
            json!({"email_verified": true, "realm_access": {"roles": "administrators"}, "tier": 2}),
            json!({"email_verified": true, "realm_access": {"roles": ["admin"]}, "tier": "2"}),
            json!({"email_verified": true, "tier": 2}),
        ] {
            assert_eq!(
                authorize(&rules, &who(None, None, bad)),
                Err(Denied::Forbidden("claims"))
            );
        }
    }
}
