//! Counters that every request writes, sharded by worker thread and folded into their
//! registered Prometheus counter when the registry is read (`metrics::Metrics::encode`).
//!
//! A registered counter is one atomic that every worker increments: on two cores its
//! cache line moves between them on every request (perf on 2 workers: the counter
//! increments were a quarter of the cached-JWT route's authentication time). Here each
//! worker adds to its own padded shard; [`Folds::fold_all`] (before every exposition)
//! moves the shards' counts into the registered counter, and a handle that goes away
//! (a reload replaced its route) folds what it still holds. Exact at every read of the
//! registry through the metrics' `encode`.
//!
//! Owns the shards and the list of live handles; never names a metric.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use prometheus::{IntCounter, IntGauge};

use super::workers::{self, Padded};

/// What a handle folds into.
enum Target {
    Counter(IntCounter, Box<[Padded<AtomicU64>]>),
    Gauge(IntGauge, Box<[Padded<AtomicI64>]>),
}

struct Inner {
    target: Target,
}

impl Inner {
    fn fold(&self) {
        match &self.target {
            Target::Counter(c, shards) => {
                let n: u64 = shards.iter().map(|s| s.swap(0, Ordering::Relaxed)).sum();
                if n > 0 {
                    c.inc_by(n);
                }
            }
            Target::Gauge(g, shards) => {
                let n: i64 = shards.iter().map(|s| s.swap(0, Ordering::Relaxed)).sum();
                if n != 0 {
                    g.add(n);
                }
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.fold();
    }
}

fn shards<T: Default>() -> Box<[Padded<T>]> {
    (0..workers::shards()).map(|_| Padded::default()).collect()
}

/// The live sharded handles of one registry.
#[derive(Default)]
pub struct Folds(Mutex<Vec<Weak<Inner>>>);

impl Folds {
    /// A handle folding into `target`, on the list of live ones.
    fn track(&self, target: Target) -> Arc<Inner> {
        let inner = Arc::new(Inner { target });
        if let Ok(mut live) = self.0.lock() {
            // Forget the dropped ones (they folded when dropped).
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&inner));
        }
        inner
    }

    /// Moves every shard's count into its registered metric.
    pub fn fold_all(&self) {
        let live: Vec<Arc<Inner>> = match self.0.lock() {
            Ok(live) => live.iter().filter_map(Weak::upgrade).collect(),
            Err(_) => return,
        };
        for inner in live {
            inner.fold();
        }
    }
}

/// A counter incremented per request (see the module documentation).
#[derive(Clone)]
pub struct ShardedCounter(Arc<Inner>);

impl std::fmt::Debug for ShardedCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShardedCounter")
    }
}

impl ShardedCounter {
    /// A handle on `counter` (registered), folded by `folds`.
    pub fn new(counter: IntCounter, folds: &Folds) -> Self {
        ShardedCounter(folds.track(Target::Counter(counter, shards())))
    }

    /// Adds one, on this thread's shard.
    pub fn inc(&self) {
        if let Target::Counter(_, shards) = &self.0.target {
            if let Some(s) = shards.get(workers::shard_index(shards.len())) {
                s.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The count so far (folds first).
    pub fn get(&self) -> u64 {
        self.0.fold();
        match &self.0.target {
            Target::Counter(c, _) => c.get(),
            Target::Gauge(..) => 0,
        }
    }
}

/// A gauge moved up and down per request (in-flight requests).
#[derive(Clone)]
pub struct ShardedGauge(Arc<Inner>);

impl ShardedGauge {
    /// A handle on `gauge` (registered), folded by `folds`.
    pub fn new(gauge: IntGauge, folds: &Folds) -> Self {
        ShardedGauge(folds.track(Target::Gauge(gauge, shards())))
    }

    fn add(&self, n: i64) {
        if let Target::Gauge(_, shards) = &self.0.target {
            if let Some(s) = shards.get(workers::shard_index(shards.len())) {
                s.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Takes one away.
    pub fn dec(&self) {
        self.add(-1);
    }

    /// The value (folds first).
    pub fn get(&self) -> i64 {
        self.0.fold();
        match &self.0.target {
            Target::Gauge(g, _) => g.get(),
            Target::Counter(..) => 0,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_every_thread_reach_the_registered_counter_when_folded() {
        let folds = Folds::default();
        let registered = IntCounter::new("c", "c").unwrap();
        let c = ShardedCounter::new(registered.clone(), &folds);
        c.inc();
        let other = c.clone();
        std::thread::spawn(move || {
            for _ in 0..10 {
                other.inc();
            }
        })
        .join()
        .unwrap();
        // Not yet in the registered counter: in the shards.
        assert_eq!(registered.get(), 0);
        folds.fold_all();
        assert_eq!(registered.get(), 11);
        c.inc();
        assert_eq!(c.get(), 12);
        folds.fold_all();
        assert_eq!(registered.get(), 12, "folded once, not twice");
    }

    #[test]
    fn a_dropped_handle_folds_what_it_held() {
        let folds = Folds::default();
        let registered = IntCounter::new("c", "c").unwrap();
        let gauge = IntGauge::new("g", "g").unwrap();
        {
            let c = ShardedCounter::new(registered.clone(), &folds);
            let g = ShardedGauge::new(gauge.clone(), &folds);
            c.inc();
            c.inc();
            g.inc();
            g.inc();
            g.dec();
        }
        assert_eq!(registered.get(), 2);
        assert_eq!(gauge.get(), 1);
        folds.fold_all();
        assert_eq!(registered.get(), 2);
        assert!(folds
            .0
            .lock()
            .unwrap()
            .iter()
            .all(|w| w.strong_count() == 0));
    }
}
