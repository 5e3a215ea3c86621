//! Handles of the local model pool: how acquires found their model, what
//! happened to processes, and how long a model takes to load. The pool's
//! state gauges (loaded models, slots) are read at scrape time by the pool's
//! own collector.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::{Registry, Unit};

use super::LatencyHistogram;

/// Pool handles.
#[derive(Clone, Default)]
pub struct PoolMetrics {
    /// Acquires that found the model warm.
    pub hits: Counter,
    /// Acquires that waited for a start.
    pub cold_starts: Counter,
    /// Processes stopped for room, idleness or an unload.
    pub evictions: Counter,
    /// Processes that died or hung and were replaced.
    pub restarts: Counter,
    /// Idle children that failed their one-token generation probe (killed).
    pub generation_probe_failures: Counter,
    /// Spawn to ready.
    pub load_time: LatencyHistogram,
}

impl PoolMetrics {
    /// Creates the handles and registers them.
    pub fn register(r: &mut Registry) -> PoolMetrics {
        let m = PoolMetrics::default();
        r.register(
            "pool_warm_hits",
            "Acquires that found their model warm",
            m.hits.clone(),
        );
        r.register(
            "pool_cold_starts",
            "Acquires that waited for a model process to start",
            m.cold_starts.clone(),
        );
        r.register(
            "pool_evictions",
            "Model processes stopped for room, idleness or an unload",
            m.evictions.clone(),
        );
        r.register(
            "pool_restarts",
            "Model processes replaced after dying or hanging",
            m.restarts.clone(),
        );
        r.register(
            "pool_generation_probe_failures",
            "Idle model processes killed after failing a one-token generation probe",
            m.generation_probe_failures.clone(),
        );
        r.register_with_unit(
            "model_load_duration",
            "Model process spawn to ready",
            Unit::Seconds,
            m.load_time.clone(),
        );
        m
    }
}
