//! The forwarding fields (RFC 7239 and the de-facto `X-Forwarded-*` family) the gateway
//! sets for the upstream, and which peers may set them before it.

use std::io::Write as _;
use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::{FORWARDED, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO, X_REAL_IP};
use crate::config::model::Cidr;
use crate::transport::upstream::Added;

/// Whether `peer` is one of the trusted proxies (IPv4-mapped IPv6 peers match IPv4 nets).
pub fn trusted(peer: IpAddr, nets: &[Cidr]) -> bool {
    nets.iter().any(|n| n.contains(peer))
}

/// The client's address as far as the trusted proxies vouch for it: the TCP peer when it
/// is not one of `nets`; otherwise `X-Forwarded-For` read from the right (the entry a
/// trusted proxy appended is the address IT saw), skipping trusted proxies, up to the
/// first address no trusted proxy stands for. An entry that is no address (`unknown`,
/// garbage) ends the walk at the last address before it: whatever lies left of it came
/// from the client. Never an address a client merely claims.
pub fn client_ip(peer: IpAddr, peer_trusted: bool, headers: &HeaderMap, nets: &[Cidr]) -> IpAddr {
    let mut client = canonical_ip(peer);
    if !peer_trusted {
        return client;
    }
    // Several lines form one list (RFC 9110 §5.3): the last line holds the nearest hops.
    for line in headers.get_all(X_FORWARDED_FOR).iter().rev() {
        for entry in line.as_bytes().rsplit(|&b| b == b',') {
            let Some(ip) = parse_hop(entry.trim_ascii()) else {
                return client;
            };
            client = canonical_ip(ip);
            if !trusted(client, nets) {
                return client;
            }
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, also with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:80`) as some proxies write it.
fn parse_hop(entry: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(entry).ok()?;
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
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
///
/// A field the map holds (a trusted proxy's) is replaced or kept there; a field it does
/// not hold goes to `added`, which the upstream codec writes after the client's.
pub fn set_forwarded(
    headers: &mut HeaderMap,
    added: &mut Added,
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
            added.push(X_FORWARDED_FOR, xff);
        }
        if let Some(v) = proto_value(proto) {
            added.push(X_FORWARDED_PROTO, v);
        }
        if let Some(h) = host {
            added.push(X_FORWARDED_HOST, h.clone());
        }
        return;
    }

    if headers.contains_key(X_FORWARDED_FOR) {
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
        if let Ok(xff) = HeaderValue::from_maybe_shared(bytes::Bytes::from(chain)) {
            headers.insert(X_FORWARDED_FOR, xff);
        }
    } else if let Ok(xff) = HeaderValue::from_bytes(ip) {
        added.push(X_FORWARDED_FOR, xff);
    }

    if !headers.contains_key(X_FORWARDED_PROTO) {
        if let Some(v) = proto_value(proto) {
            added.push(X_FORWARDED_PROTO, v);
        }
    }
    if !headers.contains_key(X_FORWARDED_HOST) {
        if let Some(h) = host {
            added.push(X_FORWARDED_HOST, h.clone());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn nets() -> Vec<Cidr> {
        vec![
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("2001:db8:ffff::/48").unwrap(),
        ]
    }

    fn client(peer: &str, xff: &[&str]) -> String {
        let peer: IpAddr = peer.parse().unwrap();
        let mut h = HeaderMap::new();
        for line in xff {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(line).unwrap());
        }
        let trusted_peer = trusted(peer, &nets());
        client_ip(peer, trusted_peer, &h, &nets()).to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(client("203.0.113.9", &["198.51.100.1"]), "203.0.113.9");
        assert_eq!(client("::ffff:203.0.113.9", &[]), "203.0.113.9");
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right() {
        // After hygiene the chain ends with the peer itself.
        assert_eq!(
            client("10.0.0.2", &["1.1.1.1, 198.51.100.7, 10.0.0.9, 10.0.0.2"]),
            "198.51.100.7"
        );
        // Lines read as one list, last line nearest.
        assert_eq!(
            client("10.0.0.2", &["1.1.1.1", "198.51.100.7:4711", "10.0.0.2"]),
            "198.51.100.7"
        );
        assert_eq!(
            client("10.0.0.2", &["[2001:db8::5]:443, 2001:db8:ffff::1"]),
            "2001:db8::5"
        );
        // Only proxies: the leftmost one stands for the client.
        assert_eq!(client("10.0.0.2", &["10.1.1.1, 10.0.0.2"]), "10.1.1.1");
        assert_eq!(client("10.0.0.2", &[]), "10.0.0.2");
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_vouched_address() {
        assert_eq!(
            client("10.0.0.2", &["1.1.1.1, unknown, 10.0.0.9, 10.0.0.2"]),
            "10.0.0.9"
        );
        assert_eq!(client("10.0.0.2", &[", , 10.0.0.2"]), "10.0.0.2");
        assert_eq!(client("10.0.0.2", &["not-an-ip"]), "10.0.0.2");
    }
}
