//! Short per-request values (the request id, the peer's `X-Forwarded-For`, the upstream
//! path) carved out of a per-thread chunk instead of one allocation each.
//!
//! A `HeaderValue` made by copying bytes is a heap block, and its first clone (the
//! request id goes to the upstream, the client and the access log) allocates a second
//! one to share it. Values cut from a shared chunk cost neither: each is a reference to
//! the chunk, a clone is a reference count. A chunk is freed when the last value cut
//! from it is dropped; a request that lives long (a long poll, a streamed response)
//! keeps at most its chunk, [`CHUNK`] bytes, alive.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};
use http::header::InvalidHeaderValue;
use http::HeaderValue;

/// The size of one chunk.
const CHUNK: usize = 1024;
/// Longer values get an allocation of their own.
const MAX_PIECE: usize = 256;

thread_local! {
    static SLAB: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// `pieces` joined, as one value cut from this thread's chunk (its own allocation when
/// longer than [`MAX_PIECE`]).
pub fn join(pieces: &[&[u8]]) -> Bytes {
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    if len > MAX_PIECE {
        return Bytes::from(pieces.concat());
    }
    SLAB.with_borrow_mut(|slab| {
        if slab.capacity() - slab.len() < len {
            *slab = BytesMut::with_capacity(CHUNK);
        }
        for p in pieces {
            slab.extend_from_slice(p);
        }
        slab.split().freeze()
    })
}

/// A header value holding a copy of `bytes` (see [`join`]).
pub fn header_value(bytes: &[u8]) -> Result<HeaderValue, InvalidHeaderValue> {
    HeaderValue::from_maybe_shared(join(&[bytes]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_copies_that_outlive_their_chunk() {
        let a = join(&[b"abc", b"", b"def"]);
        let b = header_value(b"0123456789abcdef").ok();
        // Fill well past one chunk: later values come from new chunks.
        let many: Vec<Bytes> = (0..200u8).map(|i| join(&[&[i; 40][..]])).collect();
        assert_eq!(&a[..], b"abcdef");
        assert_eq!(
            b.as_ref().map(HeaderValue::as_bytes),
            Some(&b"0123456789abcdef"[..])
        );
        for (i, v) in many.iter().enumerate() {
            assert_eq!(v.len(), 40);
            assert!(
                v.iter().all(|&x| usize::from(x) == i),
                "value {i} overwritten"
            );
        }
        let c = a.clone();
        drop(a);
        drop(many);
        assert_eq!(&c[..], b"abcdef");
    }

    #[test]
    fn long_values_and_invalid_header_bytes() {
        let long = vec![b'x'; MAX_PIECE + 1];
        assert_eq!(&join(&[&long]).to_vec(), &long);
        assert!(header_value(b"bad\r\nvalue").is_err());
        assert!(header_value(b"bad\0").is_err());
        assert_eq!(join(&[]).len(), 0);
    }
}
