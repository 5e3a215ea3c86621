//! Span export counters. There is one tracer provider per process, so these
//! handles are process-wide; every registry registers clones of the same
//! counters.

use std::sync::LazyLock;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// What happened to spans on their way to the collector.
#[derive(Debug, Default)]
pub struct SpanMetrics {
    /// Spans ended and handed to the export queue.
    pub ended: Counter,
    /// Spans the collector accepted.
    pub exported: Counter,
    /// Spans in export calls that failed (collector down, timeout).
    pub failed: Counter,
}

/// The process's span counters.
pub static SPANS: LazyLock<SpanMetrics> = LazyLock::new(SpanMetrics::default);

impl SpanMetrics {
    /// Registers the process's counters.
    pub fn register(r: &mut Registry) {
        r.register(
            "trace_spans_ended",
            "Spans handed to the export queue",
            SPANS.ended.clone(),
        );
        r.register(
            "trace_spans_exported",
            "Spans the collector accepted",
            SPANS.exported.clone(),
        );
        r.register(
            "trace_spans_failed",
            "Spans in failed exports",
            SPANS.failed.clone(),
        );
    }
}
