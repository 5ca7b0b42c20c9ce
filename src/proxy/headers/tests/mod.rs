// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! Hop-by-hop, identity-stripping and X-Forwarded-* tests.

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
fn untrusted_peer_gets_fresh_forwarding_headers() {
    let mut h = map(&[
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
        ("forwarded", "for=1.2.3.4"),
        ("x-real-ip", "1.2.3.4"),
    ]);
    let host = HeaderValue::from_static("app.example.com");
    forwarded(
        &mut h,
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        false,
        "http",
        Some(&host),
    );
    assert_eq!(get(&h, "x-forwarded-for"), Some("203.0.113.7"));
    assert_eq!(get(&h, "x-forwarded-proto"), Some("http"));
    assert_eq!(get(&h, "x-forwarded-host"), Some("app.example.com"));
    assert!(!h.contains_key("forwarded"));
    assert!(!h.contains_key("x-real-ip"));
    assert_eq!(h.get_all("x-forwarded-for").iter().count(), 1);
}

#[test]
fn untrusted_peer_without_host() {
    let mut h = map(&[("x-forwarded-host", "evil.example")]);
    forwarded(
        &mut h,
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        false,
        "https",
        None,
    );
    assert_eq!(get(&h, "x-forwarded-for"), Some("::1"));
    assert_eq!(get(&h, "x-forwarded-proto"), Some("https"));
    assert!(!h.contains_key("x-forwarded-host"));
}

#[test]
fn trusted_peer_appends_and_keeps() {
    let mut h = map(&[
        ("x-forwarded-for", "198.51.100.1, 10.0.0.2"),
        ("x-forwarded-for", "10.0.0.3"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "public.example.com"),
        ("x-real-ip", "198.51.100.1"),
    ]);
    let host = HeaderValue::from_static("internal:8080");
    forwarded(
        &mut h,
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 4)),
        true,
        "http",
        Some(&host),
    );
    assert_eq!(
        get(&h, "x-forwarded-for"),
        Some("198.51.100.1, 10.0.0.2, 10.0.0.3, 10.0.0.4")
    );
    assert_eq!(get(&h, "x-forwarded-proto"), Some("https"));
    assert_eq!(get(&h, "x-forwarded-host"), Some("public.example.com"));
    assert_eq!(get(&h, "x-real-ip"), Some("198.51.100.1"));
}

#[test]
fn trusted_peer_without_headers_sets_them() {
    let mut h = HeaderMap::new();
    let host = HeaderValue::from_static("app.example.com");
    forwarded(
        &mut h,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        true,
        "https",
        Some(&host),
    );
    assert_eq!(get(&h, "x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(get(&h, "x-forwarded-proto"), Some("https"));
    assert_eq!(get(&h, "x-forwarded-host"), Some("app.example.com"));
}

#[test]
fn ipv4_mapped_peer_is_written_as_ipv4() {
    let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 9).to_ipv6_mapped());
    let mut h = HeaderMap::new();
    forwarded(&mut h, mapped, false, "http", None);
    assert_eq!(get(&h, "x-forwarded-for"), Some("192.0.2.9"));
    let nets = [Cidr::parse("192.0.2.0/24").unwrap()];
    assert!(trusted(mapped, &nets));
}

#[test]
fn trust_decisions() {
    let nets = [
        Cidr::parse("10.0.0.0/8").unwrap(),
        Cidr::parse("::1").unwrap(),
    ];
    assert!(trusted(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), &nets));
    assert!(!trusted(IpAddr::V4(Ipv4Addr::new(11, 0, 0, 1)), &nets));
    assert!(trusted(IpAddr::V6(Ipv6Addr::LOCALHOST), &nets));
    assert!(!trusted(IpAddr::V4(Ipv4Addr::LOCALHOST), &nets));
    assert!(!trusted(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), &[]));
}

#[test]
fn unusual_proto_is_accepted_or_skipped() {
    let mut h = HeaderMap::new();
    forwarded(&mut h, IpAddr::V4(Ipv4Addr::LOCALHOST), false, "wss", None);
    assert_eq!(get(&h, "x-forwarded-proto"), Some("wss"));
    let mut h = HeaderMap::new();
    forwarded(
        &mut h,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        false,
        "bad\nproto",
        None,
    );
    assert!(!h.contains_key("x-forwarded-proto"));
}

#[test]
fn ipv4_is_written_like_display() {
    for ip in [
        "0.0.0.0",
        "1.2.3.4",
        "10.20.30.40",
        "100.200.255.9",
        "255.255.255.255",
        "127.0.0.1",
    ] {
        let v4: std::net::Ipv4Addr = ip.parse().unwrap();
        let mut buf = [0u8; 48];
        let n = write_ipv4(v4, &mut buf);
        assert_eq!(&buf[..n], ip.as_bytes());
    }
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

/// `set_forwarded`, then what it added moved into the map as the upstream codec writes
/// it: the map must not hold a name it added (never two values for the upstream).
fn forwarded(
    h: &mut HeaderMap,
    peer: IpAddr,
    peer_trusted: bool,
    proto: &'static str,
    host: Option<&HeaderValue>,
) {
    let mut added = crate::transport::upstream::Added::default();
    set_forwarded(h, &mut added, peer, peer_trusted, proto, host);
    for (name, _) in added.iter() {
        assert!(!h.contains_key(name), "{name} both in the map and added");
    }
    added.move_into(h);
}
