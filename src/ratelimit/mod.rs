//! Rate limits per route (`routes[].rate_limit`): GCRA token buckets keyed by the client
//! address or a header (checked BEFORE authentication, so a flood is refused without a
//! token validation, an IdP call or an upstream request) or by the principal or its
//! client (checked right AFTER authentication, before the `allow` rules).
//!
//! Buckets live in this process ([`local`]) or, with `rate_limit_store: redis`, in Redis
//! ([`shared`]), with the local buckets standing in while Redis does not answer (counted
//! per route in `portcullis_rate_limit_fallback_total`). This module only decides; the
//! 429 and its fields are chosen by `error::respond` from [`Limited`]. Metric labels are
//! route names and key types, never key values; keys are hashed and never stored.

pub mod fields;
pub mod gcra;
pub mod key;
mod limit;
pub mod local;
pub mod shared;

use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;
use prometheus::IntCounter;

pub use fields::Limited;
use gcra::Quota;
use key::{ip_key, Material};
use limit::{Limit, Who};
use local::LocalStore;
pub use shared::SharedStore;

use crate::auth::principal::Principal;
use crate::config::{Cidr, ProviderConfig, RateLimitKey, RouteConfig};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::proxy::headers::client_ip;
use crate::transport::upstream::Added;

/// A route's limits, split by when they are checked.
pub struct RouteLimits {
    before: Box<[Limit]>,
    after: Box<[Limit]>,
    shared: Option<Arc<SharedStore>>,
    route: Arc<str>,
    fallback: IntCounter,
}

/// What identifies the client before authentication.
pub struct Client<'a> {
    /// The TCP peer.
    pub peer: IpAddr,
    /// Whether the peer is one of `server.trusted_proxies`.
    pub peer_trusted: bool,
    /// `server.trusted_proxies`.
    pub trusted_proxies: &'a [Cidr],
    /// The request's fields (after hygiene).
    pub headers: &'a HeaderMap,
    /// The fields the gateway adds for the upstream (a `header:` key on one of them
    /// counts what the upstream gets).
    pub added: &'a Added,
}

impl RouteLimits {
    /// The limits of `route` (named `name`). Buckets of `previous` (the same route in the
    /// snapshot before a reload) are kept for limits of the same policy name, so a reload
    /// never hands out fresh bursts.
    pub fn build(
        route: &RouteConfig,
        name: &Arc<str>,
        previous: Option<&RouteLimits>,
        shared: Option<&Arc<SharedStore>>,
        metrics: &Metrics,
    ) -> RouteLimits {
        let mut before = Vec::new();
        let mut after = Vec::new();
        let mut seen: Vec<&RateLimitKey> = Vec::new();
        for limit in &route.rate_limit {
            let Some(quota) = Quota::of(limit) else {
                continue;
            };
            let stem = match &limit.key {
                RateLimitKey::Header(h) => format!("header:{h}"),
                other => other.label().to_owned(),
            };
            let nth = seen.iter().filter(|k| ***k == limit.key).count() + 1;
            seen.push(&limit.key);
            let policy: Arc<str> = if nth == 1 {
                Arc::from(stem)
            } else {
                Arc::from(format!("{stem}#{nth}"))
            };
            let local = previous
                .and_then(|p| p.find(&policy))
                .map(|l| l.local.clone())
                .unwrap_or_else(|| {
                    let store = Arc::new(LocalStore::new(local::MAX_KEYS));
                    LocalStore::spawn_sweeper(&store);
                    store
                });
            let (interval, tolerance) = quota.micros();
            let label = limit.key.label();
            let counter = |decision: &str| {
                metrics
                    .rate_limit
                    .with_label_values(&[name, label, decision])
            };
            let built = Limit {
                key: limit.key.clone(),
                quota,
                policy_field: fields::policy_field(&policy, &quota),
                shared_prefix: format!("portcullis:rl:{name}:{policy}:"),
                policy,
                local,
                shared_args: [interval.to_string(), tolerance.to_string()],
                allowed: counter("allowed"),
                limited: counter("limited"),
            };
            if limit.key.before_auth() {
                before.push(built);
            } else {
                after.push(built);
            }
        }
        RouteLimits {
            before: before.into_boxed_slice(),
            after: after.into_boxed_slice(),
            shared: shared.cloned(),
            route: name.clone(),
            fallback: metrics.rate_limit_fallback.with_label_values(&[name]),
        }
    }

    fn find(&self, policy: &str) -> Option<&Limit> {
        self.before
            .iter()
            .chain(self.after.iter())
            .find(|l| &*l.policy == policy)
    }

    /// Whether any limit is checked before authentication.
    #[inline]
    pub fn any_before_auth(&self) -> bool {
        !self.before.is_empty()
    }

    /// Whether any limit is checked after authentication.
    #[inline]
    pub fn any_after_auth(&self) -> bool {
        !self.after.is_empty()
    }

