//! What a limit counts by, turned into bytes that are hashed and never kept: the client
//! address (IPv6 per /64, one subscriber's usual allocation, so rotating through it
//! gains nothing), a header's values, or a provider-scoped principal or client.
//!
//! Every form is unambiguous (separators that cannot occur inside the parts), so two
//! different keys never feed the same bytes.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};

use crate::transport::upstream::Added;
use serde_json::Value;

use crate::auth::principal::Principal;

/// The claims that name the client a token was issued to, first present wins:
/// RFC 9068 / RFC 8693 `client_id`, OIDC `azp`, Okta `cid`, Entra ID v1 `appid`.
const CLIENT_CLAIMS: [&str; 4] = ["client_id", "azp", "cid", "appid"];

/// One request's key for one limit.
#[derive(Debug, Clone, Copy)]
pub enum Material<'a> {
    /// The client address (already masked by [`ip_key`]).
    Ip(IpAddr),
    /// Every value of the header as the upstream gets it (the request's, then what the
    /// gateway adds), in order; no value at all is a key of its own.
    Header(&'a HeaderMap, &'a Added, &'a HeaderName),
    /// A principal's subject or a client id, scoped by the provider that vouched for it.
    Named {
        /// The provider's name.
        provider: &'a str,
        /// The subject or client id.
        name: &'a str,
    },
}

impl Material<'_> {
    /// Feeds the key's bytes to `sink`, in one or more slices.
    pub fn feed(&self, sink: &mut impl FnMut(&[u8])) {
        match self {
            Material::Ip(IpAddr::V4(v4)) => {
                sink(&[4]);
                sink(&v4.octets());
            }
            Material::Ip(IpAddr::V6(v6)) => {
                sink(&[6]);
                sink(&v6.octets()[..8]);
            }
            Material::Header(headers, added, name) => {
                let mut any = false;
                let ours = added.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
                for value in headers.get_all(*name).iter().chain(ours) {
                    // A field value never holds a line feed.
                    sink(value.as_bytes());
                    sink(b"\n");
                    any = true;
                }
                if !any {
                    // No value: NUL, which no field value (nor "" + "\n") can be.
                    sink(b"\0");
                }
            }
            Material::Named { provider, name } => {
                // Provider names are [A-Za-z0-9._-]; 0xFF never occurs in UTF-8.
                sink(provider.as_bytes());
                sink(&[0xff]);
                sink(name.as_bytes());
            }
        }
    }
}

/// The address a limit counts: IPv4 as is, IPv6 cut to its /64 (IPv4-mapped IPv6 was
/// already made IPv4 by `client_ip`).
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// The client a principal's credential was issued to: the first string of
/// [`CLIENT_CLAIMS`], else `fallback` — the provider's `client_id`, which is exactly a
/// session's client (the gateway signed the browser in), and for a token that names no
/// client makes all such tokens one client rather than none.
pub fn client_of<'p>(principal: &'p Principal, fallback: &'p str) -> &'p str {
    CLIENT_CLAIMS
        .iter()
        .find_map(|c| match principal.claims.get(*c) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or(fallback)
}

/// The first 128 bits of SHA-256 over the key, in hex: the shared (Redis) form, the same
/// on every replica. Collisions need ~2^64 keys.
pub fn shared_digest(material: &Material<'_>) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    material.feed(&mut |b| ctx.update(b));
    let digest = ctx.finish();
    let mut hex = [0u8; 32];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in digest.as_ref().iter().take(16).enumerate() {
        hex[2 * i] = HEX[usize::from(byte >> 4)];
        hex[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    hex
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::Arc;

    use http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn bytes(m: &Material<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        m.feed(&mut |b| out.extend_from_slice(b));
        out
    }

    fn principal(claims: Value) -> Principal {
        let Value::Object(map) = claims else {
            unreachable!()
        };
        Principal {
            rendered: Default::default(),
            asserted: Default::default(),
            subject: "s".into(),
            username: None,
            email: None,
            groups: Vec::new(),
            scopes: Vec::new(),
            claims: Arc::new(map.into_iter().collect()),
            provider: 0,
        }
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(ip_key(v4), v4);
        assert_eq!(
            bytes(&Material::Ip(ip_key(a))),
            bytes(&Material::Ip(ip_key(b)))
        );
    }

    #[test]
    fn header_keys_are_unambiguous() {
        let name = HeaderName::from_static("x-key");
        let mut none = HeaderMap::new();
        none.insert("other", HeaderValue::from_static("v"));
        let mut empty = HeaderMap::new();
        empty.insert(&name, HeaderValue::from_static(""));
        let mut one = HeaderMap::new();
        one.insert(&name, HeaderValue::from_static("a,b"));
        let mut two = HeaderMap::new();
        two.append(&name, HeaderValue::from_static("a"));
        two.append(&name, HeaderValue::from_static("b"));
        let all: Vec<Vec<u8>> = [&none, &empty, &one, &two]
            .iter()
            .map(|h| bytes(&Material::Header(h, &Added::default(), &name)))
            .collect();
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j], "{i} vs {j}");
            }
        }
    }

    #[test]
    fn named_keys_are_scoped_by_provider() {
        let a = Material::Named {
            provider: "corp",
            name: "alice",
        };
        let b = Material::Named {
            provider: "cor",
            name: "palice",
        };
        assert_ne!(bytes(&a), bytes(&b));
        assert_ne!(shared_digest(&a), shared_digest(&b));
        let hex = shared_digest(&a);
        assert!(hex.iter().all(|c| c.is_ascii_hexdigit()));
        // Stable across processes (replicas must agree).
        assert_eq!(
            std::str::from_utf8(&hex).unwrap(),
            &aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"corp\xffalice")
                .as_ref()
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }

    #[test]
    fn the_client_comes_from_the_token_else_the_provider() {
        let p = principal(json!({"sub": "s", "client_id": "mobile", "azp": "web"}));
        assert_eq!(client_of(&p, "portcullis"), "mobile");
        let p = principal(json!({"sub": "s", "azp": "web"}));
        assert_eq!(client_of(&p, "portcullis"), "web");
        let p = principal(json!({"sub": "s", "cid": "okta-app", "azp": ""}));
        assert_eq!(client_of(&p, "portcullis"), "okta-app");
        let p = principal(json!({"sub": "s", "appid": 5}));
        assert_eq!(client_of(&p, "portcullis"), "portcullis");
    }
}
