//! Browser sessions: the pure building blocks of the SSO flow.
//!
//! Owns the encrypted session-cookie format ([`codec`]), the short-lived login-attempt
//! cookies ([`login`]), `Set-Cookie`/`Cookie` handling ([`cookie`]), the store
//! abstraction ([`store`]), decoded sessions shared by the stores' caches ([`shared`])
//! and the open-redirect guard ([`redirect`]). Must never perform
//! the OIDC flow itself (that is `oidc/`), never choose a status code, and never log a
//! cookie value, token or secret.

pub mod codec;
pub mod cookie;
pub mod keys;
pub mod login;
pub mod redirect;
pub mod redis;
pub mod shared;
pub mod store;

use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;

pub use codec::{decode, encode, SessionData, SessionLimits};
pub use cookie::{strip_own_cookies, CookieNames, RequestCookies};
pub use keys::SessionKeys;
pub use login::{LoginAttempt, MAX_LOGIN_ATTEMPTS};
pub use redirect::safe_redirect;
pub use store::{CookieStore, SaveKind, SessionStore};

/// Why a session could not be written or read (a bad cookie is no session, not an error;
/// reading fails only when a server-side store is unreachable).
///
/// Messages never contain a secret, token or cookie value.
#[derive(Debug, Error)]
pub enum SessionError {
    /// `session.secrets` is empty: sessions are unavailable.
    #[error("no session secrets configured")]
    NoKeys,
    /// A `session.secrets` entry is not base64 of at least 32 bytes.
    #[error("session.secrets[{index}] is not base64 of at least 32 bytes")]
    BadSecret {
        /// Position of the offending entry (never its value).
        index: usize,
    },
    /// The encrypted value would not fit into the allowed number of cookie chunks.
    #[error("encrypted cookie value of {bytes} bytes exceeds the {max} bytes allowed")]
    TooLarge {
        /// Size of the encrypted, encoded value.
        bytes: usize,
        /// The limit it exceeded.
        max: usize,
    },
    /// Serialising the session or login state failed.
    #[error("cannot serialise session state: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A cookie name or value is not a valid header value (a bug: names are tokens and
    /// values base64).
    #[error("invalid Set-Cookie header for cookie `{name}`")]
    InvalidHeader {
        /// The cookie name (never the value).
        name: String,
    },
    /// The server-side store (Redis) is unreachable.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
}

/// Current time in unix seconds, the unit of every timestamp in this module.
///
/// A clock before 1970 reads as 0, which makes every session look expired rather than
/// panicking.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
