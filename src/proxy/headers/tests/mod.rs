// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Hop-by-hop and identity-stripping tests, with the shared header-map helpers;
//! `forwarded.rs`: the X-Forwarded-* fields and which peers are trusted.

mod forwarded;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::config::model::Cidr;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (n, v) in pairs {
        h.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap())
}

#[test]
fn hop_by_hop_headers_are_removed() {
    let mut h = map(&[
        ("connection", "keep-alive"),
        ("keep-alive", "timeout=5"),
        ("proxy-connection", "keep-alive"),
        ("proxy-authenticate", "Basic"),
        ("proxy-authorization", "Basic abc"),
        ("te", "trailers"),
        ("trailer", "x-checksum"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("accept", "*/*"),
        ("authorization", "Bearer t"),
    ]);
    remove_hop_by_hop(&mut h);
    assert_eq!(h.len(), 3, "{h:?}");
    assert!(h.contains_key("accept"));
    assert!(h.contains_key("authorization"));
    // End-to-end (RFC 9110 §6.6.2): a response's declared trailers need it.
    assert!(h.contains_key("trailer"));
}

#[test]
fn names_listed_in_connection_are_removed() {
    let mut h = map(&[
        ("connection", "X-Foo, close"),
        ("connection", " ,x-bar ,,\tKEEP-ALIVE "),
        ("x-foo", "1"),
        ("X-Bar", "2"),
        ("x-baz", "3"),
        ("host", "example.com"),
    ]);
    remove_hop_by_hop(&mut h);
    assert!(!h.contains_key("x-foo"));
    assert!(!h.contains_key("x-bar"));
    assert!(!h.contains_key("connection"));
    assert_eq!(get(&h, "x-baz"), Some("3"));
}

#[test]
fn connection_cannot_remove_host_and_bad_tokens_are_ignored() {
    let mut h = map(&[
        ("connection", "host, bad token, x(y), , x-ok"),
        ("host", "example.com"),
        ("x-ok", "1"),
    ]);
    remove_hop_by_hop(&mut h);
    assert_eq!(get(&h, "host"), Some("example.com"));
    assert!(!h.contains_key("x-ok"));
}

#[test]
fn response_direction_works_too() {
    let mut h = map(&[
        ("connection", "x-internal"),
        ("x-internal", "secret"),
        ("transfer-encoding", "chunked"),
        ("content-type", "text/plain"),
    ]);
    remove_hop_by_hop(&mut h);
    assert_eq!(h.len(), 1);
}

#[test]
fn upgrade_is_detected_before_stripping() {
    let h = map(&[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
    ]);
    assert_eq!(
        upgrade_protocol(&h),
        Some(HeaderValue::from_static("websocket"))
    );
    // No `upgrade` token: the Upgrade header alone is not a request to switch.
    let h = map(&[("connection", "keep-alive"), ("upgrade", "websocket")]);
    assert_eq!(upgrade_protocol(&h), None);
    let h = map(&[("upgrade", "websocket")]);
    assert_eq!(upgrade_protocol(&h), None);
    let h = map(&[("connection", "upgrade")]);
    assert_eq!(upgrade_protocol(&h), None);
    let h = map(&[
        ("connection", "upgrade"),
        ("upgrade", "a"),
        ("upgrade", "b"),
    ]);
    assert_eq!(upgrade_protocol(&h), None);
    let h = map(&[("connection", "x-upgrade"), ("upgrade", "websocket")]);
    assert_eq!(upgrade_protocol(&h), None);
    let h = map(&[("connection", "Upgrade"), ("upgrade", "WebSocket")]);
    assert_eq!(
        upgrade_protocol(&h),
        Some(HeaderValue::from_static("WebSocket"))
    );
    // Any protocol but WebSocket is no upgrade: h2c would tunnel requests past routing.
    for other in ["h2c", "HTTP/2.0", "websocket, h2c", "TLS/1.2", "websockets"] {
        let h = map(&[
            ("connection", "Upgrade, HTTP2-Settings"),
            ("upgrade", other),
        ]);
        assert_eq!(upgrade_protocol(&h), None, "{other}");
    }
}

#[test]
fn identity_headers_in_every_spelling_are_stripped() {
    let custom = [
        HeaderName::from_static("x-tenant-id"),
        HeaderName::from_static("x_role"),
    ];
    let set = IdentityHeaderSet::new(&custom);
    let mut h = map(&[
        ("X-Auth-User", "mallory"),
        ("x_auth_user", "mallory"),
        ("X_Auth_User", "mallory"),
        ("x-auth_email", "m@evil"),
        ("X_AUTH_GROUPS", "admins"),
        ("x-auth-subject", "root"),
        ("x-forwarded-user", "root"),
        ("x_forwarded_email", "root"),
        ("x-forwarded-preferred-username", "root"),
        ("x-forwarded-access-token", "t"),
        ("x-auth-request-user", "root"),
        ("x-auth-request-email", "root"),
        ("x-auth-request-groups", "root"),
        ("x-auth-request-preferred-username", "root"),
        ("x-auth-request-access-token", "t"),
        ("remote-user", "root"),
        ("remote_user", "root"),
        ("x-remote-user", "root"),
        ("x-amzn-oidc-identity", "root"),
        (
            "x_goog_authenticated_user_email",
            "accounts.google.com:root@example.com",
        ),
        ("x-ms-client-principal-name", "root"),
        ("x-original-url", "/admin"),
        ("X-Rewrite-URL", "/admin"),
        ("x-tenant-id", "1"),
        ("x_tenant_id", "1"),
        ("x-role", "admin"),
        ("x_role", "admin"),
        ("x-auth-userx", "kept"),
        ("x-tenant", "kept"),
        ("accept", "kept"),
    ]);
    set.strip(&mut h);
    let left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(h.contains_key("x-auth-userx"));
    assert!(h.contains_key("x-tenant"));
    assert!(h.contains_key("accept"));
}

#[test]
fn identity_set_membership() {
    let set = IdentityHeaderSet::new(&[HeaderName::from_static("x-auth-user")]);
    assert!(set.contains("X_Auth_User"));
    assert!(set.contains("REMOTE-USER"));
    assert!(!set.contains("x-auth-use"));
    // Duplicates collapse.
    assert_eq!(set.names().len(), WELL_KNOWN_IDENTITY_HEADERS.len());
    let empty: [HeaderName; 0] = [];
    assert_eq!(
        IdentityHeaderSet::new(&empty).names().len(),
        WELL_KNOWN_IDENTITY_HEADERS.len()
    );
}

#[test]
fn hop_by_hop_index_matches_the_list() {
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        assert_eq!(
            hop_by_hop_index(name.as_str().as_bytes()),
            Some(i),
            "{name}"
        );
        let upper = name.as_str().to_ascii_uppercase();
        assert_eq!(
            hop_by_hop_index(upper.as_bytes()),
            Some(i),
            "any case: {upper}"
        );
    }
    for other in [
        "content-length",
        "connections",
        "t",
        "x-upgrade",
        "trailers",
        "",
    ] {
        assert_eq!(hop_by_hop_index(other.as_bytes()), None, "{other}");
    }
    assert_eq!(HOP_BY_HOP[TRANSFER_ENCODING_INDEX], TRANSFER_ENCODING);
    assert_eq!(HOP_BY_HOP[CONNECTION_INDEX], http::header::CONNECTION);
    assert_eq!(HOP_BY_HOP[UPGRADE_INDEX], UPGRADE);
    assert_eq!(hop_by_hop_index(b"trailer"), None, "end-to-end");
}

