//! The key ring: which keys are published in the JWKS and which one signs, over time and
//! across hot reloads.
//!
//! Rules (config/portcullis.example.yaml says the same to operators):
//! - a key is published from the moment this process loads it;
//! - it may sign from its *activation*: `not_before` when that is a time, else the
//!   moment this process first loaded it plus `not_before` (a duration) or
//!   `signing_key_overlap`; so a verifier that cached the JWKS (max-age = half the
//!   overlap) already holds a key before any assertion names it;
//! - of the keys of an algorithm whose activation has passed, the one listed last in
//!   `signing_keys` signs (a removed one only while no listed one may); when none may
//!   (a first start), the one activating first signs;
//! - a key removed from the config stops being a candidate only once another one
//!   activates, and stays published until `retire window` (the longest assertion ttl +
//!   the JWKS max-age) after its last signature, so a hot reload never strands an
//!   assertion in flight or a cached JWKS; `revoked: true` drops a key at once;
//! - a kid that names another key than before is refused (verifiers cache by kid).
//!
//! Key states (first load, last signature) are shared with the previous ring, so these
//! rules hold across reloads; a restart starts over (and forgets removed keys).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::keys::SigningKey;
use crate::config::{AssertionAlg, Config, NotBefore};

/// Longest JWKS max-age, whatever the overlap.
const MAX_JWKS_AGE: u64 = 3600;

/// One key and what this process has seen of it (shared across reloads).
#[derive(Debug)]
pub struct KeyState {
    key: SigningKey,
    /// Unix seconds when this process first loaded (or generated) it.
    first_seen: u64,
    /// Unix seconds of its last signature; 0 = never.
    last_signed: AtomicU64,
    /// Generated at start (no `signing_keys`): lives in this process only.
    generated: bool,
}

