//! Logs and traces. Logs go to stderr (text or JSON lines); traces go to an
//! OTLP collector over gRPC when one is configured, through a batch span
//! processor whose queue is bounded, so a collector that is down or slow
//! costs requests nothing (spans are dropped, never waited for). With no
//! collector configured no OpenTelemetry layer is installed at all.
//!
//! The standard variables apply: `OTEL_EXPORTER_OTLP_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (enable export), `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and `_ARG`.
//!
//! Spans carry model ids, sizes, codes and timings, never prompt or
//! completion text, and never keys.

mod counting;
mod exemplar;
mod propagation;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing::subscriber::Interest;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{DynFilterFn, FilterExt};
use tracing_subscriber::layer::Context;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use exemplar::sampled_trace_id;
pub use propagation::{extract_parent, inject_current, trace_id_of};

/// Target of per-request events that belong in traces only (a span event
/// such as "first token"): never written to the log, where one line per
/// request would cost a formatted write on the hot path.
pub const SPAN_EVENT: &str = "ai_router::span_event";

/// Spans buffered for export before new ones are dropped.
const EXPORT_QUEUE: usize = 4096;

/// How to set up logs and traces.
#[derive(Debug, Clone, Default)]
pub struct TelemetryOptions {
    /// Log filter (EnvFilter syntax).
    pub log_filter: String,
    /// JSON log lines instead of text.
    pub log_json: bool,
    /// OTLP gRPC endpoint; None: the `OTEL_EXPORTER_OTLP_*` variables, if set.
    pub otlp_endpoint: Option<String>,
}

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The exporter could not be built.
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
}

/// Keeps the tracer provider alive; `shutdown` flushes buffered spans.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether traces are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes and stops the exporter (bounded by the SDK's export timeout).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber (and, when a collector is configured, the
/// OpenTelemetry layer and the W3C trace-context propagator). Must be called
/// inside a Tokio runtime when exporting. A second call in one process keeps
/// the first subscriber.
pub fn init(options: &TelemetryOptions) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_new(&options.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs take events only. Spans go to traces; formatting every span's
    // fields into the log layer on every request (a formatted string per
    // span, kept for a log line that is rarely written) cost more than any
    // other single step of a warm call.
    let log_events = events_only(|meta| meta.target() != SPAN_EVENT);
    let provider = match otlp_endpoint(options) {
        Some(endpoint) => Some(provider(endpoint)?),
        None => None,
    };
    // Only the router's own spans are exported, whatever the log filter says
    // (a `warn` log level must not switch tracing off).
    let otel = provider.as_ref().map(|p| {
        // Source location, thread, target and busy/idle timings would add
        // six attributes and per-poll bookkeeping to every span; the span
        // names and GenAI attributes already say what a reader needs.
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("ai-router"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(EnvFilter::new("ai_router=info"))
    });
    if provider.is_some() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
    }
    // With no collector nothing reads spans: a global filter turns every
    // span callsite off, so the request path creates none at all.
    let spans_off = provider.is_none().then(|| events_only(|_| true));
    let registry = tracing_subscriber::registry().with(spans_off).with(otel);
    let installed = if options.log_json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_filter(filter.and(log_events)),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(filter.and(log_events)),
            )
            .try_init()
    };
    // Only the subscriber that won reads spans: a second init's OTel layer
    // is dropped, so its flag must not claim trace ids exist.
    if installed.is_ok() && provider.is_some() {
        exemplar::mark_exporting();
    }
    Ok(Telemetry { provider })
}

/// A filter passing the events `keep` accepts and no span. Decided once per
/// callsite (its interest is cached), so a filtered callsite costs nothing
/// per call.
fn events_only<S>(
    keep: fn(&tracing::Metadata<'_>) -> bool,
) -> DynFilterFn<
    S,
    impl Fn(&tracing::Metadata<'_>, &Context<'_, S>) -> bool,
    impl Fn(&'static tracing::Metadata<'static>) -> Interest,
> {
    let wanted = move |meta: &tracing::Metadata<'_>| meta.is_event() && keep(meta);
    DynFilterFn::new(move |meta, _| wanted(meta)).with_callsite_filter(move |meta| {
        if wanted(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    })
}

fn otlp_endpoint(options: &TelemetryOptions) -> Option<Option<String>> {
    if let Some(e) = &options.otlp_endpoint {
        return Some(Some(e.clone()));
    }
    let from_env = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    // None inside: let the exporter read the variables itself.
    from_env.then_some(None)
}

fn provider(endpoint: Option<String>) -> Result<SdkTracerProvider, TelemetryError> {
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_tonic();
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let exporter = builder
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let processor = BatchSpanProcessor::builder(counting::CountingExporter(exporter))
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(EXPORT_QUEUE)
                .build(),
        )
        .build();
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("ai-router");
    }
    Ok(SdkTracerProvider::builder()
        .with_span_processor(counting::CountingProcessor(processor))
        .with_resource(resource.build())
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spans_get_trace_ids_when_exporting() {
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let telemetry = init(&TelemetryOptions {
            log_filter: "error".into(),
            log_json: false,
            otlp_endpoint: Some(format!("http://{dead}")),
        })
        .unwrap();
        assert!(telemetry.exporting());
        let span = tracing::info_span!("probe");
        assert_eq!(trace_id_of(&span).len(), 32, "{:?}", trace_id_of(&span));
        let mut headers = reqwest::header::HeaderMap::new();
        span.in_scope(|| inject_current(&mut headers));
        let traceparent = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(traceparent.contains(&trace_id_of(&span)), "{headers:?}");
        // The exemplar's trace id is the current span's, and none outside one.
        let sampled = span.in_scope(sampled_trace_id).map(|id| id.to_string());
        assert_eq!(sampled, Some(trace_id_of(&span)));
        assert_eq!(sampled_trace_id(), None);
    }
}
