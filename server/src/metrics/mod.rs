//! The one metrics registry (`prometheus-client`). Each subsystem's handles
//! (counters, gauges, histograms) are a typed struct here, created and
//! registered once by [`Metrics::new`] in `build_engine` and handed to the
//! subsystem at construction; the subsystem records into them and `Stats`
//! reads the same handles. Figures that are state rather than events (pool
//! slots, route queues, memory) are registered as collectors by their owners
//! and read at scrape time. `/metrics` encodes the registry as OpenMetrics
//! text. Nothing here depends on the API or the engine: this module sits
//! below every subsystem it serves.
//!
//! Adding a metric: a field and its `register` line in the subsystem's file
//! here, and the line that records it.

pub mod collect;
mod executor;
mod latency;
mod pool;
mod process;
mod requests;
mod serve;
mod spans;
mod upstream;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::registry::Registry;

pub use executor::ExecutorMetrics;
pub use latency::{LATENCY_BUCKETS, LatencyHistogram, Summary};
pub use pool::PoolMetrics;
pub use process::ProcessMetrics;
pub use requests::{
    EndpointCounters, MAX_REQUEST_SERIES, OTHER_MODEL, RequestCounts, RequestMetrics,
};
pub use serve::{CONTENT_TYPE, spawn};
pub use spans::{SPANS, SpanMetrics};
pub use upstream::UpstreamMetrics;

/// Every metric name starts with this.
pub const PREFIX: &str = "ai_router";

/// The registry while it is being built, and every subsystem's handles.
pub struct Metrics {
    /// Request path.
    pub requests: RequestMetrics,
    /// Local model pool.
    pub pool: PoolMetrics,
    /// Admission control.
    pub executor: ExecutorMetrics,
    /// Upstream HTTP clients.
    pub upstream: UpstreamMetrics,
    /// Process life.
    pub process: ProcessMetrics,
    registry: Registry,
}

impl Metrics {
    /// Creates every handle and registers it. `since_start` is the time
    /// since the process started.
    pub fn new(since_start: Duration) -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        let r = &mut registry;
        SpanMetrics::register(r);
        Metrics {
            requests: RequestMetrics::register(r),
            pool: PoolMetrics::register(r),
            executor: ExecutorMetrics::register(r),
            upstream: UpstreamMetrics::register(r),
            process: ProcessMetrics::register(r, since_start),
            registry,
        }
    }

    /// Adds figures read at scrape time from their owner.
    pub fn register_collector(&mut self, collector: impl Collector) {
        self.registry.register_collector(Box::new(collector));
    }

    /// Ends registration: what `/metrics` encodes.
    pub fn exposition(self) -> (Exposition, Handles) {
        (
            Exposition(Arc::new(self.registry)),
            Handles {
                requests: self.requests,
                process: self.process,
            },
        )
    }
}

/// The handles the stats recorder keeps once registration is over.
pub struct Handles {
    /// Request path.
    pub requests: RequestMetrics,
    /// Process life.
    pub process: ProcessMetrics,
}

/// The finished registry. Cheap to clone.
#[derive(Clone)]
pub struct Exposition(Arc<Registry>);

impl Exposition {
    /// The registry in the OpenMetrics text format (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail; an error could only come from a
        // collector, and then the text so far is still worth serving.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.0) {
            tracing::warn!("encoding metrics: {e}");
        }
        out
    }
}

#[cfg(test)]
mod tests;