impl KeyState {
    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Notes a signature at `now` (keeps the key published for the retire window).
    pub fn signed_at(&self, now: u64) {
        self.last_signed.fetch_max(now, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
struct Slot {
    state: Arc<KeyState>,
    /// Unix seconds from which it may sign.
    activation: u64,
    /// In the current config (or generated for it); `false` = removed, kept for its
    /// retire window.
    listed: bool,
}

/// The keys of one runtime snapshot.
#[derive(Debug)]
pub struct KeyRing {
    slots: Vec<Slot>,
    max_age: u64,
    retire_window: u64,
}

/// Why a ring could not be built: a field path and a message.
#[derive(Debug)]
pub struct RingError {
    /// The config path (`signing_keys[1].file`).
    pub path: String,
    /// What is wrong (never key material).
    pub reason: String,
}

impl KeyRing {
    /// The ring for `config`, sharing key states with `previous`; `None` when nothing
    /// signs and no key is configured.
    pub fn build(
        config: &Config,
        previous: Option<&KeyRing>,
        now: u64,
    ) -> Result<Option<KeyRing>, RingError> {
        let signing = &config.signing;
        let wanted: Vec<(usize, AssertionAlg)> = config
            .routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.identity_assertion.as_ref().map(|a| (i, a.alg)))
            .collect();
        let live_keys = signing.keys.iter().filter(|k| !k.revoked).count();
        if wanted.is_empty() && live_keys == 0 {
            return Ok(None);
        }
        let overlap = signing.overlap.as_secs();
        let max_age = (overlap / 2).min(MAX_JWKS_AGE);
        let longest_ttl = config
            .routes
            .iter()
            .filter_map(|r| r.identity_assertion.as_ref())
            .map(|a| a.ttl.as_secs())
            .max()
            .unwrap_or(0);
        let old: &[Slot] = previous.map_or(&[], |p| &p.slots);
        let mut slots: Vec<Slot> = Vec::new();
        for (i, k) in signing.keys.iter().enumerate() {
            let Some(file) = k.file.as_deref().filter(|_| !k.revoked) else {
                continue;
            };
            let err = |field: &str, reason: String| RingError {
                path: format!("signing_keys[{i}]{field}"),
                reason,
            };
            let key = SigningKey::load(&k.kid, file).map_err(|r| err(".file", r))?;
            let state = match old.iter().find(|s| s.state.key.kid() == k.kid) {
                Some(s) if s.state.key.same_key(&key) => s.state.clone(),
                Some(_) => {
                    return Err(err(
                        ".kid",
                        format!(
                            "`{}` now names another key than before; verifiers cache keys \
                             by kid, so give a new key a new kid",
                            k.kid
                        ),
                    ))
                }
                None => Arc::new(KeyState {
                    key,
                    first_seen: now,
                    last_signed: AtomicU64::new(0),
                    generated: false,
                }),
            };
            let activation = match k.not_before {
                Some(NotBefore::At(t)) => t,
                Some(NotBefore::After(d)) => state.first_seen.saturating_add(d.as_secs()),
                None => state.first_seen.saturating_add(overlap),
            };
            slots.push(Slot {
                state,
                activation,
                listed: true,
            });
        }
        if live_keys == 0 {
            let mut algs: Vec<AssertionAlg> = wanted.iter().map(|(_, a)| *a).collect();
            algs.dedup();
            for alg in algs {
                if slots.iter().any(|s| s.state.key.alg() == alg) {
                    continue;
                }
                let reused = old
                    .iter()
                    .find(|s| s.state.generated && s.state.key.alg() == alg);
                let slot = match reused {
                    Some(s) => Slot {
                        listed: true,
                        ..s.clone()
                    },
                    None => {
                        let key = SigningKey::generate(alg).map_err(|reason| RingError {
                            path: "signing_keys".into(),
                            reason,
                        })?;
                        tracing::warn!(
                            kid = key.kid(),
                            alg = alg.as_str(),
                            "no signing_keys configured: generated a key for identity \
                             assertions; it lives in this process only, so replicas behind \
                             one JWKS URL need a shared key file (signing_keys)"
                        );
                        Slot {
                            state: Arc::new(KeyState {
                                key,
                                first_seen: now,
                                last_signed: AtomicU64::new(0),
                                generated: true,
                            }),
                            activation: now.saturating_add(overlap),
                            listed: true,
                        }
                    }
                };
                slots.push(slot);
            }
        }
        for (route, alg) in &wanted {
            if !slots.iter().any(|s| s.state.key.alg() == *alg) {
                let have: Vec<String> = slots
                    .iter()
                    .map(|s| format!("{} ({})", s.state.key.kid(), s.state.key.alg().as_str()))
                    .collect();
                return Err(RingError {
                    path: format!("routes[{route}].identity_assertion.alg"),
                    reason: format!(
                        "{}, but no signing key of that type is configured (signing_keys: {})",
                        alg.as_str(),
                        have.join(", ")
                    ),
                });
            }
        }
        let retire_window = longest_ttl + max_age;
        let revoked = |kid: &str| signing.keys.iter().any(|k| k.revoked && k.kid == kid);
        for s in old {
            let kid = s.state.key.kid();
            let signed = s.state.last_signed.load(Ordering::Relaxed);
            let recent = signed > 0 && signed.saturating_add(retire_window) > now;
            if recent && !revoked(kid) && !slots.iter().any(|n| n.state.key.kid() == kid) {
                slots.push(Slot {
                    listed: false,
                    ..s.clone()
                });
            }
        }
        let ring = KeyRing {
            slots,
            max_age,
            retire_window,
        };
        ring.log_state(now);
        Ok(Some(ring))
    }

    /// The key that signs `alg` assertions at `now` (see the module rules).
    pub fn signer(&self, alg: AssertionAlg, now: u64) -> Option<&Arc<KeyState>> {
        let of_alg = self.slots.iter().filter(|s| s.state.key.alg() == alg);
        let active = of_alg
            .clone()
            .enumerate()
            .filter(|(_, s)| s.activation <= now)
            .max_by_key(|(i, s)| (s.listed, *i));
        let chosen = match active {
            Some((_, s)) => s,
            None => of_alg.min_by_key(|s| s.activation)?,
        };
        Some(&chosen.state)
    }

    /// The keys the JWKS lists at `now`: every configured one, and removed ones still in
    /// their retire window.
    pub fn published(&self, now: u64) -> impl Iterator<Item = &SigningKey> {
        self.slots
            .iter()
            .filter(move |s| {
                s.listed || {
                    let signed = s.state.last_signed.load(Ordering::Relaxed);
                    signed.saturating_add(self.retire_window) > now
                }
            })
            .map(|s| &s.state.key)
    }

    /// The JWKS document at `now`.
    pub fn jwks(&self, now: u64) -> Vec<u8> {
        let keys: Vec<serde_json::Value> = self.published(now).map(SigningKey::jwk).collect();
        serde_json::json!({ "keys": keys }).to_string().into_bytes()
    }

    /// `Cache-Control: max-age` of the JWKS, in seconds.
    pub fn max_age(&self) -> u64 {
        self.max_age
    }

    /// How long a removed key stays published after its last signature.
    pub fn retire_window(&self) -> Duration {
        Duration::from_secs(self.retire_window)
    }

    fn log_state(&self, now: u64) {
        for s in &self.slots {
            let key = &s.state.key;
            let signs_now = self
                .signer(key.alg(), now)
                .is_some_and(|chosen| Arc::ptr_eq(chosen, &s.state));
            let state = if !s.listed {
                "removed: published until its retire window after its last signature ends"
            } else if s.activation > now && signs_now {
                "published; signs now (no key of its algorithm is active yet)"
            } else if s.activation > now {
                "published; signs once its activation time has passed"
            } else if signs_now {
                "published; signs"
            } else {
                "published; may sign"
            };
            tracing::info!(
                kid = key.kid(),
                alg = key.alg().as_str(),
                activation_in_secs = s.activation.saturating_sub(now),
                state,
                "identity assertion key"
            );
        }
    }
}
