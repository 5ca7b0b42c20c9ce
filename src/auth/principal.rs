//! The authenticated principal: who a verified token (or session) says the caller is.
//!
//! Owns turning a claim set into subject, username, email, groups and scopes according
//! to a provider's [`ClaimsConfig`], and completing it from a userinfo response. Pure
//! logic: it never verifies signatures, never performs I/O and never decides access
//! (that is `policy.rs`); its input must already be a verified claim set.

use std::sync::Arc;

use serde_json::Value;

use super::identity::Rendered;
use super::memo::PerRoute;
use super::{AuthError, Claims};
use crate::config::ClaimsConfig;

/// Who the caller is, as far as the gateway is concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The token's `sub` (always present, non-empty).
    pub subject: String,
    /// From the first present candidate of `claims.username`.
    pub username: Option<String>,
    /// From the first present candidate of `claims.email`.
    pub email: Option<String>,
    /// From the first present, non-empty candidate of `claims.groups`.
    pub groups: Vec<String>,
    /// From `scope` (space-separated) or, when absent, `scp` (array or string).
    pub scopes: Vec<String>,
    /// The full claim set (token claims first, then userinfo claims where absent);
    /// shared with the verified-token cache, copied only when userinfo adds to it.
    pub claims: Arc<Claims>,
    /// Index of the provider (into `Config::providers`) that vouched for these claims.
    pub provider: usize,
    /// Identity headers rendered from this principal, per route (empty in a copy).
    pub rendered: PerRoute<Arc<Rendered>>,
    /// The route's identity assertion for this principal and the unix second it is
    /// served until, per route assertion (empty in a copy; see `assertion::sign`).
    pub asserted: PerRoute<(http::HeaderValue, u64)>,
}

impl Principal {
    /// Builds a principal from a verified claim set. `sub` must be a non-empty string;
    /// a token without `sub` at all stands for its client when it names one
    /// (`client_id`, as IdentityServer's client-credentials tokens and RFC 9068 do).
    pub fn from_claims(
        claims: Arc<Claims>,
        cfg: &ClaimsConfig,
        provider: usize,
    ) -> Result<Principal, AuthError> {
        let subject = match claims.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => return Err(AuthError::InvalidToken("`sub` is not a string".into())),
            None => match claims.get("client_id") {
                Some(Value::String(c)) if !c.is_empty() => c.clone(),
                _ => return Err(AuthError::InvalidToken("`sub` is missing".into())),
            },
        };
        let mut p = Principal {
            subject,
            username: None,
            email: None,
            groups: Vec::new(),
            scopes: scopes_of(&claims),
            claims,
            provider,
            rendered: PerRoute::default(),
            asserted: PerRoute::default(),
        };
        p.resolve(cfg);
        Ok(p)
    }

    /// Completes the principal from a userinfo response.
    ///
    /// The response's `sub` must equal [`Principal::subject`] (OIDC Core §5.3.2), otherwise
    /// the response is refused with `InvalidToken`. Userinfo claims are added only where
    /// the token has no claim of that name (signed token claims always win), then
    /// username, email and groups are resolved again over the merged set, so a
    /// higher-priority candidate found only in userinfo (e.g. `preferred_username` when
    /// the token carried only `email`) takes over from a fallback. Scopes never come from
    /// userinfo. A dotted-path candidate whose top-level object exists in the token is
    /// looked up in the token's object only.
    pub fn merge_userinfo(
        &mut self,
        userinfo: Claims,
        cfg: &ClaimsConfig,
    ) -> Result<(), AuthError> {
        match userinfo.get("sub") {
            Some(Value::String(s)) if *s == self.subject => {}
            _ => {
                return Err(AuthError::InvalidToken(
                    "userinfo `sub` does not match the token's".into(),
                ))
            }
        }
        let claims = Arc::make_mut(&mut self.claims);
        for (k, v) in userinfo {
            claims.entry(k).or_insert(v);
        }
        self.resolve(cfg);
        Ok(())
    }

    /// Whether the userinfo endpoint could improve this principal (`userinfo: auto`).
    ///
    /// True when the FIRST username candidate of `cfg` is absent from the claims: either
    /// no username at all, or one taken from a fallback (e.g. `sub` standing in for a
    /// missing `preferred_username`, seed 004). Callers should consider that tokens with
    /// no user behind them (client credentials) also answer true here.
    pub fn needs_userinfo(&self, cfg: &ClaimsConfig) -> bool {
        match cfg.username.first() {
            Some(first) => claim_scalar(&self.claims, first).is_none(),
            None => self.username.is_none(),
        }
    }

    fn resolve(&mut self, cfg: &ClaimsConfig) {
        self.username = first_scalar(&self.claims, &cfg.username);
        self.email = cfg
            .email
            .iter()
            .find_map(|c| match lookup_claim(&self.claims, c) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            });
        self.groups = cfg
            .groups
            .iter()
            .map(|c| {
                lookup_claim(&self.claims, c)
                    .map(string_list)
                    .unwrap_or_default()
            })
            .find(|g| !g.is_empty())
            .unwrap_or_default();
    }
}