#[test]
fn transfer_encoding_is_reported() {
    let mut h = map(&[("transfer-encoding", "chunked"), ("content-length", "3")]);
    assert!(remove_hop_by_hop(&mut h));
    assert_eq!(get(&h, "content-length"), Some("3"), "the caller decides");
    let mut h = map(&[("connection", "keep-alive"), ("content-length", "3")]);
    assert!(!remove_hop_by_hop(&mut h));
    assert!(!remove_hop_by_hop(&mut map(&[("accept", "*/*")])));
}

#[test]
fn every_name_a_cgi_style_upstream_reads_as_a_protected_one_is_stripped() {
    let set = IdentityHeaderSet::new(&[HeaderName::from_static("x-tenant-id")]);
    let mut h = map(&[
        // Identity headers, as PHP (`.`), lighttpd (any byte) or Go's cgi read them.
        ("X.Auth.User", "mallory"),
        ("X~Auth~User", "mallory"),
        ("x*auth*user", "mallory"),
        ("x!auth#email", "m@evil"),
        ("XAuthGroups", "admins"),
        ("x|tenant'id", "1"),
        ("remote.user", "root"),
        ("x.portcullis.assertion", "forged"),
        ("X-Portcullis-Assertion", "forged"),
        // Controlled fields: framing, forwarding, correlation.
        ("content.length", "5"),
        ("transfer~encoding", "chunked"),
        ("x.forwarded.for", "1.2.3.4"),
        ("x*forwarded*proto", "https"),
        ("x.real.ip", "1.2.3.4"),
        ("x~request~id", "forged"),
        // Kept: other names, and the real spellings of controlled fields.
        ("content-length", "5"),
        ("x-forwarded-proto", "https"),
        ("x.app.key", "kept"),
        ("x_app_key", "kept"),
        ("accept", "kept"),
    ]);
    set.strip(&mut h);
    let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    left.sort_unstable();
    assert_eq!(
        left,
        [
            "accept",
            "content-length",
            "x-forwarded-proto",
            "x.app.key",
            "x_app_key"
        ]
    );
    for name in ["X.Auth.User", "x*auth*user", "x~tenant~id", "X-TENANT-ID"] {
        assert!(set.contains(name), "{name}");
    }
    assert!(!set.contains("x-tenant"));
}
