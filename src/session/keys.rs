//! Cookie encryption keys: derivation from `session.secrets` and AES-256-GCM sealing.
//!
//! Owns turning each configured secret into a `cookie::Key` and sealing/opening one value
//! under one cookie name through the `cookie` crate's private jar (AES-256-GCM, random
//! 96-bit nonce, the cookie name as associated data). Must never expose key bytes (no
//! `Debug` of them), never log values, and never panic on hostile input.

use std::fmt;

use aws_lc_rs::hkdf::{KeyType, Salt, HKDF_SHA256};
use cookie::{Cookie, CookieJar, Key};

use super::SessionError;
use crate::config::{decode_session_secret, Secret};

/// Secrets shorter than this are refused (validation enforces the same minimum).
const MIN_SECRET_BYTES: usize = 32;
/// `cookie::Key` wants 64 bytes: 32 for signing (unused here) and 32 for AES-256-GCM.
const COOKIE_KEY_BYTES: usize = 64;
/// Domain separation: a secret reused elsewhere never yields the same cookie key.
const HKDF_SALT: &[u8] = b"portcullis/session-cookie/v1";
const HKDF_INFO: &[u8] = b"cookie-0.18 private jar key (signing | aes-256-gcm)";

/// Output length marker for HKDF-expand.
struct CookieKeyLen;

impl KeyType for CookieKeyLen {
    fn len(&self) -> usize {
        COOKIE_KEY_BYTES
    }
}

/// The session cookie keys, in `session.secrets` order: the first encrypts, all decrypt.
#[derive(Clone)]
pub struct SessionKeys {
    keys: Vec<Key>,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKeys({} keys)", self.keys.len())
    }
}

impl SessionKeys {
    /// Derives one key per configured secret (base64, decoded with the same rules as
    /// config validation). Errors name the entry's index, never its value.
    pub fn from_secrets(secrets: &[Secret]) -> Result<SessionKeys, SessionError> {
        let mut raw = Vec::with_capacity(secrets.len());
        for (index, secret) in secrets.iter().enumerate() {
            match decode_session_secret(secret) {
                Some(bytes) => raw.push(bytes),
                None => return Err(SessionError::BadSecret { index }),
            }
        }
        SessionKeys::from_bytes(&raw)
    }

    /// Derives one key per raw secret (each at least 32 bytes).
    ///
    /// `cookie::Key::derive_from` is not used because it needs the crate's `sha2`/`hkdf`
    /// stack; aws-lc-rs is already the one crypto provider. HKDF-SHA256 (extract with a
    /// fixed salt, expand with a fixed info) turns a ≥ 32-byte secret into the 64 bytes
    /// `cookie::Key` requires; only its second half (the AES-256-GCM key) is used.
    pub fn from_bytes<S: AsRef<[u8]>>(secrets: &[S]) -> Result<SessionKeys, SessionError> {
        if secrets.is_empty() {
            return Err(SessionError::NoKeys);
        }
        let salt = Salt::new(HKDF_SHA256, HKDF_SALT);
        let mut keys = Vec::with_capacity(secrets.len());
        for (index, secret) in secrets.iter().enumerate() {
            let secret = secret.as_ref();
            if secret.len() < MIN_SECRET_BYTES {
                return Err(SessionError::BadSecret { index });
            }
            let mut okm = [0u8; COOKIE_KEY_BYTES];
            salt.extract(secret)
                .expand(&[HKDF_INFO], CookieKeyLen)
                .and_then(|o| o.fill(&mut okm))
                .map_err(|_| SessionError::BadSecret { index })?;
            let key = Key::try_from(&okm[..]).map_err(|_| SessionError::BadSecret { index })?;
            keys.push(key);
        }
        Ok(SessionKeys { keys })
    }

    /// Number of keys (≥ 1).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: construction refuses an empty list.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Encrypts `plaintext` with the first key, binding `name` as associated data;
    /// returns base64(nonce | ciphertext | tag).
    pub(crate) fn seal(&self, name: &str, plaintext: String) -> Result<String, SessionError> {
        let key = self.keys.first().ok_or(SessionError::NoKeys)?;
        let mut jar = CookieJar::new();
        jar.private_mut(key)
            .add(Cookie::new(name.to_owned(), plaintext));
        jar.get(name)
            .map(|c| c.value().to_owned())
            .ok_or_else(|| SessionError::InvalidHeader {
                name: name.to_owned(),
            })
    }

