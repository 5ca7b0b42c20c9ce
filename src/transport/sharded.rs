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

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use prometheus::{IntCounter, IntGauge};

use super::workers::{self, Padded};

/// A registered metric the shards' sum is moved into.
trait Target: Send + Sync + 'static {
    fn take(&self, n: i64);
}

impl Target for IntCounter {
    fn take(&self, n: i64) {
        // A counter's shards are only ever added to.
        if let Ok(n @ 1..) = u64::try_from(n) {
            self.inc_by(n);
        }
    }
}

impl Target for IntGauge {
    fn take(&self, n: i64) {
        if n != 0 {
            self.add(n);
        }
    }
}

/// A metric and its per-worker shards.
struct Inner<T: Target> {
    target: T,
    shards: Box<[Padded<AtomicI64>]>,
}

impl<T: Target> Inner<T> {
    fn add(&self, n: i64) {
        if let Some(s) = self.shards.get(workers::shard_index(self.shards.len())) {
            s.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// What [`Folds`] keeps of a handle: its fold, whatever its metric's type.
trait Fold: Send + Sync {
    fn fold(&self);
}

impl<T: Target> Fold for Inner<T> {
    fn fold(&self) {
        let n: i64 = self
            .shards
            .iter()
            .map(|s| s.swap(0, Ordering::Relaxed))
            .sum();
        self.target.take(n);
    }
}

impl<T: Target> Drop for Inner<T> {
    fn drop(&mut self) {
        self.fold();
    }
}

/// The live sharded handles of one registry.
#[derive(Default)]
pub struct Folds(Mutex<Vec<Weak<dyn Fold>>>);

impl Folds {
    /// A handle folding into `target`, on the list of live ones.
    fn track<T: Target>(&self, target: T) -> Arc<Inner<T>> {
        let inner = Arc::new(Inner {
            target,
            shards: (0..workers::shards()).map(|_| Padded::default()).collect(),
        });
        if let Ok(mut live) = self.0.lock() {
            // Forget the dropped ones (they folded when dropped).
            live.retain(|w| w.strong_count() > 0);
            let weak: Weak<dyn Fold> = Arc::downgrade(&inner) as Weak<Inner<T>>;
            live.push(weak);
        }
        inner
    }

    /// Moves every shard's count into its registered metric.
    pub fn fold_all(&self) {
        let live: Vec<Arc<dyn Fold>> = match self.0.lock() {
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
pub struct ShardedCounter(Arc<Inner<IntCounter>>);

impl std::fmt::Debug for ShardedCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShardedCounter")
    }
}

impl ShardedCounter {
    /// A handle on `counter` (registered), folded by `folds`.
    pub fn new(counter: IntCounter, folds: &Folds) -> Self {
        ShardedCounter(folds.track(counter))
    }

    /// Adds one, on this thread's shard.
    pub fn inc(&self) {
        self.0.add(1);
    }

    /// The count so far (folds first).
    pub fn get(&self) -> u64 {
        self.0.fold();
        self.0.target.get()
    }
}

/// A gauge moved up and down per request (in-flight requests).
#[derive(Clone)]
pub struct ShardedGauge(Arc<Inner<IntGauge>>);

impl ShardedGauge {
    /// A handle on `gauge` (registered), folded by `folds`.
    pub fn new(gauge: IntGauge, folds: &Folds) -> Self {
        ShardedGauge(folds.track(gauge))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.add(1);
    }

    /// Takes one away.
    pub fn dec(&self) {
        self.0.add(-1);
    }

    /// The value (folds first).
    pub fn get(&self) -> i64 {
        self.0.fold();
        self.0.target.get()
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