/// Finds a claim by name or dotted path.
///
/// The literal name is tried first (so `https://example.com/groups` or `a.b` as a single
/// key are found), then every split of the path at a dot, left to right, walking into
/// objects; keys that themselves contain dots are therefore found at any depth.
pub fn lookup_claim<'a>(claims: &'a Claims, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    path.match_indices('.').find_map(|(i, _)| {
        let (head, rest) = (&path[..i], &path[i + 1..]);
        match claims.get(head) {
            Some(Value::Object(inner)) if !rest.is_empty() => lookup_claim(inner, rest),
            _ => None,
        }
    })
}

/// A claim value as a list of strings: a string is one element, an array contributes its
/// strings, numbers and booleans (stringified); nulls, nested arrays/objects and empty
/// strings are ignored. A lone number or boolean is one element; null/object → empty.
pub fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(scalar_string).collect(),
        other => scalar_string(other).into_iter().collect(),
    }
}

/// A scalar claim value as a string: non-empty strings as-is, numbers and booleans
/// stringified; anything else is `None`.
pub fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn claim_scalar(claims: &Claims, path: &str) -> Option<String> {
    lookup_claim(claims, path).and_then(scalar_string)
}

fn first_scalar(claims: &Claims, candidates: &[String]) -> Option<String> {
    candidates.iter().find_map(|c| claim_scalar(claims, c))
}

