// Test-only module: its parent declares it under #[cfg(test)], so nothing here is production code.
//! X-Forwarded-* and `Forwarded`: fresh fields for an untrusted peer, appended ones for a
//! trusted proxy, the trust decision, and how addresses and protocols are written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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
