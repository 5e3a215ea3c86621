//! Counts what happens to spans on their way out, so `Stats` can say how many
//! were dropped (the export queue is bounded: when the collector is down or
//! slow, spans are dropped rather than waited for). Spans that ended minus
//! those exported or failed is what the batch processor dropped or still holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// Process-wide span counters (there is one tracer provider per process).
#[derive(Debug, Default)]
pub struct SpanCounters {
    /// Spans ended and handed to the processor.
    pub ended: AtomicU64,
    /// Spans the collector accepted.
    pub exported: AtomicU64,
    /// Spans in export calls that failed (collector down, timeout).
    pub failed: AtomicU64,
}

/// The counters.
pub static SPANS: SpanCounters = SpanCounters {
    ended: AtomicU64::new(0),
    exported: AtomicU64::new(0),
    failed: AtomicU64::new(0),
};

/// Wraps the exporter to count exported and failed spans.
#[derive(Debug)]
pub struct CountingExporter<E>(pub E);

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.0.export(batch).await;
        let counter = if result.is_ok() {
            &SPANS.exported
        } else {
            &SPANS.failed
        };
        counter.fetch_add(n, Ordering::Relaxed);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// Wraps the batch processor to count ended spans.
#[derive(Debug)]
pub struct CountingProcessor<P>(pub P);

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        SPANS.ended.fetch_add(1, Ordering::Relaxed);
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
