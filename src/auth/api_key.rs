//! API keys for machine clients: the key store (hashes loaded from `api_keys[]` files,
//! swapped whole when a file changes), the lookup of a presented key, the principal a
//! key stands for, and the generation of new keys for the CLI.
//!
//! Only SHA-256 hashes are ever stored. Timing: a presented key is hashed first and the
//! digest looked up in a `HashMap` (SipHash with a per-process random seed); whatever
//! that lookup's timing reveals is about the digest of the attacker's own guess, and
//! learning digest bits of guesses brings no one closer to a key whose digest is stored
//! (that needs a SHA-256 preimage). The matched entry's digest is then compared again in
//! constant time, so no comparison in this module ever runs over secret bytes with an
//! early exit. A key, or more than a short prefix of its hash, never reaches a log line,
//! a metric or an error.

mod file;
pub mod time;
mod watch;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::credentials::TokenHash;
use super::principal::Principal;
use super::Claims;
use crate::config::{ApiKeySource, ApiKeysConfig};
use crate::metrics::MachineMetrics;

pub use file::{decode_hex32, hex, parse, KeyEntry};

/// Every generated key starts with this, so leaked keys are easy to scan for (and a key
/// pasted where its hash belongs is recognised).
pub const KEY_PREFIX: &str = "pk_";
/// The `Authorization` scheme of API keys, lower-case as schemes are compared.
pub const API_KEY_SCHEME: &str = "apikey";
/// The `provider` of a key's principal: no identity provider vouched for it.
pub const NO_PROVIDER: usize = usize::MAX;
/// Longer presented values are refused unhashed (a key is 46 characters).
pub const MAX_KEY_LEN: usize = 512;

/// One loaded key.
#[derive(Debug)]
pub struct ApiKey {
    /// The source (`api_keys[].name`) it came from.
    pub source: Arc<str>,
    hash: [u8; 32],
    /// Unix seconds from which it is refused.
    pub expires: Option<i64>,
    /// Who requests with this key are (built once per file load).
    pub principal: Arc<Principal>,
}

impl ApiKey {
    fn new(source: &Arc<str>, e: KeyEntry) -> ApiKey {
        let mut claims = Claims::new();
        claims.insert("sub".into(), Value::String(e.sub.clone()));
        claims.insert("groups".into(), json!(e.groups));
        claims.insert("scope".into(), Value::String(e.scopes.join(" ")));
        claims.insert("api_key".into(), Value::String(source.to_string()));
        if let Some(exp) = e.expires {
            claims.insert("exp".into(), json!(exp));
        }
        let principal = Principal {
            rendered: Default::default(),
            asserted: Default::default(),
            subject: e.sub.clone(),
            username: Some(e.sub),
            email: None,
            groups: e.groups,
            scopes: e.scopes,
            claims: Arc::new(claims),
            provider: NO_PROVIDER,
        };
        ApiKey {
            source: source.clone(),
            hash: e.hash,
            expires: e.expires,
            principal: Arc::new(principal),
        }
    }
}

/// Why a presented key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No source holds it (revoked, mistyped or made up).
    Unknown,
    /// It expired; names its source.
    Expired(Arc<str>),
}

type KeyMap = HashMap<[u8; 32], Arc<ApiKey>>;

/// One source: its file and its current keys.
pub(crate) struct Source {
    cfg: ApiKeySource,
    name: Arc<str>,
    keys: ArcSwap<KeyMap>,
    /// The file content the current keys came from (the watcher's baseline).
    loaded: Vec<u8>,
}

/// Every source's keys. Shared by the snapshots of one `api_keys` config.
pub struct ApiKeyStore {
    sources: Vec<Source>,
    metrics: MachineMetrics,
}

/// Reads and parses one key file.
fn load_file(path: &Path) -> Result<(Vec<u8>, Vec<KeyEntry>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let entries = parse(&bytes)?;
    Ok((bytes, entries))
}

fn key_map(name: &Arc<str>, entries: Vec<KeyEntry>) -> KeyMap {
    entries
        .into_iter()
        .map(|e| (e.hash, Arc::new(ApiKey::new(name, e))))
        .collect()
}

