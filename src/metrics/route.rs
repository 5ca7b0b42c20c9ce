//! The per-request counters of a route: status classes, latency, authentication
//! successes (sharded by worker: every request writes them), resolved once per runtime
//! snapshot.

use std::sync::OnceLock;

use prometheus::IntCounter;

use super::{Metrics, ShardedCounter, ShardedHistogram};

/// The handles of one route, resolved once per runtime snapshot so the hot path does no
/// label lookup.
#[derive(Clone)]
pub struct RouteMetrics {
    /// Indexed by status class: 0 = 1xx … 4 = 5xx.
    pub by_class: [ShardedCounter; 5],
    /// Latency histogram of the route.
    pub latency: ShardedHistogram,
    /// Upstream `Set-Cookie` fields dropped on the route (they named a gateway cookie).
    pub cookies_dropped: IntCounter,
    /// Successful authentications [by bearer token, by session], resolved on first use
    /// (a route nobody authenticates on exports no such series).
    pub(super) auth_ok: [OnceLock<ShardedCounter>; 3],
}

/// Status-class label values, indexed like [`RouteMetrics::by_class`].
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

impl Metrics {
    /// Resolves the per-route handles once.
    pub fn route(&self, route: &str) -> RouteMetrics {
        RouteMetrics {
            by_class: STATUS_CLASSES.map(|c| {
                ShardedCounter::new(self.requests.with_label_values(&[route, c]), &self.folds)
            }),
            latency: self.latency.with_label_value(route),
            cookies_dropped: self.upstream_cookies_dropped.with_label_values(&[route]),
            auth_ok: Default::default(),
        }
    }

    /// Counts one authentication `outcome` on the route `name` (handles `handles`), by
    /// bearer token or by session. Successes, every request of an authenticated route, go
    /// through the route's resolved counter; failures look theirs up.
    pub fn count_auth(&self, handles: &RouteMetrics, name: &str, method: &str, outcome: &str) {
        if outcome != "ok" {
            self.auth.with_label_values(&[name, method, outcome]).inc();
            return;
        }
        let slot = match method {
            "bearer" => 0,
            "session" => 1,
            _ => 2,
        };
        handles.auth_ok[slot]
            .get_or_init(|| {
                let counter = self.auth.with_label_values(&[name, method, outcome]);
                ShardedCounter::new(counter, &self.folds)
            })
            .inc();
    }
}

impl RouteMetrics {
    /// Counts one finished request.
    pub fn observe(&self, status: u16, seconds: f64) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.by_class[class].inc();
        self.latency.observe(seconds);
    }
}
