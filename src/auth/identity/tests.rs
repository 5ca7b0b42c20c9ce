// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Identity header templates: placeholders, missing values, parse errors, the clean-value
//! rule, and applying a route's headers over forged client copies.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use super::*;
use serde_json::json;

fn alice() -> Principal {
    let Value::Object(claims) = json!({
        "sub": "s-1",
        "realm_access": {"roles": ["r1", "r2"]},
        "tier": 3,
        "flag": true,
        "obj": {"a": 1},
        "nul": null,
        "evil": "x\r\nX-Admin: 1",
        "comma": ["a,b", "c"],
    }) else {
        panic!("object")
    };
    Principal {
        subject: "s-1".into(),
        username: Some("alice".into()),
        email: None,
        groups: vec!["admins".into(), "ops".into()],
        scopes: vec!["openid".into(), "api.read".into()],
        claims: claims.into(),
        provider: 0,
        rendered: Default::default(),
        asserted: Default::default(),
    }
}

fn render(t: &str, p: &Principal) -> Option<String> {
    let mut out = String::new();
    Template::parse(t)
        .expect("valid")
        .render(p, &mut out)
        .then_some(out)
}

#[test]
fn placeholders_render() {
    let p = alice();
    assert_eq!(render("{username}", &p).as_deref(), Some("alice"));
    assert_eq!(render("{sub}", &p).as_deref(), Some("s-1"));
    assert_eq!(render("{groups}", &p).as_deref(), Some("admins,ops"));
    assert_eq!(render("{scopes}", &p).as_deref(), Some("openid api.read"));
    assert_eq!(
        render("{claims.realm_access.roles}", &p).as_deref(),
        Some("r1,r2")
    );
    assert_eq!(
        render("{claims.tier}/{claims.flag}", &p).as_deref(),
        Some("3/true")
    );
    assert_eq!(
        render("user={sub};groups={groups}", &p).as_deref(),
        Some("user=s-1;groups=admins,ops")
    );
    assert_eq!(render("{{{username}}}", &p).as_deref(), Some("{alice}"));
    assert_eq!(render("static", &p).as_deref(), Some("static"));
    assert_eq!(
        render("{claims.comma}", &p).as_deref(),
        Some("c"),
        "a,b cannot pose as two"
    );
}

#[test]
fn missing_values() {
    let p = alice();
    for t in [
        "{email}",
        "{claims.nope}",
        "{claims.obj}",
        "{claims.nul}",
        "<{email}>",
    ] {
        assert_eq!(render(t, &p), None, "{t}");
    }
    assert_eq!(
        render("u={username};e={email}", &p).as_deref(),
        Some("u=alice;e=")
    );
    let mut nobody = alice();
    nobody.groups.clear();
    nobody.username = None;
    assert_eq!(render("{groups}", &nobody), None);
    assert_eq!(render("{username}", &nobody), None);
}

#[test]
fn parse_errors() {
    for bad in [
        "{user}",
        "{claims.}",
        "{username",
        "oops}",
        "{}",
        "{claims}",
        "{a{b}",
    ] {
        assert!(Template::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn header_values_are_clean_or_dropped() {
    assert_eq!(header_value("alice, bob").expect("ok"), "alice, bob");
    for bad in [
        "",
        " alice",
        "alice ",
        "a\r\nX-Admin: 1",
        "a\nb",
        "a\rb",
        "a\0b",
        "a\tb",
        "a\x7fb",
        "ålice",
        "a\u{200b}b",
    ] {
        assert_eq!(header_value(bad), None, "{bad:?}");
    }
}

#[test]
fn apply_sets_clean_headers_and_removes_others() {
    let spec = vec![
        (
            HeaderName::from_static("x-auth-user"),
            "{username}".to_owned(),
        ),
        (
            HeaderName::from_static("x-auth-email"),
            "{email}".to_owned(),
        ),
        (
            HeaderName::from_static("x-evil"),
            "{claims.evil}".to_owned(),
        ),
        (
            HeaderName::from_static("x-auth-groups"),
            "{groups}".to_owned(),
        ),
    ];
    let ih = IdentityHeaders::compile(&spec).expect("compiles");
    assert_eq!(ih.names().count(), 4);
    let mut h = HeaderMap::new();
    h.insert(
        "x-auth-email",
        HeaderValue::from_static("forged@example.com"),
    );
    h.append("x-auth-user", HeaderValue::from_static("forged"));
    h.append("x-auth-user", HeaderValue::from_static("forged2"));
    ih.apply(&alice(), &mut h);
    assert_eq!(
        h.get_all("x-auth-user").iter().collect::<Vec<_>>(),
        ["alice"]
    );
    assert_eq!(h.get("x-auth-groups").expect("set"), "admins,ops");
    assert!(
        h.get("x-auth-email").is_none(),
        "missing → absent, not the forged value"
    );
    assert!(h.get("x-evil").is_none(), "CR/LF value dropped");
    assert!(h.get("x-admin").is_none());
    let err = IdentityHeaders::compile(&[(HeaderName::from_static("x-a"), "{bad}".into())]);
    assert!(err.expect_err("bad template").contains("x-a"));
}
