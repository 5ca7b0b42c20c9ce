//! The key file format: a YAML list of `{ sha256, sub, groups, scopes, expires }`.
//!
//! Holds hashes only: an entry that looks like a key itself is refused without being
//! echoed. A file with any bad entry is refused whole (the caller keeps the keys it had),
//! and so is an empty file, which is more likely a half-written one than "no keys"
//! (`[]` says that).

use serde::Deserialize;
use serde_yaml::Value;

use super::time::parse_timestamp;
use super::KEY_PREFIX;

/// One valid entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// The subject requests with this key act as.
    pub sub: String,
    /// Its groups.
    pub groups: Vec<String>,
    /// Its scopes.
    pub scopes: Vec<String>,
    /// Unix seconds from which the key is refused.
    pub expires: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    sha256: String,
    sub: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires: Option<Value>,
}

/// Parses a whole file; the error says which entry is wrong and why.
pub fn parse(text: &[u8]) -> Result<Vec<KeyEntry>, String> {
    let raw: Option<Vec<RawEntry>> = serde_yaml::from_slice(text).map_err(|e| {
        // serde_yaml's message names the field and position, never more than a word of
        // the file (and the file holds no secrets).
        format!("not a list of {{ sha256, sub, groups, scopes, expires }}: {e}")
    })?;
    let raw = raw.ok_or("empty file (write `[]` for a source without keys)")?;
    let mut out: Vec<KeyEntry> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let entry = entry(r).map_err(|e| format!("entry {i}: {e}"))?;
        if let Some(j) = out.iter().position(|o| o.hash == entry.hash) {
            return Err(format!("entry {i}: the same key as entry {j}"));
        }
        out.push(entry);
    }
    Ok(out)
}

fn entry(r: RawEntry) -> Result<KeyEntry, String> {
    let hex = r.sha256.trim();
    if hex.starts_with(KEY_PREFIX) {
        return Err(
            "`sha256` holds a key, not its hash: remove it from the file, treat \
                    the key as leaked, and store only its SHA-256"
                .into(),
        );
    }
    let hash = decode_hex32(hex).ok_or(
        "`sha256` must be 64 hex digits (the SHA-256 of the key, as `portcullis api-key new` \
         prints it)",
    )?;
    let sub = r.sub.trim().to_owned();
    if sub.is_empty() {
        return Err("`sub` must not be empty".into());
    }
    let groups = non_empty("groups", r.groups)?;
    let scopes = non_empty("scopes", r.scopes)?;
    let expires = match r.expires {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(parse_timestamp(&s).ok_or(
            "`expires` must be an RFC 3339 time (`2027-01-31T00:00:00Z`) or a date \
             (`2027-01-31`)",
        )?),
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or("`expires` as a number must be whole Unix seconds")?,
        ),
        Some(_) => return Err("`expires` must be a time or Unix seconds".into()),
    };
    Ok(KeyEntry {
        hash,
        sub,
        groups,
        scopes,
        expires,
    })
}

fn non_empty(what: &str, items: Vec<String>) -> Result<Vec<String>, String> {
    items
        .into_iter()
        .map(|s| {
            let s = s.trim().to_owned();
            if s.is_empty() {
                Err(format!("`{what}` must not hold an empty item"))
            } else {
                Ok(s)
            }
        })
        .collect()
}

/// 64 hex digits (either case) → 32 bytes.
pub fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
