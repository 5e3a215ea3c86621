//! One latency histogram read two ways: `/metrics` encodes it as an
//! OpenMetrics histogram (fixed buckets, `_sum`, `_count`, and per bucket the
//! trace id of its latest traced sample as an exemplar), which sums across
//! replicas; `Stats` reads percentiles. Each observation goes into both
//! halves: an `hdrhistogram` (microsecond resolution, 3 significant digits)
//! for the percentiles, and a `prometheus-client` `HistogramWithExemplars`
//! for the exposition. Two stores because neither crate does both:
//! `prometheus-client` exposes no bucket counts to read percentiles from,
//! and its `Exemplar` has no public constructor, so a hand-written encoder
//! over the hdr samples could not attach exemplars. Both locks are short and
//! never held across an await; with no trace the exemplar half allocates
//! nothing.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use opentelemetry::trace::TraceId;
use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder,
};
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
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

/// An exemplar's labels: `{trace_id="<32 hex digits>"}`, the W3C trace id
/// a tracing backend (Tempo, Jaeger) finds the request's trace by.
#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
pub struct TraceExemplar {
    trace_id: TraceIdLabel,
}

/// A trace id as a label value, formatted only when encoded (recording one
/// copies 16 bytes and allocates nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TraceIdLabel(TraceId);

impl EncodeLabelValue for TraceIdLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        fmt::Write::write_fmt(encoder, format_args!("{}", self.0))
    }
}

/// A concurrent latency histogram. Cheap to clone: clones share the samples,
/// so the handle registered for `/metrics` and the one recording are the same.
#[derive(Clone)]
pub struct LatencyHistogram {
    /// Percentiles for `Stats`.
    samples: Arc<Mutex<Histogram<u64>>>,
    /// Buckets, sum, count and exemplars for `/metrics`.
    exposed: HistogramWithExemplars<TraceExemplar>,
}

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
        LatencyHistogram {
            samples: Arc::new(Mutex::new(samples)),
            exposed: HistogramWithExemplars::new(LATENCY_BUCKETS.into_iter()),
        }
    }

    /// Records one sample (clamped into 1 µs .. 1 h).
    pub fn record(&self, d: Duration) {
        self.record_traced(d, None);
    }

    /// Records one sample; with a trace id, the sample becomes its bucket's
    /// exemplar (replacing the previous one), stamped with the time now.
    pub fn record_traced(&self, d: Duration, trace: Option<TraceId>) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_US)
            .clamp(1, MAX_US);
        if let Ok(mut h) = self.samples.lock() {
            let _ = h.record(us);
        }
        let exemplar = trace.map(|id| TraceExemplar {
            trace_id: TraceIdLabel(id),
        });
        let at = exemplar.as_ref().map(|_| SystemTime::now());
        self.exposed.observe(us as f64 / 1e6, exemplar, at);
    }

    /// Current percentiles.
    pub fn summary(&self) -> Summary {
        let Ok(s) = self.samples.lock() else {
            return Summary::default();
        };
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
}

impl TypedMetric for LatencyHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), fmt::Error> {
        self.exposed.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::{Registry, Unit};

    use super::*;

    /// The exposition of `h` alone, named `t_seconds`.
    fn encode(h: &LatencyHistogram) -> String {
        let mut registry = Registry::default();
        registry.register_with_unit("t", "test", Unit::Seconds, h.clone());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        out
    }

    /// The line of the bucket `le`.
    fn bucket(text: &str, le: &str) -> String {
        let prefix = format!("t_seconds_bucket{{le=\"{le}\"}} ");
        text.lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no bucket {le} in\n{text}"))
            .to_string()
    }

    #[test]
    fn buckets_and_percentiles_count_the_same_samples() {
        let h = LatencyHistogram::new();
        for ms in [1, 3, 3, 40, 700] {
            h.record(Duration::from_millis(ms));
        }
        let text = encode(&h);
        assert!(text.contains("t_seconds_count 5\n"), "{text}");
        assert!(text.contains("t_seconds_sum 0.747"), "{text}");
        // Cumulative, as OpenMetrics has it; 1 ms is in le=0.001.
        assert_eq!(bucket(&text, "0.001"), "t_seconds_bucket{le=\"0.001\"} 1");
        assert_eq!(bucket(&text, "0.005"), "t_seconds_bucket{le=\"0.005\"} 3");
        assert_eq!(bucket(&text, "0.05"), "t_seconds_bucket{le=\"0.05\"} 4");
        assert_eq!(bucket(&text, "1.0"), "t_seconds_bucket{le=\"1.0\"} 5");
        assert_eq!(bucket(&text, "+Inf"), "t_seconds_bucket{le=\"+Inf\"} 5");
        let s = h.summary();
        assert_eq!(s.count, 5);
        assert_eq!(s.p50_us / 100, 30);
        assert_eq!(s.max_us / 1000, 700);
    }

    #[test]
    fn samples_beyond_the_last_bucket_land_in_inf() {
        let h = LatencyHistogram::new();
        h.record(Duration::from_secs(600));
        let text = encode(&h);
        assert_eq!(bucket(&text, "120.0"), "t_seconds_bucket{le=\"120.0\"} 0");
        assert_eq!(bucket(&text, "+Inf"), "t_seconds_bucket{le=\"+Inf\"} 1");
    }

    #[test]
    fn a_traced_sample_is_its_buckets_exemplar_until_the_next_traced_one() {
        let first = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let second = TraceId::from_hex("00000000000000000000000000000abc").unwrap();
        let h = LatencyHistogram::new();
        h.record_traced(Duration::from_millis(30), Some(first));
        h.record(Duration::from_millis(3));
        let text = encode(&h);
        let line = bucket(&text, "0.05");
        let (count, exemplar) = line.split_once(" # ").unwrap();
        assert_eq!(count, "t_seconds_bucket{le=\"0.05\"} 2");
        let mut parts = exemplar.split(' ');
        assert_eq!(
            parts.next(),
            Some("{trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"}")
        );
        assert_eq!(parts.next(), Some("0.03"), "the sample's value: {line}");
        let stamp: f64 = parts.next().unwrap().parse().unwrap();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(stamp > now - 3600.0 && stamp <= now, "{line}");
        // An untraced sample carries none.
        assert!(!bucket(&text, "0.005").contains('#'), "{text}");

        // The zero-padded id keeps its 32 digits; the newer sample wins.
        h.record_traced(Duration::from_millis(25), Some(second));
        let line = bucket(&encode(&h), "0.05");
        assert!(
            line.contains("# {trace_id=\"00000000000000000000000000000abc\"} 0.025 "),
            "{line}"
        );
    }
}
