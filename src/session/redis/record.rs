//! What the Redis store writes: opaque session ids, the Redis key names derived from
//! them, the encrypted record, and the Lua scripts that keep multi-step updates atomic on
//! one key (every script touches a single key, so it also runs on a Redis Cluster).
//!
//! Must never use a raw session id as (part of) a Redis key (keys are SHA-256 of it), and
//! never write a record that is not sealed with the session key and bound to its key.

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::session::codec::SessionData;
use crate::session::keys::SessionKeys;
use crate::session::SessionError;

/// Bytes of randomness in a session id (256 bits).
pub const ID_BYTES: usize = 32;
/// Prefix of every key the store writes.
pub const PREFIX: &str = "portcullis";

/// A fresh random session id (base64url, 43 characters).
pub fn new_id() -> Result<String, SessionError> {
    let mut bytes = [0u8; ID_BYTES];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| SessionError::Unavailable("no randomness for a session id".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `id` has the shape [`new_id`] produces.
pub fn is_id(id: &str) -> bool {
    id.len() == 43
        && URL_SAFE_NO_PAD
            .decode(id)
            .is_ok_and(|b| b.len() == ID_BYTES)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest(&SHA256, bytes).as_ref())
}

/// Lower-case hex of `bytes` (a table lookup per nibble: `write!` per byte costs more
/// than the hash it prints).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The handle of one session: `sha256(id)` in hex, used in every key and index.
pub fn handle_of(id: &str) -> String {
    sha256_hex(id.as_bytes())
}

/// `portcullis:s:<handle>`: the record.
pub fn record_key(handle: &str) -> String {
    format!("{PREFIX}:s:{handle}")
}

/// `portcullis:lock:<handle>`: the cross-replica refresh lock.
pub fn lock_key(handle: &str) -> String {
    format!("{PREFIX}:lock:{handle}")
}

/// `portcullis:sid:<provider>:<sid>`: set of handles with this provider session id.
pub fn sid_key(provider: &str, sid: &str) -> String {
    format!("{PREFIX}:sid:{provider}:{sid}")
}

/// `portcullis:sub:<provider>:<sub>`: set of handles of this user.
pub fn sub_key(provider: &str, sub: &str) -> String {
    format!("{PREFIX}:sub:{provider}:{sub}")
}

/// `portcullis:jti:<provider>:<sha256(jti)>`: a logout token already used.
pub fn jti_key(provider: &str, jti: &str) -> String {
    format!("{PREFIX}:jti:{provider}:{}", sha256_hex(jti.as_bytes()))
}

/// The index sets a session belongs to.
pub fn index_keys(data: &SessionData) -> Vec<String> {
    let mut out = vec![sub_key(&data.provider, &data.subject)];
    if let Some(sid) = data.sid.as_deref().filter(|s| !s.is_empty()) {
        out.push(sid_key(&data.provider, sid));
    }
    out
}

#[derive(Serialize, Deserialize)]
struct Record {
    /// Format version, for later migrations.
    v: u8,
    d: SessionData,
}

/// Seals `data` for the record at `key` (the key is the associated data: a record
/// copied to another key does not open).
pub fn seal(keys: &SessionKeys, key: &str, data: &SessionData) -> Result<String, SessionError> {
    let json = serde_json::to_string(&Record {
        v: 1,
        d: data.clone(),
    })?;
    keys.seal(key, json)
}

/// Opens the record stored at `key`; `None` when it does not authenticate or parse.
pub fn open(keys: &SessionKeys, key: &str, sealed: &str) -> Option<SessionData> {
    open_current(keys, key, sealed).map(|(data, _)| data)
}

/// [`open`], also saying whether the current (first) key sealed it.
pub fn open_current(keys: &SessionKeys, key: &str, sealed: &str) -> Option<(SessionData, bool)> {
    let (json, current) = keys.open_current(key, sealed)?;
    let rec: Record = serde_json::from_str(&json).ok()?;
    (rec.v == 1).then_some((rec.d, current))
}

/// Keeps the newer tokens when an update races a refresh on another replica: a touch
/// computed from the pre-refresh record must not put the rotated-away refresh token
/// back. `last_seen_at` is the later of both.
pub fn merge(mut ours: SessionData, stored: &SessionData) -> SessionData {
    let newer = |d: &SessionData| d.access_token_expires_at.unwrap_or(0);
    if newer(stored) > newer(&ours) && stored.refresh_token != ours.refresh_token {
        ours.access_token = stored.access_token.clone();
        ours.access_token_expires_at = stored.access_token_expires_at;
        ours.refresh_token = stored.refresh_token.clone();
        ours.id_token = stored.id_token.clone();
    }
    ours.last_seen_at = ours.last_seen_at.max(stored.last_seen_at);
    ours
}

/// SET the record only if its current value is still the one read (compare-and-set by
/// SHA-1 of the value). KEYS[1] record; ARGV: expected sha1 ("" = must be absent),
/// new value, TTL in ms, and (optional) a channel on which an update announces the
/// record's key, atomically with the write. Returns 1 when written, 0 when the value
/// changed, -1 when the record is gone (logged out meanwhile: never resurrect it).
pub const CAS: &str = r#"
local cur = redis.call('GET', KEYS[1])
if not cur then
  if ARGV[1] == '' then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
  end
  return -1
end
if redis.sha1hex(cur) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[4] then redis.call('PUBLISH', ARGV[4], KEYS[1]) end
return 1
"#;

/// Adds a handle to an index set and makes the set live at least as long as the
/// session. KEYS[1] index; ARGV: handle, TTL in ms.
pub const INDEX_ADD: &str = r#"
redis.call('SADD', KEYS[1], ARGV[1])
local t = redis.call('PTTL', KEYS[1])
if t < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"#;

/// Deletes the lock only if we still own it. KEYS[1] lock; ARGV[1] our token.
pub const UNLOCK: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// SHA-1 hex of a value, as Lua's `redis.sha1hex` computes it (for [`CAS`]).
pub fn sha1_hex(value: &str) -> String {
    hex(digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        value.as_bytes(),
    )
    .as_ref())
}