/// `scope` (space-separated string; an array is tolerated) wins; else `scp` (array, or a
/// space-separated string). Empty elements are dropped.
fn scopes_of(claims: &Claims) -> Vec<String> {
    ["scope", "scp"]
        .iter()
        .map(|name| match claims.get(*name) {
            Some(Value::String(s)) => s.split_ascii_whitespace().map(str::to_owned).collect(),
            Some(v @ Value::Array(_)) => string_list(v),
            _ => Vec::new(),
        })
        .find(|s: &Vec<String>| !s.is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> ClaimsConfig {
        ClaimsConfig {
            username: vec!["preferred_username".into(), "email".into(), "sub".into()],
            email: vec!["email".into()],
            groups: vec!["groups".into(), "role".into(), "realm_access.roles".into()],
        }
    }

    fn claims(v: Value) -> Arc<Claims> {
        Arc::new(match v {
            Value::Object(m) => m,
            _ => Claims::new(),
        })
    }

    fn principal(v: Value) -> Principal {
        Principal::from_claims(claims(v), &cfg(), 0).expect("valid claims")
    }

    #[test]
    fn sub_is_required_and_must_be_a_string() {
        for bad in [
            json!({}),
            json!({"sub": 42}),
            json!({"sub": ""}),
            json!({"sub": ["a"]}),
        ] {
            let r = Principal::from_claims(claims(bad), &cfg(), 0);
            assert!(matches!(r, Err(AuthError::InvalidToken(_))));
        }
        let r = Principal::from_claims(claims(json!({"sub": 42, "client_id": "svc"})), &cfg(), 0);
        assert!(
            matches!(r, Err(AuthError::InvalidToken(_))),
            "a bad sub is not excused"
        );
    }

    #[test]
    fn client_credentials_tokens_stand_for_their_client() {
        let p = principal(json!({"client_id": "billing-service", "scope": "api1.read"}));
        assert_eq!(p.subject, "billing-service");
        assert_eq!(p.scopes, vec!["api1.read".to_owned()]);
    }

    #[test]
    fn first_present_candidate_wins() {
        let p = principal(json!({"sub": "s1", "email": "a@example.com"}));
        assert_eq!(p.username.as_deref(), Some("a@example.com"));
        let p = principal(json!({"sub": "s1", "preferred_username": "alice", "email": "a@x.io"}));
        assert_eq!(p.username.as_deref(), Some("alice"));
        assert_eq!(p.email.as_deref(), Some("a@x.io"));
        let p = principal(json!({"sub": "s1", "preferred_username": ""}));
        assert_eq!(
            p.username.as_deref(),
            Some("s1"),
            "empty string is not present"
        );
        let p = principal(json!({"sub": "s1", "preferred_username": {"nested": 1}}));
        assert_eq!(
            p.username.as_deref(),
            Some("s1"),
            "objects are not usernames"
        );
    }

    #[test]
    fn groups_string_array_number_and_seed_001_role() {
        let p = principal(json!({"sub": "s", "groups": "admins"}));
        assert_eq!(p.groups, ["admins"]);
        let p = principal(json!({"sub": "s", "groups": ["a", 7, true, {"x": 1}, null, ""]}));
        assert_eq!(p.groups, ["a", "7", "true"]);
        let p = principal(json!({"sub": "s", "groups": 7}));
        assert_eq!(p.groups, ["7"]);
        // Seed 001: IdentityServer userinfo `role` array; empty `groups` falls through.
        let p = principal(json!({"sub": "248289761001", "groups": [], "role": ["user", "admin"]}));
        assert_eq!(p.groups, ["user", "admin"]);
        let p = principal(json!({"sub": "s"}));
        assert!(p.groups.is_empty());
    }

    #[test]
    fn dotted_paths_and_literal_dotted_names() {
        let p = principal(json!({"sub": "s", "realm_access": {"roles": ["r1", "r2"]}}));
        assert_eq!(p.groups, ["r1", "r2"]);
        let c = claims(json!({
            "https://example.com/groups": ["g"],
            "a.b": "literal",
            "a": {"b": "walked", "c.d": {"e": "deep"}},
            "x": "not an object",
        }));
        assert_eq!(
            lookup_claim(&c, "https://example.com/groups"),
            Some(&json!(["g"]))
        );
        assert_eq!(
            lookup_claim(&c, "a.b"),
            Some(&json!("literal")),
            "literal key first"
        );
        assert_eq!(lookup_claim(&c, "a.c.d.e"), Some(&json!("deep")));
        assert_eq!(lookup_claim(&c, "x.y"), None);
        assert_eq!(lookup_claim(&c, "a."), None);
        assert_eq!(lookup_claim(&c, ".a"), None);
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        let p = principal(json!({"sub": "s", "scope": "openid  api1.read api1.write"}));
        assert_eq!(p.scopes, ["openid", "api1.read", "api1.write"]);
        let p = principal(json!({"sub": "s", "scp": ["a", "b"]}));
        assert_eq!(p.scopes, ["a", "b"]);
        let p = principal(json!({"sub": "s", "scp": "a b"}));
        assert_eq!(p.scopes, ["a", "b"]);
        let p = principal(json!({"sub": "s", "scope": "", "scp": ["x"]}));
        assert_eq!(p.scopes, ["x"]);
        let p = principal(json!({"sub": "s", "scope": 5}));
        assert!(p.scopes.is_empty());
    }

    #[test]
    fn userinfo_completes_a_missing_preferred_username() {
        let mut p = principal(json!({"sub": "s1", "email": "a@example.com", "role": "r"}));
        assert!(p.needs_userinfo(&cfg()));
        let ui = claims(json!({
            "sub": "s1", "preferred_username": "alice", "email": "evil@other.com",
            "role": ["user", "admin"], "name": "Alice",
        }));
        p.merge_userinfo((*ui).clone(), &cfg()).expect("same sub");
        assert_eq!(p.username.as_deref(), Some("alice"));
        assert_eq!(
            p.email.as_deref(),
            Some("a@example.com"),
            "token claims win"
        );
        assert_eq!(p.groups, ["r"], "token claims win");
        assert_eq!(p.claims.get("name"), Some(&json!("Alice")));
        assert!(!p.needs_userinfo(&cfg()));
    }

    #[test]
    fn userinfo_with_another_sub_is_refused() {
        let mut p = principal(json!({"sub": "s1"}));
        let before = p.clone();
        for ui in [
            json!({"sub": "s2", "preferred_username": "mallory"}),
            json!({}),
            json!({"sub": 1}),
        ] {
            let r = p.merge_userinfo((*claims(ui)).clone(), &cfg());
            assert!(matches!(r, Err(AuthError::InvalidToken(_))));
            assert_eq!(p, before, "nothing merged");
        }
    }

    #[test]
    fn needs_userinfo_without_username_candidates() {
        let empty = ClaimsConfig {
            username: vec![],
            email: vec![],
            groups: vec![],
        };
        let p = Principal::from_claims(claims(json!({"sub": "s"})), &empty, 3).expect("ok");
        assert_eq!(p.provider, 3);
        assert!(p.username.is_none());
        assert!(p.needs_userinfo(&empty));
    }
}
