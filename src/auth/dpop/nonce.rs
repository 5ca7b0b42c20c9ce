//! Server nonces for DPoP proofs (RFC 9449 §8–9), stateless: a nonce is the number of
//! the time window it was issued in plus an HMAC-SHA-256 of that number (truncated to
//! 128 bits). It is accepted in its own window and the next, so it lives between one
//! and two windows. Replicas agree on nonces when they share the key: it is derived from
//! `session.secrets[0]` when sessions are configured, else drawn at random per process
//! (then every replica issues its own, and a client balanced across replicas is asked
//! for a fresh one more often, never refused for good).

use aws_lc_rs::{constant_time, hmac};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Label mixed into the key derivation, so the key is used for nothing else.
const LABEL: &[u8] = b"portcullis dpop nonce v1";
const TAG_LEN: usize = 16;

/// The nonce key.
pub struct NonceKey {
    key: hmac::Key,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(***)")
    }
}

impl NonceKey {
    /// A key derived from a shared secret (HMAC of a fixed label under it).
    pub fn derive(secret: &[u8]) -> NonceKey {
        let outer = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derived = hmac::sign(&outer, LABEL);
        NonceKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// A random key (this process only).
    pub fn random() -> Result<NonceKey, aws_lc_rs::error::Unspecified> {
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret)?;
        Ok(NonceKey::derive(&secret))
    }

    fn tag(&self, window: u64) -> [u8; TAG_LEN] {
        let full = hmac::sign(&self.key, &window.to_be_bytes());
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        out
    }

    /// The nonce of the window `now` (Unix seconds) falls in, windows of `period` s.
    pub fn issue(&self, now: u64, period: u64) -> String {
        let window = now / period.max(1);
        let mut raw = [0u8; 8 + TAG_LEN];
        raw[..8].copy_from_slice(&window.to_be_bytes());
        raw[8..].copy_from_slice(&self.tag(window));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` was issued with this key in the current or the previous window.
    pub fn accepts(&self, nonce: &str, now: u64, period: u64) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        if raw.len() != 8 + TAG_LEN {
            return false;
        }
        let mut number = [0u8; 8];
        number.copy_from_slice(&raw[..8]);
        let window = u64::from_be_bytes(number);
        let current = now / period.max(1);
        (window == current || window.checked_add(1) == Some(current))
            && constant_time::verify_slices_are_equal(&raw[8..], &self.tag(window)).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn nonces_live_one_to_two_windows_and_only_under_their_key() {
        let key = NonceKey::derive(b"shared secret of every replica..");
        let replica = NonceKey::derive(b"shared secret of every replica..");
        let n = key.issue(1_000, 60);
        assert!(replica.accepts(&n, 1_000, 60));
        assert!(key.accepts(&n, 1_019, 60), "same window");
        assert!(key.accepts(&n, 1_079, 60), "next window");
        assert!(!key.accepts(&n, 1_080, 60), "two windows on");
        assert!(!key.accepts(&n, 900, 60), "from the future");
        assert!(!NonceKey::random().unwrap().accepts(&n, 1_000, 60));
        let mut forged = URL_SAFE_NO_PAD.decode(&n).unwrap();
        forged[7] ^= 1;
        assert!(!key.accepts(&URL_SAFE_NO_PAD.encode(&forged), 1_000, 60));
        for bad in ["", "!!", "AAAA", &n[..n.len() - 1]] {
            assert!(!key.accepts(bad, 1_000, 60), "{bad:?}");
        }
    }
}
