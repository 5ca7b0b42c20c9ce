//! Fuzzes header hygiene on a header map built from arbitrary `name: value` lines: no
//! panic, and afterwards no hop-by-hop header, no header named in `Connection`, no
//! identity header in any spelling and no name a CGI-style upstream reads as a controlled
//! one (same letters and digits, other spelling: checked against a reference written
//! here) is left; X-Forwarded-For is always set. Then the client address the rate limits
//! count: no panic on any X-Forwarded-For, and never other than the peer when the peer
//! is not trusted.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis::config::Cidr;
use portcullis::proxy::headers::{
    client_ip, remove_hop_by_hop, set_forwarded, upgrade_protocol, IdentityHeaderSet, CONNECTION,
    HOP_BY_HOP, HOST, X_FORWARDED_FOR,
};
use portcullis::transport::upstream::Added;

/// The names the gateway controls besides identity headers and the X-Forwarded-* family.
const CONTROLLED: [&str; 16] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "http2-settings",
    "content-length",
    "host",
    "forwarded",
    "x-real-ip",
    "x-request-id",
];

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }

    // Names the client listed in Connection (Host excepted) must be gone afterwards.
    let listed: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|t| HeaderName::from_bytes(t.trim_ascii()).ok())
        .filter(|n| *n != HOST)
        .collect();

    let _ = upgrade_protocol(&headers);
    remove_hop_by_hop(&mut headers);
    for name in HOP_BY_HOP.iter().chain(&listed) {
        assert!(!headers.contains_key(name), "{name} survived");
    }

    let custom = [HeaderName::from_static("x-tenant")];
    let set = IdentityHeaderSet::new(&custom);
    set.strip(&mut headers);
    for name in headers.keys() {
        assert!(!set.contains(name.as_str()), "{name} survived");
        let skeleton: String = name
            .as_str()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        for genuine in CONTROLLED {
            let genuine_skeleton = genuine.replace('-', "");
            assert!(
                skeleton != genuine_skeleton || name.as_str() == genuine,
                "look-alike {name} of {genuine} survived"
            );
        }
        if skeleton.len() > "xforwarded".len() && skeleton.starts_with("xforwarded") {
            let rest = name.as_str().strip_prefix("x-forwarded-").unwrap_or("");
            assert!(
                !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                "look-alike {name} of the X-Forwarded-* family survived"
            );
        }
    }

    let host = headers.get(HOST).cloned();
    let trusted = data.first().is_some_and(|b| b & 1 == 1);
    let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut added = Added::default();
    set_forwarded(
        &mut headers,
        &mut added,
        peer,
        trusted,
        "https",
        host.as_ref(),
    );
    // What the gateway adds beside the map never shares a name with what is in it (the
    // upstream would get two values), then goes where the codec writes it.
    for (name, _) in added.iter() {
        assert!(
            !headers.contains_key(name),
            "{name} both in the map and added"
        );
    }
    added.move_into(&mut headers);
    let xff = headers.get(X_FORWARDED_FOR).map(|v| v.as_bytes().to_vec());
    assert!(
        xff.is_some_and(|v| v.ends_with(b"192.0.2.1")),
        "XFF must end with the peer"
    );

    let nets = [
        Cidr::parse("192.0.2.0/24").expect("cidr"),
        Cidr::parse("10.0.0.0/8").expect("cidr"),
    ];
    let client = client_ip(peer, trusted, &headers, &nets);
    if !trusted {
        assert_eq!(client, peer, "an untrusted peer is the client");
    }
});
