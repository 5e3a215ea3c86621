//! One latency histogram read two ways: `/metrics` encodes it as an
//! OpenMetrics histogram (fixed buckets, `_sum`, `_count`), which sums
//! across replicas; `Stats` reads percentiles from the same samples. One
//! `hdrhistogram` (microsecond resolution, 3 significant digits) holds them,
//! so each observation is recorded once, under one short lock that is never
//! held across an await.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Bucket upper bounds in seconds: 1 ms to 2 min in 1-2-5 steps (roughly
/// exponential, readable `le` labels). One set for every latency, so panels
/// and alerts can compare phases.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 120.0,
];

/// Largest sample kept, in microseconds (one hour); larger ones are clamped.
const MAX_US: u64 = 3_600_000_000;

/// Percentiles of one quantity, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest.
    pub max_us: u64,
}

struct Inner {
    samples: Histogram<u64>,
    /// Exact sum of the recorded (clamped) samples, for `_sum`.
    sum_us: u64,
}

/// A concurrent latency histogram. Cheap to clone: clones share the samples,
/// so the handle registered for `/metrics` and the one recording are the same.
#[derive(Clone)]
pub struct LatencyHistogram(Arc<Mutex<Inner>>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LatencyHistogram")
            .field(&self.summary())
            .finish()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        // hdrhistogram only rejects low < 1, high < 2 * low, or sigfig > 5;
        // these constants satisfy all three, so this cannot fail.
        #[allow(clippy::expect_used)]
        let samples = Histogram::new_with_bounds(1, MAX_US, 3).expect("constant bounds are valid");
        LatencyHistogram(Arc::new(Mutex::new(Inner { samples, sum_us: 0 })))
    }

    /// Records one sample (clamped into 1 µs .. 1 h).
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        if let Ok(mut h) = self.0.lock() {
            let _ = h.samples.record(us);
            h.sum_us = h.sum_us.saturating_add(us);
        }
    }

    /// Current percentiles.
    pub fn summary(&self) -> Summary {
        let Ok(h) = self.0.lock() else {
            return Summary::default();
        };
        let s = &h.samples;
        if s.is_empty() {
            return Summary::default();
        }
        Summary {
            count: s.len(),
            p50_us: s.value_at_quantile(0.50),
            p90_us: s.value_at_quantile(0.90),
            p99_us: s.value_at_quantile(0.99),
            max_us: s.max(),
        }
    }

    /// (sum in seconds, count, per-bucket counts) with the last bucket +Inf;
    /// bucket counts are not cumulative (the encoder accumulates them).
    fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
            .iter()
            .chain(std::iter::once(&f64::INFINITY))
            .map(|le| (*le, 0))
            .collect();
        let Ok(h) = self.0.lock() else {
            return (0.0, 0, buckets);
        };
        for v in h.samples.iter_recorded() {
            // Every value in this hdr bucket is equivalent to its lowest one
            // within 0.1%; that one decides the Prometheus bucket.
            let seconds = h.samples.lowest_equivalent(v.value_iterated_to()) as f64 / 1e6;
            let i = LATENCY_BUCKETS.partition_point(|le| *le < seconds);
            buckets[i].1 += v.count_at_value();
        }
        (h.sum_us as f64 / 1e6, h.samples.len(), buckets)
    }
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        let (sum, count, buckets) = self.snapshot();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_percentiles_come_from_the_same_samples() {
        let h = LatencyHistogram::new();
        for ms in [1, 3, 3, 40, 700] {
            h.record(Duration::from_millis(ms));
        }
        let (sum, count, buckets) = h.snapshot();
        assert_eq!(count, 5);
        assert!((sum - 0.747).abs() < 1e-9, "{sum}");
        let at = |le: f64| buckets.iter().find(|b| b.0 == le).map(|b| b.1);
        assert_eq!(at(0.001), Some(1), "1 ms is in le=0.001");
        assert_eq!(at(0.005), Some(2));
        assert_eq!(at(0.05), Some(1));
        assert_eq!(at(1.0), Some(1));
        assert_eq!(at(f64::INFINITY), Some(0));
        let s = h.summary();
        assert_eq!(s.count, 5);
        assert_eq!(s.p50_us / 100, 30);
        assert_eq!(s.max_us / 1000, 700);
    }

    #[test]
    fn samples_beyond_the_last_bucket_land_in_inf() {
        let h = LatencyHistogram::new();
        h.record(Duration::from_secs(600));
        let (_, count, buckets) = h.snapshot();
        assert_eq!(count, 1);
        assert_eq!(buckets.last(), Some(&(f64::INFINITY, 1)));
    }
}
