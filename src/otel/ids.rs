//! Trace and span ids: random, never all zero (W3C Trace Context §3.2.2.3), made by a
//! per-thread wyrand generator seeded from the OS once, so an id costs a few
//! multiplications instead of a DRBG call. Ids must be unique and unpredictable enough to
//! sample on (the ratio sampler reads their low bits); they are not secrets.

use std::cell::Cell;

/// A 16-byte trace id.
pub type TraceId = [u8; 16];
/// An 8-byte span id.
pub type SpanId = [u8; 8];

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut raw = [0u8; 8];
    // aws-lc's DRBG only fails if the OS entropy source is gone; the clock and the
    // thread still separate generators then.
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

fn next() -> u64 {
    RNG.with(|cell| {
        let mut s = cell.get();
        let v = wyrand(&mut s);
        cell.set(s);
        v
    })
}

/// A new random trace id (never all zero).
pub fn trace_id() -> TraceId {
    loop {
        let (hi, lo) = (next(), next());
        if hi | lo != 0 {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&hi.to_be_bytes());
            id[8..].copy_from_slice(&lo.to_be_bytes());
            return id;
        }
    }
}

/// A new random span id (never all zero).
pub fn span_id() -> SpanId {
    loop {
        let v = next();
        if v != 0 {
            return v.to_be_bytes();
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out` (which must be twice as long).
pub fn hex_into(out: &mut [u8], bytes: &[u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}

/// A trace id as 32 lowercase hex characters.
pub fn trace_hex(id: &TraceId) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex_into(&mut out, id);
    out
}

/// Parses exactly `out.len() * 2` lowercase hex digits (W3C ids are lowercase only).
pub fn parse_hex(out: &mut [u8], hex: &[u8]) -> bool {
    if hex.len() != out.len() * 2 {
        return false;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return false,
        }
    }
    true
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip_as_hex() {
        let (a, b) = (trace_id(), trace_id());
        assert_ne!(a, b);
        let hex = trace_hex(&a);
        let mut back = [0u8; 16];
        assert!(parse_hex(&mut back, &hex));
        assert_eq!(back, a);
        assert_ne!(span_id(), span_id());
    }

    #[test]
    fn hex_parsing_is_strict() {
        let mut out = [0u8; 2];
        assert!(parse_hex(&mut out, b"0aff"));
        assert_eq!(out, [0x0a, 0xff]);
        for bad in [&b"0AFF"[..], b"0af", b"0afff", b"0ag0", b"+0af", b""] {
            assert!(!parse_hex(&mut out, bad), "{bad:?}");
        }
    }
}
