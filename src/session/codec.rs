//! The session cookie format: what a session holds, how it is sealed, chunked, and read
//! back.
//!
//! Owns [`SessionData`], its compact JSON form, AES-256-GCM sealing under the session
//! cookie's name (see [`super::keys`]), splitting into numbered chunks and strict
//! reassembly, and the server-side `lifetime`/`idle_timeout` checks. Must never trust a
//! cookie it could not authenticate, never panic or error on hostile input (a bad cookie
//! is simply no session), and never log or `Debug`-print tokens.
//!
//! Chunking seals the whole JSON once and splits the base64 result, so one AEAD tag
//! covers every chunk: a missing, extra, reordered or altered chunk fails authentication.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cookie::{chunk_name, classify, OwnCookie, RequestCookies};
use super::keys::SessionKeys;
use super::SessionError;
use crate::auth::Claims;
use crate::config::SessionConfig;

/// Encrypted values longer than this are split into chunks of this size, keeping each
/// `Set-Cookie` (name + value + attributes) under the 4096 bytes browsers store.
pub const CHUNK_SIZE: usize = 3500;
/// At most this many chunks (~28 kB): beyond that the request headers would exceed
/// common server limits anyway, so saving fails loudly instead.
pub const MAX_CHUNKS: usize = 8;
/// A session created this far in the future (clock skew between replicas) still counts.
const FUTURE_SKEW_SECS: u64 = 60;

/// A browser session: the identity used by headers and policies, the tokens needed for
/// refresh and logout, and its times (unix seconds).
///
/// Serialised with short field names to keep the cookie small. `Debug` redacts tokens.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionData {
    /// The ID token's `sub`.
    #[serde(rename = "sub")]
    pub subject: String,
    /// Resolved username.
    #[serde(rename = "usr", default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Resolved email.
    #[serde(rename = "em", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Resolved groups/roles.
    #[serde(rename = "grp", default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Only the claims that routes' identity headers and `allow.claims` need; the flow
    /// chooses them, never the full token (it would not fit in a cookie).
    #[serde(rename = "clm", default, skip_serializing_if = "Claims::is_empty")]
    pub claims: Claims,
    /// Raw ID token, kept for `id_token_hint` at logout.
    #[serde(rename = "idt", default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Access token (for `pass_access_token` and revocation).
    #[serde(rename = "at", default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// When the access token expires (unix seconds).
    #[serde(rename = "atx", default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<u64>,
    /// Refresh token (for `refresh: true` and revocation).
    #[serde(rename = "rt", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Provider name (not its index: indices shift when a reload reorders providers).
    #[serde(rename = "prv")]
    pub provider: String,
    /// The provider's session id (`sid` claim), for back-channel logout.
    #[serde(rename = "sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the session was created (login time).
    #[serde(rename = "iat")]
    pub created_at: u64,
    /// When the session was last used (updated at most every [`SessionLimits::touch_interval`]).
    #[serde(rename = "ls")]
    pub last_seen_at: u64,
}

impl fmt::Debug for SessionData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let present = |t: &Option<String>| if t.is_some() { "<redacted>" } else { "-" };
        f.debug_struct("SessionData")
            .field("subject", &self.subject)
            .field("username", &self.username)
            .field("provider", &self.provider)
            .field("groups", &self.groups.len())
            .field("claims", &self.claims.len())
            .field("id_token", &present(&self.id_token))
            .field("access_token", &present(&self.access_token))
            .field("refresh_token", &present(&self.refresh_token))
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish_non_exhaustive()
    }
}

/// The two server-side session limits (`session.lifetime`, `session.idle_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Absolute lifetime, from `created_at`.
    pub lifetime: Duration,
    /// Idle timeout, from `last_seen_at`.
    pub idle_timeout: Duration,
}

impl SessionLimits {
    /// The limits configured in `session:`.
    pub fn from_config(cfg: &SessionConfig) -> SessionLimits {
        SessionLimits {
            lifetime: cfg.lifetime,
            idle_timeout: cfg.idle_timeout,
        }
    }

    /// How stale `last_seen_at` may get before the flow re-saves the session: a quarter
    /// of the idle timeout, at most a minute, so not every request rewrites the cookie
    /// while the idle timeout stays accurate to within that interval.
    pub fn touch_interval(&self) -> Duration {
        (self.idle_timeout / 4).min(Duration::from_secs(60))
    }
}

impl SessionData {
    /// Unix time at which the session ends: the earlier of the absolute lifetime and the
    /// idle timeout.
    pub fn expires_at(&self, limits: &SessionLimits) -> u64 {
        let absolute = self.created_at.saturating_add(limits.lifetime.as_secs());
        let idle = self
            .last_seen_at
            .saturating_add(limits.idle_timeout.as_secs());
        absolute.min(idle)
    }

    /// Whether the session is usable at `now` (and was not created in the future).
    pub fn is_live(&self, now: u64, limits: &SessionLimits) -> bool {
        self.created_at <= now.saturating_add(FUTURE_SKEW_SECS) && now < self.expires_at(limits)
    }

    /// What remains until [`SessionData::expires_at`]: the cookie's `Max-Age`.
    pub fn remaining(&self, now: u64, limits: &SessionLimits) -> Duration {
        Duration::from_secs(self.expires_at(limits).saturating_sub(now))
    }

    /// Whether `last_seen_at` is old enough that the flow should update and re-save it.
    pub fn needs_touch(&self, now: u64, limits: &SessionLimits) -> bool {
        now.saturating_sub(self.last_seen_at) >= limits.touch_interval().as_secs()
    }
}

