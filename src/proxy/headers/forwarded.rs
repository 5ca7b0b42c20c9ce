//! The forwarding fields (RFC 7239 and the de-facto `X-Forwarded-*` family) the gateway
//! sets for the upstream, and which peers may set them before it.

use std::io::Write as _;
use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::{FORWARDED, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REAL_IP};
use crate::config::model::Cidr;

/// Whether `peer` is one of the trusted proxies (IPv4-mapped IPv6 peers match IPv4 nets).
pub fn trusted(peer: IpAddr, nets: &[Cidr]) -> bool {
    nets.iter().any(|n| n.contains(peer))
}

/// `peer` as it should appear in `X-Forwarded-For`: IPv4-mapped IPv6 shown as IPv4.
fn canonical_ip(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    }
}

/// Writes `ip` in dotted-decimal form into `out` (at least 15 bytes); returns the
/// length. Every request formats its peer, and `fmt` machinery costs ten times more.
pub(super) fn write_ipv4(ip: std::net::Ipv4Addr, out: &mut [u8; 48]) -> usize {
    let mut n = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out[n] = b'.';
            n += 1;
        }
        if octet >= 100 {
            out[n] = b'0' + octet / 100;
            n += 1;
        }
        if octet >= 10 {
            out[n] = b'0' + octet / 10 % 10;
            n += 1;
        }
        out[n] = b'0' + octet % 10;
        n += 1;
    }
    n
}

/// `proto` as a value, allocation-free for the two real schemes.
fn proto_value(proto: &'static str) -> Option<HeaderValue> {
    match proto {
        "http" => Some(HeaderValue::from_static("http")),
        "https" => Some(HeaderValue::from_static("https")),
        other => HeaderValue::from_str(other).ok(),
    }
}

/// A field of the forwarding family: what only a trusted proxy may tell the upstream.
fn forwarding_field(name: &HeaderName) -> bool {
    name.as_str().starts_with("x-forwarded-") || *name == FORWARDED || *name == X_REAL_IP
}

/// Sets forwarding metadata for the upstream.
///
/// Untrusted peer: every client `X-Forwarded-*` (`-Prefix`, `-Port`, `-Ssl`… too, which
/// frameworks build URLs and the https flag from), `Forwarded` and `X-Real-IP` is
/// dropped, and `XFF = peer`, `XFP = proto`, `XFH = host` are set fresh.
/// Trusted peer (see [`trusted`]): `peer` is appended to the existing XFF chain (all
/// XFF lines are joined into one), existing XFP/XFH are kept, missing ones set.
/// `host` is the client's original Host (read before it is rewritten).
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: IpAddr,
    peer_trusted: bool,
    proto: &'static str,
    host: Option<&HeaderValue>,
) {
    // Longest IPv6 text is 39 bytes; 48 leaves room.
    let mut ip_buf = [0u8; 48];
    let ip_len = match canonical_ip(peer) {
        IpAddr::V4(v4) => write_ipv4(v4, &mut ip_buf),
        v6 => {
            let mut cursor = std::io::Cursor::new(&mut ip_buf[..]);
            match write!(cursor, "{v6}") {
                Ok(()) => usize::try_from(cursor.position()).unwrap_or(0),
                Err(_) => 0,
            }
        }
    };
    let ip = &ip_buf[..ip_len];

    if !peer_trusted {
        if headers.keys().any(forwarding_field) {
            let forged: Vec<HeaderName> = headers
                .keys()
                .filter(|k| forwarding_field(k))
                .cloned()
                .collect();
            for name in forged {
                headers.remove(name);
            }
        }
        // Nothing of the client's is left: set all three fresh.
        if let Ok(xff) = crate::proxy::slab::header_value(ip) {
            headers.insert(X_FORWARDED_FOR, xff);
        }
        if let Some(v) = proto_value(proto) {
            headers.insert(X_FORWARDED_PROTO, v);
        }
        if let Some(h) = host {
            headers.insert(X_FORWARDED_HOST, h.clone());
        }
        return;
    }

    let xff = if headers.contains_key(X_FORWARDED_FOR) {
        // Several XFF lines form one list (RFC 9110 §5.3); join them, then append the peer.
        let mut chain = Vec::with_capacity(64);
        for v in headers.get_all(X_FORWARDED_FOR) {
            let v = v.as_bytes().trim_ascii();
            if !v.is_empty() {
                chain.extend_from_slice(v);
                chain.extend_from_slice(b", ");
            }
        }
        chain.extend_from_slice(ip);
        HeaderValue::from_maybe_shared(bytes::Bytes::from(chain)).ok()
    } else {
        HeaderValue::from_bytes(ip).ok()
    };
    if let Some(xff) = xff {
        headers.insert(X_FORWARDED_FOR, xff);
    }

    if !headers.contains_key(X_FORWARDED_PROTO) {
        if let Some(v) = proto_value(proto) {
            headers.insert(X_FORWARDED_PROTO, v);
        }
    }
    if !headers.contains_key(X_FORWARDED_HOST) {
        if let Some(h) = host {
            headers.insert(X_FORWARDED_HOST, h.clone());
        }
    }
}
