//! The trace id a latency sample carries to `/metrics` as an exemplar: the
//! current span's, when spans are exported and the trace is sampled (a
//! Prometheus exemplar pointing at a trace nobody kept would be a dead
//! link). With no collector the answer costs one atomic load: the request
//! path asks on every finished request.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{TraceContextExt, TraceId};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Set once `init` installed a subscriber with the OpenTelemetry layer.
static EXPORTING: AtomicBool = AtomicBool::new(false);

pub(super) fn mark_exporting() {
    EXPORTING.store(true, Ordering::Relaxed);
}

/// The current span's trace id if it is exported and sampled.
pub fn sampled_trace_id() -> Option<TraceId> {
    if !EXPORTING.load(Ordering::Relaxed) {
        return None;
    }
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    (span_context.is_valid() && span_context.is_sampled()).then(|| span_context.trace_id())
}
