//! One configured limit of a route ([`Limit`]): its bucket keys (local hash, shared
//! Redis key), its verdict counted in the metrics and turned into the 429's error, and
//! [`Who`], the material a group of limits counts (the client before authentication, the
//! principal after).

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use prometheus::IntCounter;

use super::fields::Limited;
use super::gcra::{ceil_secs, Quota, Verdict};
use super::key::{client_of, shared_digest, Material};
use super::local::LocalStore;
use crate::auth::principal::Principal;
use crate::config::{ProviderConfig, RateLimitKey};
use crate::error::GatewayError;
use crate::transport::upstream::Added;

/// One configured limit, ready to count.
pub(super) struct Limit {
    pub(super) key: RateLimitKey,
    pub(super) quota: Quota,
    /// Its name in the RateLimit fields and shared keys: the key as written (`ip`,
    /// `header:x-api-key`), with `#2`, `#3`… for further limits of the same key.
    pub(super) policy: Arc<str>,
    pub(super) policy_field: HeaderValue,
    pub(super) local: Arc<LocalStore>,
    /// `portcullis:rl:<route>:<policy>:` (shared store only).
    pub(super) shared_prefix: String,
    /// [interval, tolerance] in µs for the script.
    pub(super) shared_args: [String; 2],
    pub(super) allowed: IntCounter,
    pub(super) limited: IntCounter,
}

/// Who a group of limits counts.
pub(super) enum Who<'a> {
    /// Before authentication: the request's fields and the (masked) client address.
    Client {
        headers: &'a HeaderMap,
        added: &'a Added,
        ip: IpAddr,
    },
    /// After authentication.
    Principal {
        principal: &'a Principal,
        provider: &'a ProviderConfig,
    },
}

impl<'a> Who<'a> {
    pub(super) fn material(&self, limit: &'a Limit) -> Material<'a> {
        match (self, &limit.key) {
            (Who::Client { headers, added, .. }, RateLimitKey::Header(name)) => {
                Material::Header(headers, added, name)
            }
            (Who::Client { ip, .. }, _) => Material::Ip(*ip),
            (
                Who::Principal {
                    principal,
                    provider,
                },
                RateLimitKey::Client,
            ) => Material::Named {
                provider: &provider.name,
                name: client_of(principal, &provider.client_id),
            },
            (
                Who::Principal {
                    principal,
                    provider,
                },
                _,
            ) => Material::Named {
                provider: &provider.name,
                name: &principal.subject,
            },
        }
    }
}

impl Limit {
    /// Counts `verdict` in the metrics; a refusal becomes the 429's error.
    pub(super) fn count(&self, verdict: Verdict) -> Result<(), GatewayError> {
        match verdict {
            Verdict::Allowed { .. } => {
                self.allowed.inc();
                Ok(())
            }
            Verdict::Limited { retry_after } => {
                self.limited.inc();
                Err(GatewayError::RateLimited(Box::new(Limited::new(
                    self.policy.clone(),
                    self.policy_field.clone(),
                    ceil_secs(retry_after),
                ))))
            }
        }
    }

    pub(super) fn local_key(&self, material: &Material<'_>) -> u64 {
        use std::hash::Hasher as _;
        let mut hasher = self.local.hasher();
        material.feed(&mut |bytes| hasher.write(bytes));
        hasher.finish()
    }

    pub(super) fn check_local(&self, material: &Material<'_>) -> Verdict {
        self.local
            .check(self.local_key(material), self.local.now(), &self.quota)
    }

    pub(super) fn shared_key(&self, material: &Material<'_>) -> String {
        let mut key = String::with_capacity(self.shared_prefix.len() + 32);
        key.push_str(&self.shared_prefix);
        key.extend(shared_digest(material).iter().map(|b| char::from(*b)));
        key
    }
}
