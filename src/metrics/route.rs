//! The per-request counters of a route: status classes, latency, authentication
//! successes (sharded by worker: every request writes them).

use super::{Metrics, RouteMetrics, ShardedCounter};

impl Metrics {
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