    /// Whether every limit is decided by local buckets, without waiting
    /// (`rate_limit_store: local`): then the `*_now` checks decide as the async ones do.
    #[inline]
    pub fn local_only(&self) -> bool {
        self.shared.is_none()
    }

    /// The `ip` and `header:` limits: `Err(RateLimited)` when one refuses.
    pub async fn check_before_auth(&self, client: &Client<'_>) -> Result<(), GatewayError> {
        self.check_all(&self.before, &self.before_who(client)).await
    }

    /// [`Self::check_before_auth`] when [`Self::local_only`].
    pub fn check_before_auth_now(&self, client: &Client<'_>) -> Result<(), GatewayError> {
        self.check_all_local(&self.before, &self.before_who(client))
    }

    /// [`Self::check_after_auth`] when [`Self::local_only`].
    pub fn check_after_auth_now(
        &self,
        principal: &Principal,
        provider: &ProviderConfig,
    ) -> Result<(), GatewayError> {
        self.check_all_local(
            &self.after,
            &Who::Principal {
                principal,
                provider,
            },
        )
    }

    fn before_who<'a>(&self, client: &Client<'a>) -> Who<'a> {
        let counts_ip = self.before.iter().any(|l| l.key == RateLimitKey::Ip);
        let ip = if counts_ip {
            ip_key(client_ip(
                client.peer,
                client.peer_trusted,
                client.headers,
                client.trusted_proxies,
            ))
        } else {
            client.peer
        };
        Who::Client {
            headers: client.headers,
            added: client.added,
            ip,
        }
    }

    /// The `principal` and `client` limits for `principal`, vouched for by `provider`.
    pub async fn check_after_auth(
        &self,
        principal: &Principal,
        provider: &ProviderConfig,
    ) -> Result<(), GatewayError> {
        self.check_all(
            &self.after,
            &Who::Principal {
                principal,
                provider,
            },
        )
        .await
    }

    /// Every limit of a group must admit; one decision for the group: when one refuses,
    /// those that admitted give their request back (as nginx's `limit_req` accounts
    /// several zones), so a request refused by one limit never drains another.
    async fn check_all(&self, limits: &[Limit], who: &Who<'_>) -> Result<(), GatewayError> {
        if self.shared.is_none() {
            // Local buckets only: no await on the hot path.
            return self.check_all_local(limits, who);
        }
        // Bit i: limit i was answered by the shared store (validation allows ≤ 16 limits).
        let mut shared = 0u64;
        for (i, limit) in limits.iter().enumerate() {
            let bit = 1u64
                .checked_shl(u32::try_from(i).unwrap_or(u32::MAX))
                .unwrap_or(0);
            match self.check(limit, &who.material(limit)).await {
                Ok(true) => shared |= bit,
                Ok(false) => {}
                Err(refused) => {
                    for (j, earlier) in limits[..i].iter().enumerate() {
                        let bit = 1u64.checked_shl(u32::try_from(j).unwrap_or(u32::MAX));
                        let was_shared = bit.is_some_and(|b| shared & b != 0);
                        self.refund(earlier, &who.material(earlier), was_shared)
                            .await;
                    }
                    return Err(refused);
                }
            }
        }
        Ok(())
    }

    /// [`RouteLimits::check_all`] with the local buckets (`rate_limit_store: local`).
    fn check_all_local(&self, limits: &[Limit], who: &Who<'_>) -> Result<(), GatewayError> {
        for (i, limit) in limits.iter().enumerate() {
            let verdict = limit.check_local(&who.material(limit));
            if let Err(refused) = limit.count(verdict) {
                for earlier in &limits[..i] {
                    let key = earlier.local_key(&who.material(earlier));
                    earlier.local.refund(key, earlier.quota.interval_ns());
                }
                return Err(refused);
            }
        }
        Ok(())
    }

    /// One limit's verdict: `Ok(true)` when the shared store answered, `Ok(false)` when
    /// the local bucket did (local store, or fallback).
    async fn check(&self, limit: &Limit, material: &Material<'_>) -> Result<bool, GatewayError> {
        let (verdict, shared) = match &self.shared {
            None => (limit.check_local(material), false),
            Some(shared) => {
                let key = limit.shared_key(material);
                let args = [limit.shared_args[0].as_str(), limit.shared_args[1].as_str()];
                match shared.check(&key, &args).await {
                    Ok(verdict) => (verdict, true),
                    Err(why) => {
                        self.fallback.inc();
                        shared.warn_fallback(&self.route, why);
                        (limit.check_local(material), false)
                    }
                }
            }
        };
        limit.count(verdict).map(|()| shared)
    }

    async fn refund(&self, limit: &Limit, material: &Material<'_>, shared: bool) {
        match (&self.shared, shared) {
            (Some(store), true) => {
                store
                    .refund(&limit.shared_key(material), &limit.shared_args[0])
                    .await;
            }
            _ => limit
                .local
                .refund(limit.local_key(material), limit.quota.interval_ns()),
        }
    }
}

#[cfg(test)]
mod tests;
