//! Counts what happens to spans on their way out (into the process-wide
//! [`SPANS`] handles of the metrics registry), so `Stats` can say how many
//! were dropped (the export queue is bounded: when the collector is down or
//! slow, spans are dropped rather than waited for). Spans that ended minus
//! those exported or failed is what the batch processor dropped or still holds.

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::metrics::SPANS;

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
        counter.inc_by(n);
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
        SPANS.ended.inc();
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
