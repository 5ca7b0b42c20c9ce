//! How the token caches (verified tokens, introspection verdicts, userinfo answers) hash
//! their key, the token itself: one-shot XXH3 under a secret drawn once per process; for
//! the verified-token cache, over the signature's last bytes only.
//!
//! A lookup hashes the token (often 1 kB or more) on every request. Collisions are
//! harmless to correctness (the map compares the whole token on a hit, so one token never
//! answers for another); an attacker could at most lengthen one bucket, and only tokens
//! the gateway verified or asked the IdP about (rate-capped) are ever inserted.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64_with_secret;

/// XXH3's default secret size (its minimum is 136 bytes).
const SECRET_LEN: usize = 192;

/// The process's secret, from std's per-process random SipHash keys (infallible, unlike
/// asking the OS again).
fn secret() -> &'static [u8; SECRET_LEN] {
    static SECRET: OnceLock<[u8; SECRET_LEN]> = OnceLock::new();
    SECRET.get_or_init(|| {
        let keys = std::hash::RandomState::new();
        let mut secret = [0u8; SECRET_LEN];
        for (i, chunk) in secret.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&keys.hash_one(i).to_le_bytes());
        }
        secret
    })
}

/// The `BuildHasher` of the token caches. Unlike `xxhash_rust`'s `Xxh3Builder` with a
/// seed, building a hasher derives nothing and hashing streams nothing: a `str` key is
/// one `write` of its bytes, hashed in one call.
#[derive(Clone, Copy, Debug)]
pub struct TokenHashing {
    secret: &'static [u8; SECRET_LEN],
    /// Hash only this many last bytes (and the length) of a key; 0: all of it.
    tail: usize,
}

impl Default for TokenHashing {
    fn default() -> Self {
        TokenHashing {
            secret: secret(),
            tail: 0,
        }
    }
}

/// Bytes of a signed token's end hashed by [`TokenHashing::signature_tail`]: 24 bytes of
/// base64url, 144 bits of signature.
const SIGNATURE_TAIL: usize = 32;

impl TokenHashing {
    /// For a cache whose keys are all signed tokens that verified (the verified-token
    /// cache): the hash covers the length and the last bytes only, the signature's, which
    /// nobody without the provider's key can choose. Never for a cache an attacker can
    /// fill with tokens of their choosing (introspection verdicts, userinfo answers).
    pub fn signature_tail() -> Self {
        TokenHashing {
            tail: SIGNATURE_TAIL,
            ..TokenHashing::default()
        }
    }
}

impl BuildHasher for TokenHashing {
    type Hasher = TokenHasher;

    fn build_hasher(&self) -> TokenHasher {
        TokenHasher {
            secret: self.secret,
            tail: self.tail,
            state: 0,
        }
    }
}

/// The hasher [`TokenHashing`] builds.
#[derive(Debug)]
pub struct TokenHasher {
    secret: &'static [u8; SECRET_LEN],
    tail: usize,
    state: u64,
}

/// An odd constant (2^64 / φ): multiplying by it is a bijection that spreads low bits up.
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for TokenHasher {
    fn write(&mut self, bytes: &[u8]) {
        let bytes = match self.tail {
            0 => bytes,
            tail => &bytes[bytes.len().saturating_sub(tail)..],
        };
        self.state = self.state.rotate_left(29) ^ xxh3_64_with_secret(bytes, self.secret);
    }

    // `str`'s `Hash` ends with a 0xff byte, `[u8]`'s starts with the length: both are
    // mixed in without another XXH3 call.
    fn write_u8(&mut self, byte: u8) {
        self.state = (self.state ^ u64::from(byte)).wrapping_mul(MIX);
    }

    fn write_usize(&mut self, n: usize) {
        self.state = (self.state ^ n as u64).wrapping_mul(MIX);
    }

    fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn equal_tokens_hash_equal_and_nearby_ones_differ() {
        let h = TokenHashing::default();
        let token = "eyJhbGciOiJSUzI1NiJ9.".repeat(50);
        assert_eq!(
            h.hash_one(token.as_str()),
            h.hash_one(token.clone().as_str())
        );
        // Another builder of the same process shares the secret (caches may be rebuilt).
        assert_eq!(
            h.hash_one(token.as_str()),
            TokenHashing::default().hash_one(token.as_str())
        );
        let mut seen = std::collections::HashSet::new();
        for len in [0, 1, 16, 17, 128, 129, 240, 241, token.len()] {
            assert!(seen.insert(h.hash_one(&token[..len])), "{len}");
        }
        let mut flipped = token.clone().into_bytes();
        flipped[700] ^= 1;
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(seen.insert(h.hash_one(flipped.as_str())));
    }

    #[test]
    fn the_signature_tail_mode_hashes_the_length_and_the_last_bytes() {
        let h = TokenHashing::signature_tail();
        let token = "eyJhbGciOiJSUzI1NiJ9.".repeat(50);
        let mut head_changed = token.clone().into_bytes();
        head_changed[10] ^= 1;
        let head_changed = String::from_utf8(head_changed).unwrap();
        // `[u8]` keys (the verified-token cache's): the length prefix is mixed in.
        let hash = |t: &str| h.hash_one(t.as_bytes());
        assert_eq!(hash(&token), hash(&head_changed), "only the tail counts");
        let mut tail_changed = token.clone().into_bytes();
        tail_changed[token.len() - 5] ^= 1;
        let tail_changed = String::from_utf8(tail_changed).unwrap();
        assert_ne!(hash(&token), hash(&tail_changed));
        assert_ne!(hash(&token), hash(&token[1..]), "the length counts");
        assert_ne!(hash("ab"), hash("abc"));
    }
}
