//! Handles of admission control: requests holding permits, requests waiting
//! for them, and rejections. Per-route figures are read at scrape time by
//! the executor's route collector.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Executor handles.
#[derive(Clone, Default)]
pub struct ExecutorMetrics {
    /// Requests holding permits now.
    pub running: Gauge,
    /// Requests waiting for permits now.
    pub waiting: Gauge,
    /// Requests rejected at once because a route's queue was full.
    pub rejected: Counter,
}

impl ExecutorMetrics {
    /// Creates the handles and registers them.
    pub fn register(r: &mut Registry) -> ExecutorMetrics {
        let m = ExecutorMetrics::default();
        r.register(
            "requests_running",
            "Requests holding an executor permit",
            m.running.clone(),
        );
        r.register(
            "requests_waiting",
            "Requests waiting for an executor permit",
            m.waiting.clone(),
        );
        r.register(
            "requests_rejected",
            "Requests rejected because a route's queue was full",
            m.rejected.clone(),
        );
        m
    }
}
