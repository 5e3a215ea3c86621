//! Latency percentiles from `hdrhistogram` (microsecond resolution, 3
//! significant digits). Recording takes a short std mutex, never across an
//! await.

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

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

/// A concurrent latency histogram (1 µs .. 1 hour).
pub struct LatencyHistogram(Mutex<Histogram<u64>>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        // hdrhistogram only rejects low < 1, high < 2 * low, or sigfig > 5;
        // these constants satisfy all three, so this cannot fail.
        #[allow(clippy::expect_used)]
        let h = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds are valid");
        LatencyHistogram(Mutex::new(h))
    }

    /// Records one sample (clamped into range).
    pub fn record(&self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, 3_600_000_000);
        if let Ok(mut h) = self.0.lock() {
            let _ = h.record(us);
        }
    }

    /// Current percentiles.
    pub fn summary(&self) -> Summary {
        let Ok(h) = self.0.lock() else {
            return Summary::default();
        };
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        }
    }
}