/// Serialises and seals `data` for the session cookie called `name` (the full name, e.g.
/// `__Host-portcullis`), returning the cookies to set: `[(name, value)]`, or
/// `[(name_0, …), (name_1, …), …]` when the sealed value exceeds [`CHUNK_SIZE`].
///
/// The first key encrypts. Fails only with no keys or when more than [`MAX_CHUNKS`]
/// chunks would be needed.
pub fn encode(
    data: &SessionData,
    name: &str,
    keys: &SessionKeys,
) -> Result<Vec<(String, String)>, SessionError> {
    let json = serde_json::to_string(data)?;
    let sealed = keys.seal(name, json)?;
    split(name, sealed)
}

fn split(name: &str, sealed: String) -> Result<Vec<(String, String)>, SessionError> {
    if sealed.len() <= CHUNK_SIZE {
        return Ok(vec![(name.to_owned(), sealed)]);
    }
    let max = CHUNK_SIZE * MAX_CHUNKS;
    if sealed.len() > max {
        return Err(SessionError::TooLarge {
            bytes: sealed.len(),
            max,
        });
    }
    // Base64 is ASCII, so byte chunks are valid strings.
    Ok(sealed
        .as_bytes()
        .chunks(CHUNK_SIZE)
        .enumerate()
        .map(|(i, c)| (chunk_name(name, i), String::from_utf8_lossy(c).into_owned()))
        .collect())
}

/// Reads the session from the request's cookies: reassembles the chunks of cookie
/// `name`, authenticates and decrypts with any key, and checks the limits at `now`.
///
/// `None` for anything but a complete, authentic, live session: absent, tampered,
/// truncated, reordered, missing or extra chunk, duplicate name, foreign key, expired,
/// idle, or created in the future.
pub fn decode(
    cookies: &RequestCookies<'_>,
    name: &str,
    keys: &SessionKeys,
    now: u64,
    limits: &SessionLimits,
) -> Option<SessionData> {
    let sealed = reassemble(cookies, name)?;
    let data = open(name, &sealed, keys)?;
    data.is_live(now, limits).then_some(data)
}

/// Authenticates, decrypts and parses a reassembled session value (see
/// [`reassemble`]); liveness is not checked here.
pub fn open(name: &str, sealed: &str, keys: &SessionKeys) -> Option<SessionData> {
    open_current(name, sealed, keys).map(|(data, _)| data)
}

/// [`open`], also saying whether the current (first) key sealed it; `false`: an older
/// `session.secrets` entry did, and the session should be sealed again.
pub fn open_current(name: &str, sealed: &str, keys: &SessionKeys) -> Option<(SessionData, bool)> {
    let (json, current) = keys.open_current(name, sealed)?;
    let data: SessionData = serde_json::from_str(&json).ok()?;
    (!data.subject.is_empty()).then_some((data, current))
}

/// Concatenates the value of the unchunked cookie or of chunks `0..n` (n ≥ 2), refusing
/// any ambiguity: both forms present, a duplicate, a gap, or a non-canonical index.
pub fn reassemble(cookies: &RequestCookies<'_>, name: &str) -> Option<String> {
    let sealed = reassemble_shared(cookies, name)?;
    std::str::from_utf8(&sealed).ok().map(str::to_owned)
}

/// [`reassemble`] as bytes (a sealed value is base64url: what is not, opening refuses),
/// borrowing the request's value when the session is one cookie (the usual case, read on
/// every request: no copy, and no UTF-8 pass, over a few kB).
pub fn reassemble_shared<'a>(cookies: &RequestCookies<'a>, name: &str) -> Option<Cow<'a, [u8]>> {
    let mut whole: Option<&[u8]> = None;
    let mut chunks: [Option<&[u8]>; MAX_CHUNKS] = [None; MAX_CHUNKS];
    let mut any_chunk = false;
    for (n, v) in cookies.iter_raw() {
        match classify(name, n) {
            None | Some(OwnCookie::Login(_)) => {}
            Some(OwnCookie::Session) => {
                if whole.replace(v).is_some() {
                    return None;
                }
            }
            Some(OwnCookie::Chunk(Some(i))) if i < MAX_CHUNKS => {
                if chunks[i].replace(v).is_some() {
                    return None;
                }
                any_chunk = true;
            }
            Some(OwnCookie::Chunk(_)) => return None,
        }
    }
    match (whole, any_chunk) {
        (Some(v), false) if v.len() <= CHUNK_SIZE => Some(Cow::Borrowed(v)),
        (None, true) => {
            let n = chunks.iter().take_while(|c| c.is_some()).count();
            if n < 2 || chunks[n..].iter().any(Option::is_some) {
                return None;
            }
            Some(Cow::Owned(
                chunks
                    .iter()
                    .flatten()
                    .copied()
                    .flatten()
                    .copied()
                    .collect(),
            ))
        }
        _ => None,
    }
}

/// Names of every session cookie (whole or chunk, valid or not) the request carries:
/// what a save must overwrite or delete and what a logout must delete.
pub fn present_session_cookies<'a>(cookies: &RequestCookies<'a>, name: &str) -> Vec<&'a str> {
    let mut out: Vec<&'a str> = Vec::new();
    for (n, _) in cookies.iter_raw() {
        let own = matches!(
            classify(name, n),
            Some(OwnCookie::Session | OwnCookie::Chunk(_))
        );
        if own && !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
