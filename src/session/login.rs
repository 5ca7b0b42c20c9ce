//! Login-attempt cookies: the state, nonce, PKCE verifier and return URL of one
//! authorization request, kept encrypted in the browser until the callback.
//!
//! Owns [`LoginAttempt`], the per-attempt cookie name (derived from `state`, so several
//! tabs can log in at once), its 10-minute lifetime, and the bound of
//! [`MAX_LOGIN_ATTEMPTS`] cookies (oldest dropped first, so a polling page can never pile
//! them up into a 431). Must never accept an attempt whose `state` differs from the
//! callback's, never log state/nonce/verifier, and never panic on hostile cookies.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA256};
use http::HeaderValue;
use serde::{Deserialize, Serialize};

use super::cookie::{
    delete_cookie, delete_cookies, set_cookie, CookieNames, OwnCookie, RequestCookies,
};
use super::keys::SessionKeys;
use super::SessionError;

/// At most this many login-attempt cookies exist at once (including a new one).
pub const MAX_LOGIN_ATTEMPTS: usize = 5;
/// How long a login attempt stays valid (cookie `Max-Age` and server-side check).
pub const LOGIN_ATTEMPT_LIFETIME: Duration = Duration::from_secs(600);
/// A sealed attempt larger than this would not fit one cookie (`return_to` is ≤ 2 KiB).
const MAX_SEALED_LEN: usize = 3800;
/// Tolerated clock skew between replicas.
const FUTURE_SKEW_SECS: u64 = 60;
/// Bytes of SHA-256(state) used in the cookie name (16 hex characters).
const ID_BYTES: usize = 8;

/// One in-flight authorization request. `Debug` redacts the secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAttempt {
    /// The `state` sent to the provider (also names the cookie).
    #[serde(rename = "st")]
    pub state: String,
    /// The `nonce` the ID token must carry.
    #[serde(rename = "nn")]
    pub nonce: String,
    /// The PKCE code verifier.
    #[serde(rename = "pk")]
    pub pkce_verifier: String,
    /// Where to send the browser after login (already checked by `safe_redirect`).
    #[serde(rename = "rd")]
    pub return_to: String,
    /// Provider name.
    #[serde(rename = "prv")]
    pub provider: String,
    /// Unix seconds when the attempt started.
    #[serde(rename = "iat")]
    pub created_at: u64,
}

impl fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("id", &attempt_id(&self.state))
            .field("provider", &self.provider)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl LoginAttempt {
    fn is_live(&self, now: u64) -> bool {
        self.created_at <= now.saturating_add(FUTURE_SKEW_SECS)
            && now
                < self
                    .created_at
                    .saturating_add(LOGIN_ATTEMPT_LIFETIME.as_secs())
    }
}

/// The short id naming an attempt's cookie: 16 hex digits of SHA-256(`state`). Hashing
/// keeps the name bounded and charset-safe whatever the state looks like.
pub fn attempt_id(state: &str) -> String {
    let d = digest(&SHA256, state.as_bytes());
    d.as_ref()
        .iter()
        .take(ID_BYTES)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seals `attempt` into its own cookie `(name, value)`; the cookie name is the AEAD
/// associated data, so a value cannot be replayed under another attempt's name.
pub fn encode_login(
    attempt: &LoginAttempt,
    names: &CookieNames,
    keys: &SessionKeys,
) -> Result<(String, String), SessionError> {
    let name = names.login(&attempt_id(&attempt.state));
    let sealed = keys.seal(&name, serde_json::to_string(attempt)?)?;
    if sealed.len() > MAX_SEALED_LEN {
        return Err(SessionError::TooLarge {
            bytes: sealed.len(),
            max: MAX_SEALED_LEN,
        });
    }
    Ok((name, sealed))
}

/// The `Set-Cookie` headers for starting `attempt`: the new attempt's cookie first,
/// then deletions for attempt cookies that are unreadable, expired, or the oldest
/// beyond [`MAX_LOGIN_ATTEMPTS`] − 1 (so at most [`MAX_LOGIN_ATTEMPTS`] remain).
pub fn start_login(
    attempt: &LoginAttempt,
    cookies: &RequestCookies<'_>,
    names: &CookieNames,
    keys: &SessionKeys,
    now: u64,
) -> Result<Vec<HeaderValue>, SessionError> {
    let (name, value) = encode_login(attempt, names, keys)?;
    let mut out = vec![set_cookie(names, &name, &value, LOGIN_ATTEMPT_LIFETIME)?];
    let mut live: Vec<(u64, &str)> = Vec::new();
    let mut doomed: Vec<&str> = Vec::new();
    for (n, v) in cookies.iter() {
        if n == name || !matches!(names.classify(n), Some(OwnCookie::Login(_))) {
            continue;
        }
        if doomed.contains(&n) || live.iter().any(|(_, l)| *l == n) {
            continue;
        }
        match open_attempt(n, v, keys).filter(|a| a.is_live(now)) {
            Some(a) => live.push((a.created_at, n)),
            None => doomed.push(n),
        }
    }
    // Newest first; everything past the newest MAX − 1 goes. Timestamps have one-second
    // resolution, so ties are broken by Cookie-header order, which browsers keep in
    // creation order (RFC 6265 §5.4): reversing before the stable sort puts the later
    // (newer) of two same-second attempts first.
    live.reverse();
    live.sort_by_key(|(created, _)| std::cmp::Reverse(*created));
    doomed.extend(live.iter().skip(MAX_LOGIN_ATTEMPTS - 1).map(|(_, n)| *n));
    out.extend(delete_cookies(names, doomed));
    Ok(out)
}

fn open_attempt(name: &str, value: &str, keys: &SessionKeys) -> Option<LoginAttempt> {
    if value.len() > MAX_SEALED_LEN {
        return None;
    }
    serde_json::from_str(&keys.open(name, value)?).ok()
}

/// Finds and opens the attempt for the callback's `state`: its cookie must exist once,
/// authenticate, be live at `now`, and hold exactly this `state` (compared in constant
/// time). `None` otherwise, including login CSRF (a callback without the cookie).
pub fn finish_login(
    cookies: &RequestCookies<'_>,
    names: &CookieNames,
    keys: &SessionKeys,
    state: &str,
    now: u64,
) -> Option<LoginAttempt> {
    if state.is_empty() {
        return None;
    }
    let name = names.login(&attempt_id(state));
    let mut values = cookies.get_all(&name);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let attempt = open_attempt(&name, value, keys)?;
    verify_slices_are_equal(attempt.state.as_bytes(), state.as_bytes()).ok()?;
    attempt.is_live(now).then_some(attempt)
}

/// The deletion of the attempt cookie for `state`, sent with the callback's response
/// whatever its outcome (an attempt is single-use).
pub fn clear_login(names: &CookieNames, state: &str) -> Option<HeaderValue> {
    delete_cookie(names, &names.login(&attempt_id(state))).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
