//! What a route reads from a principal (identity header templates and `allow` rules), so
//! that `userinfo: auto` asks the provider only when one of those claims is missing, and
//! never for a token that stands for no user (client credentials), whose userinfo call
//! could only end in 401. Pure logic: no I/O, no policy decisions.

use serde_json::Value;

use super::identity::IdentityHeaders;
use super::principal::{lookup_claim, Principal};
use super::Claims;
use crate::config::{ClaimsConfig, RouteConfig};

/// The claims one route reads. Scopes and `sub` are absent: they never come from userinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WantedClaims {
    /// `{username}` or `allow.users`.
    pub(crate) username: bool,
    /// `{email}` or `allow.email_domains`.
    pub(crate) email: bool,
    /// `{groups}` or `allow.groups`.
    pub(crate) groups: bool,
    /// Claim paths of `{claims.<path>}` templates and `allow.claims`.
    pub(crate) claims: Vec<String>,
    /// Names these rules in a principal's memo ([`crate::auth::memo::next_key`]).
    pub(crate) key: u64,
}

impl WantedClaims {
    /// What `route` reads through its compiled identity headers and its `allow` rules.
    pub fn for_route(route: &RouteConfig, identity: &IdentityHeaders) -> WantedClaims {
        let allow = &route.allow;
        let mut wanted = WantedClaims {
            username: !allow.users.is_empty(),
            email: !allow.email_domains.is_empty(),
            groups: !allow.groups.is_empty(),
            claims: Vec::new(),
            key: super::memo::next_key(),
        };
        for path in allow.claims.keys() {
            wanted.add_claim(path);
        }
        identity.add_reads(&mut wanted);
        wanted
    }

    pub(crate) fn add_claim(&mut self, path: &str) {
        if !self.claims.iter().any(|c| c == path) {
            self.claims.push(path.to_owned());
        }
    }

    /// The key of these rules in a verified token's memo.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// Whether userinfo could supply something this route reads and `p` lacks. A
    /// username counts as missing while the FIRST candidate of `cfg.username` is absent
    /// (a fallback such as `sub` standing in for `preferred_username`, seed 004).
    pub fn missing_in(&self, p: &Principal, cfg: &ClaimsConfig) -> bool {
        let absent = |path: &String| lookup_claim(&p.claims, path).is_none();
        (self.username && p.needs_userinfo(cfg))
            || (self.email && p.email.is_none())
            || (self.groups && cfg.groups.iter().all(absent))
            || self.claims.iter().any(absent)
    }
}

/// Whether a token stands for no user: no `sub` at all, or a `sub` that is its own
/// client's id (`client_id` as RFC 9068 names it, `azp`, or Okta's `cid`). Such a token
/// comes from the client-credentials grant; userinfo has nothing to say about it.
pub fn stands_for_no_user(claims: &Claims) -> bool {
    let Some(Value::String(sub)) = claims.get("sub") else {
        return true;
    };
    ["client_id", "azp", "cid"]
        .iter()
        .any(|k| matches!(claims.get(*k), Some(Value::String(c)) if c == sub))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use http::HeaderName;
    use serde_json::json;

    use super::*;

    fn claims(v: Value) -> Claims {
        match v {
            Value::Object(m) => m,
            _ => panic!("object"),
        }
    }

    fn cfg() -> ClaimsConfig {
        ClaimsConfig {
            username: vec!["preferred_username".into(), "sub".into()],
            email: vec!["email".into()],
            groups: vec!["groups".into(), "roles".into()],
        }
    }

    fn principal(v: Value) -> Principal {
        Principal::from_claims(Arc::new(claims(v)), &cfg(), 0).unwrap()
    }

    fn wanted(templates: &[&str], allow: &str) -> WantedClaims {
        let yaml = format!(
            "providers: [{{ name: p, issuer: \"https://idp.example.com\", client_id: c }}]\n\
             routes: [{{ name: r, upstream: \"http://127.0.0.1:1\", auth: bearer, \
             allow: {allow}, identity_headers: {{}} }}]"
        );
        let route = crate::config::load_str_with_env(&yaml, &|_| None)
            .unwrap()
            .routes
            .remove(0);
        let spec: Vec<(HeaderName, String)> = templates
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    HeaderName::try_from(format!("x-h{i}")).unwrap(),
                    (*t).into(),
                )
            })
            .collect();
        WantedClaims::for_route(&route, &IdentityHeaders::compile(&spec).unwrap())
    }

    #[test]
    fn client_credentials_tokens_stand_for_no_user() {
        for c in [
            json!({"client_id": "svc"}),
            json!({"sub": "svc", "client_id": "svc"}),
            json!({"sub": "svc", "azp": "svc"}),
            json!({"sub": "0oa1", "cid": "0oa1"}),
        ] {
            assert!(stands_for_no_user(&claims(c.clone())), "{c}");
        }
        for c in [
            json!({"sub": "alice", "client_id": "web"}),
            json!({"sub": "alice", "azp": "web"}),
            json!({"sub": "alice"}),
        ] {
            assert!(!stands_for_no_user(&claims(c.clone())), "{c}");
        }
    }

    #[test]
    fn only_what_the_route_reads_can_be_missing() {
        let bare = principal(json!({"sub": "s-1"}));
        assert!(!wanted(&[], "{}").missing_in(&bare, &cfg()));
        assert!(
            !wanted(&["{sub}", "{scopes}", "static"], "{ scopes: [a] }").missing_in(&bare, &cfg())
        );
        for (templates, allow) in [
            (&["{username}"][..], "{}"),
            (&[], "{ users: [alice] }"),
            (&["{email}"], "{}"),
            (&[], "{ email_domains: [example.com] }"),
            (&["<{groups}>"], "{}"),
            (&[], "{ groups: [admins] }"),
            (&["{claims.org.name}"], "{}"),
            (&[], "{ claims: { department: sales } }"),
        ] {
            assert!(
                wanted(templates, allow).missing_in(&bare, &cfg()),
                "{templates:?} {allow}"
            );
        }
        let full = principal(json!({
            "sub": "s-1", "preferred_username": "alice", "email": "a@example.com",
            "roles": [], "org": {"name": "x"}, "department": "sales",
        }));
        let all = wanted(
            &["{username}", "{email}", "{groups}", "{claims.org.name}"],
            "{ claims: { department: sales } }",
        );
        assert!(
            !all.missing_in(&full, &cfg()),
            "an empty roles claim is an answer"
        );
        // A username from the `sub` fallback still asks (seed 004).
        let fallback = principal(json!({"sub": "s-1", "email": "a@example.com"}));
        assert!(wanted(&["{username}"], "{}").missing_in(&fallback, &cfg()));
        assert!(!wanted(&["{email}"], "{}").missing_in(&fallback, &cfg()));
    }
}