    /// Authenticates and decrypts `sealed` as a value of cookie `name` with each key in
    /// turn; `None` when no key opens it (tampered, truncated, foreign key, other name).
    pub(crate) fn open(&self, name: &str, sealed: &str) -> Option<String> {
        self.open_current(name, sealed).map(|(value, _)| value)
    }

    /// [`SessionKeys::open`], also saying whether the first (current) key opened it:
    /// `false` means an older `session.secrets` entry did, so the value should be
    /// sealed again with the current one before that entry is retired.
    pub(crate) fn open_current(&self, name: &str, sealed: &str) -> Option<(String, bool)> {
        let jar = CookieJar::new();
        self.keys.iter().enumerate().find_map(|(index, key)| {
            jar.private(key)
                .decrypt(Cookie::new(name.to_owned(), sealed.to_owned()))
                .map(|c| (c.value().to_owned(), index == 0))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn keys(secrets: &[&[u8]]) -> SessionKeys {
        SessionKeys::from_bytes(secrets).unwrap()
    }

    #[test]
    fn round_trip_and_name_binding() {
        let k = keys(&[&[7u8; 32]]);
        let sealed = k.seal("portcullis", "hello".into()).unwrap();
        assert!(!sealed.contains("hello"));
        assert_eq!(k.open("portcullis", &sealed).as_deref(), Some("hello"));
        // The private jar binds the cookie name as AEAD associated data.
        assert_eq!(k.open("other", &sealed), None);
        assert_eq!(k.open("portcullis_login_x", &sealed), None);
    }

    #[test]
    fn rotation_first_encrypts_all_decrypt() {
        let old = keys(&[&[1u8; 32]]);
        let rotated = keys(&[&[2u8; 32], &[1u8; 32]]);
        let by_old = old.seal("n", "v".into()).unwrap();
        assert_eq!(rotated.open("n", &by_old).as_deref(), Some("v"));
        let by_new = rotated.seal("n", "v".into()).unwrap();
        assert_eq!(old.open("n", &by_new), None, "new key must encrypt");
        // Which key opened a value: the current one, or an older one (to re-seal).
        assert_eq!(
            rotated.open_current("n", &by_old),
            Some(("v".into(), false))
        );
        assert_eq!(rotated.open_current("n", &by_new), Some(("v".into(), true)));
        assert_eq!(old.open_current("n", &by_old), Some(("v".into(), true)));
        assert_eq!(keys(&[&[2u8; 32]]).open("n", &by_new).as_deref(), Some("v"));
    }

    #[test]
    fn foreign_and_garbage_values() {
        let k = keys(&[&[3u8; 40]]);
        let foreign = keys(&[&[4u8; 32]]).seal("n", "v".into()).unwrap();
        assert_eq!(k.open("n", &foreign), None);
        for junk in [
            "",
            "=",
            "%%%",
            "AAAA",
            "not base64 at all",
            &"A".repeat(10_000),
        ] {
            assert_eq!(k.open("n", junk), None);
        }
        let good = k.seal("n", "v".into()).unwrap();
        assert_eq!(k.open("n", &good[..good.len() - 4]), None);
    }

    #[test]
    fn bad_secrets_are_refused_without_revealing_them() {
        assert!(matches!(
            SessionKeys::from_bytes::<&[u8]>(&[]),
            Err(SessionError::NoKeys)
        ));
        assert!(matches!(
            SessionKeys::from_bytes(&[&[0u8; 31][..]]),
            Err(SessionError::BadSecret { index: 0 })
        ));
        let err = SessionKeys::from_secrets(&[
            Secret::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"),
            Secret::new("hunter2!"),
        ])
        .unwrap_err();
        assert!(matches!(err, SessionError::BadSecret { index: 1 }));
        assert!(!err.to_string().contains("hunter2"));
        let ok = SessionKeys::from_secrets(&[Secret::new(
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY",
        )])
        .unwrap();
        assert_eq!(format!("{ok:?}"), "SessionKeys(1 keys)");
    }

    #[test]
    fn derivation_is_deterministic_and_secret_specific() {
        let a = keys(&[&[9u8; 32]]).seal("n", "v".into()).unwrap();
        assert_eq!(keys(&[&[9u8; 32]]).open("n", &a).as_deref(), Some("v"));
        assert_eq!(keys(&[&[9u8; 33]]).open("n", &a), None);
    }
}