/// Loads every key file of `cfg` (for `check-config`): the first problem, with its
/// source, or how many keys each source holds.
pub fn check_files(cfg: &ApiKeysConfig) -> Result<Vec<(String, usize)>, String> {
    cfg.sources
        .iter()
        .enumerate()
        .map(|(i, s)| match load_file(&s.file) {
            Ok((_, entries)) => Ok((s.name.clone(), entries.len())),
            Err(e) => Err(format!(
                "api_keys[{i}] ({}): {}: {e}",
                s.name,
                s.file.display()
            )),
        })
        .collect()
}

impl ApiKeyStore {
    /// Loads every source; a source that cannot be loaded fails the whole (a start or a
    /// config reload is refused, and the running keys stay).
    pub fn load(cfg: &ApiKeysConfig, metrics: MachineMetrics) -> Result<ApiKeyStore, String> {
        let mut sources = Vec::with_capacity(cfg.sources.len());
        for (i, s) in cfg.sources.iter().enumerate() {
            let name: Arc<str> = s.name.as_str().into();
            let (loaded, entries) = load_file(&s.file).map_err(|e| {
                metrics
                    .api_key_reloads
                    .with_label_values(&[&s.name, "error"])
                    .inc();
                format!("api_keys[{i}] ({}): {}: {e}", s.name, s.file.display())
            })?;
            metrics
                .api_key_reloads
                .with_label_values(&[&s.name, "ok"])
                .inc();
            let keys = key_map(&name, entries);
            metrics
                .api_keys_loaded
                .with_label_values(&[&s.name])
                .set(i64::try_from(keys.len()).unwrap_or(i64::MAX));
            sources.push(Source {
                cfg: s.clone(),
                name,
                keys: ArcSwap::from_pointee(keys),
                loaded,
            });
        }
        Ok(ApiKeyStore { sources, metrics })
    }

    /// Whether this store serves exactly the sources of `cfg` (a reload keeps it then).
    pub fn serves(&self, cfg: &ApiKeysConfig) -> bool {
        self.sources.len() == cfg.sources.len()
            && self
                .sources
                .iter()
                .zip(&cfg.sources)
                .all(|(a, b)| a.cfg == *b)
    }

    /// The key `presented` stands for, if it is known and not expired at `now`.
    pub fn find(&self, presented: &str, now: i64) -> Result<Arc<ApiKey>, KeyRefusal> {
        let digest = TokenHash::of(presented);
        let found = self.sources.iter().find_map(|s| {
            let keys = s.keys.load();
            keys.get(&digest.0).cloned()
        });
        // Equal already (the map compared them); again in constant time, see the header.
        let found = found.filter(|k| {
            aws_lc_rs::constant_time::verify_slices_are_equal(&k.hash, &digest.0).is_ok()
        });
        let outcome = match &found {
            None => ("", "unknown"),
            Some(k) if k.expires.is_some_and(|exp| now >= exp) => (&*k.source, "expired"),
            Some(k) => (&*k.source, "ok"),
        };
        self.metrics
            .api_key_checks
            .with_label_values(&[outcome.0, outcome.1])
            .inc();
        match found {
            None => {
                tracing::debug!(key = %digest.short(), "unknown API key");
                Err(KeyRefusal::Unknown)
            }
            Some(k) if outcome.1 == "expired" => {
                tracing::debug!(key = %digest.short(), source = %k.source, "expired API key");
                Err(KeyRefusal::Expired(k.source.clone()))
            }
            Some(k) => Ok(k),
        }
    }

    /// How many keys each source holds now.
    pub fn counts(&self) -> Vec<(Arc<str>, usize)> {
        self.sources
            .iter()
            .map(|s| (s.name.clone(), s.keys.load().len()))
            .collect()
    }
}

/// A fresh key: `pk_` + base64url of 32 random bytes, and the hex SHA-256 to store.
pub fn generate() -> Result<(String, String), aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)?;
    let key = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hex(&TokenHash::of(&key).0);
    Ok((key, hash))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
