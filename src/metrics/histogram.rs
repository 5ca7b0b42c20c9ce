//! The request-latency histogram, sharded by worker thread: one Prometheus histogram
//! per worker and route, merged into one series per route when the registry is read.
//!
//! Every request observes its latency. A registered histogram is a handful of atomics
//! (count, bucket, sum) that both workers write, so their cache lines move between
//! cores on every request; here each worker observes into its own histogram, and
//! [`Collector::collect`] sums them (bucket by bucket, count, sum) into the family the
//! registered `HistogramVec` used to expose: same name, help, label and buckets. A
//! route's series lives as long as the process (as a `HistogramVec` child does), so a
//! reload never resets its counts.
//!
//! Owns the shards and their merge; the family's name and buckets are the caller's.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use prometheus::core::{Collector, Desc, Describer, Metric as _};
use prometheus::proto::{self, LabelPair, MetricFamily, MetricType};
use prometheus::{Histogram, HistogramOpts};

use crate::transport::workers::{self, Padded};

/// One route's histogram: a shard per worker.
#[derive(Clone)]
pub struct ShardedHistogram(Arc<[Padded<Histogram>]>);

impl ShardedHistogram {
    /// Observes `v` on this thread's shard.
    pub fn observe(&self, v: f64) {
        if let Some(h) = self.0.get(workers::shard_index(self.0.len())) {
            h.observe(v);
        }
    }

    /// The shards merged.
    fn merged(&self) -> proto::Histogram {
        let mut count = 0;
        let mut sum = 0.0;
        let mut buckets: Vec<proto::Bucket> = Vec::new();
        for shard in self.0.iter() {
            let metric = shard.metric();
            let h = metric.get_histogram();
            count += h.get_sample_count();
            sum += h.get_sample_sum();
            if buckets.is_empty() {
                buckets = h.get_bucket().to_vec();
            } else {
                for (total, b) in buckets.iter_mut().zip(h.get_bucket()) {
                    total.set_cumulative_count(total.cumulative_count() + b.cumulative_count());
                }
            }
        }
        let mut out = proto::Histogram::default();
        out.set_sample_count(count);
        out.set_sample_sum(sum);
        out.set_bucket(buckets);
        out
    }
}

struct Family {
    desc: Desc,
    opts: HistogramOpts,
    label: String,
    children: Mutex<BTreeMap<String, ShardedHistogram>>,
}

/// A histogram family with one variable label, sharded by worker (register a clone
/// with the registry).
#[derive(Clone)]
pub struct ShardedHistogramVec(Arc<Family>);

impl ShardedHistogramVec {
    /// The family `opts` describes, with the one variable label `label`.
    pub fn new(opts: HistogramOpts, label: &str) -> prometheus::Result<Self> {
        let common = opts.describe()?;
        let desc = Desc::new(
            common.fq_name,
            common.help,
            vec![label.to_owned()],
            HashMap::new(),
        )?;
        // The shards are made from these options later: check them now.
        Histogram::with_opts(opts.clone())?;
        Ok(ShardedHistogramVec(Arc::new(Family {
            desc,
            opts,
            label: label.to_owned(),
            children: Mutex::new(BTreeMap::new()),
        })))
    }

    /// The series of label value `value` (made on first use, kept for good).
    pub fn with_label_value(&self, value: &str) -> ShardedHistogram {
        let make = || {
            let shards: Vec<Padded<Histogram>> = (0..workers::shards())
                .filter_map(|_| Histogram::with_opts(self.0.opts.clone()).ok().map(Padded))
                .collect();
            ShardedHistogram(shards.into())
        };
        let Ok(mut children) = self.0.children.lock() else {
            return make();
        };
        children
            .entry(value.to_owned())
            .or_insert_with(make)
            .clone()
    }
}

impl Collector for ShardedHistogramVec {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let children: Vec<(String, ShardedHistogram)> = match self.0.children.lock() {
            Ok(c) => c.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => Vec::new(),
        };
        let metrics = children
            .into_iter()
            .map(|(value, child)| {
                let mut label = LabelPair::default();
                label.set_name(self.0.label.clone());
                label.set_value(value);
                let mut m = proto::Metric::from_label(vec![label]);
                m.set_histogram(child.merged());
                m
            })
            .collect();
        let mut family = MetricFamily::default();
        family.set_name(self.0.desc.fq_name.clone());
        family.set_help(self.0.desc.help.clone());
        family.set_field_type(MetricType::HISTOGRAM);
        family.set_metric(metrics);
        vec![family]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use prometheus::{Encoder, HistogramVec, Registry, TextEncoder};

    use super::*;

    fn text(registry: &Registry) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn exposes_what_one_registered_histogram_would() {
        let opts = || HistogramOpts::new("latency_seconds", "Latency").buckets(vec![0.1, 1.0]);
        let sharded_registry = Registry::new_custom(Some("p".into()), None).unwrap();
        let sharded = ShardedHistogramVec::new(opts(), "route").unwrap();
        sharded_registry
            .register(Box::new(sharded.clone()))
            .unwrap();
        let plain_registry = Registry::new_custom(Some("p".into()), None).unwrap();
        let plain = HistogramVec::new(opts(), &["route"]).unwrap();
        plain_registry.register(Box::new(plain.clone())).unwrap();

        let values = [0.05, 0.5, 5.0, 0.1];
        let api = sharded.with_label_value("api");
        // Observed from this thread and from another: both reach the series.
        api.observe(values[0]);
        api.observe(values[1]);
        let other = sharded.with_label_value("api");
        std::thread::spawn(move || {
            other.observe(values[2]);
            other.observe(values[3]);
        })
        .join()
        .unwrap();
        sharded.with_label_value("web").observe(0.2);
        for v in values {
            plain.with_label_values(&["api"]).observe(v);
        }
        plain.with_label_values(&["web"]).observe(0.2);
        assert_eq!(text(&sharded_registry), text(&plain_registry));
        assert!(
            text(&sharded_registry).contains(r#"p_latency_seconds_bucket{route="api",le="0.1"} 2"#)
        );
    }
}
