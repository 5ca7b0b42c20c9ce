//! X-Request-Id: kept from trusted peers when well-formed, generated otherwise. The
//! same id goes to the upstream, back to the client and into the access log.

use http::{HeaderMap, HeaderValue};

pub use crate::proxy::headers::X_REQUEST_ID;

/// Longest client-supplied id that is kept.
const MAX_LEN: usize = 128;

/// The id for this request.
pub fn take_or_generate(headers: &HeaderMap, peer_trusted: bool) -> HeaderValue {
    if peer_trusted {
        let mut values = headers.get_all(X_REQUEST_ID).iter();
        if let (Some(v), None) = (values.next(), values.next()) {
            if acceptable(v.as_bytes()) {
                return v.clone();
            }
        }
    }
    generate()
}

fn acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.iter().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=')
        })
}

/// 128 pseudo-random bits as 32 lowercase hex characters. Ids must be unique, not
/// secret: a per-thread wyrand generator seeded from the OS (through aws-lc) once,
/// instead of a DRBG call per request.
pub fn generate() -> HeaderValue {
    let raw = ID_RNG.with(|state| {
        let mut s = state.get();
        let hi = wyrand(&mut s);
        let lo = wyrand(&mut s);
        state.set(s);
        (u128::from(hi) << 64) | u128::from(lo)
    });
    let mut hex = [0u8; 32];
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, out) in hex.iter_mut().enumerate() {
        let nibble = (raw >> (124 - 4 * i)) & 0x0f;
        *out = DIGITS[nibble as usize];
    }
    crate::proxy::slab::header_value(&hex).unwrap_or(HeaderValue::from_static("0"))
}

thread_local! {
    static ID_RNG: std::cell::Cell<u64> = std::cell::Cell::new(seed());
}

fn seed() -> u64 {
    let mut raw = [0u8; 8];
    // aws-lc's DRBG only fails if the OS entropy source is gone; the clock still
    // separates processes then.
    if aws_lc_rs::rand::fill(&mut raw).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        raw = (nanos as u64).to_le_bytes();
    }
    u64::from_le_bytes(raw)
}

/// wyrand (Wang Yi): a 64-bit counter-based generator with a full 2^64 period.
fn wyrand(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0xa076_1d64_78bd_642f);
    let t = u128::from(*state) * u128::from(*state ^ 0xe703_7ed1_a0b4_28db);
    ((t >> 64) as u64) ^ (t as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_hex() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
    }

    #[test]
    fn kept_only_from_trusted_peers_and_when_well_formed() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(take_or_generate(&h, true), "abc-123");
        assert_ne!(take_or_generate(&h, false), "abc-123");
        h.insert(X_REQUEST_ID, HeaderValue::from_static("bad id with spaces"));
        assert_ne!(take_or_generate(&h, true), "bad id with spaces");
        h.insert(X_REQUEST_ID, HeaderValue::from_static("a"));
        h.append(X_REQUEST_ID, HeaderValue::from_static("b"));
        let id = take_or_generate(&h, true);
        assert_eq!(id.len(), 32, "two ids: neither is trusted");
        let long = "x".repeat(MAX_LEN + 1);
        h.insert(
            X_REQUEST_ID,
            HeaderValue::from_str(&long).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(take_or_generate(&h, true).len(), 32);
    }
}
