//! Handles of the process's life: when it started and how long it took to
//! serve. Memory and GPU gauges are read at scrape time by the stats
//! module's collector (the monitors sample them in the background).

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// Process handles.
#[derive(Clone, Default)]
pub struct ProcessMetrics {
    /// Unix time the process started, seconds.
    pub start_time: Gauge<f64, AtomicU64>,
    /// Process start to serving, seconds (0 until serving).
    pub startup: Gauge<f64, AtomicU64>,
}

impl ProcessMetrics {
    /// Creates the handles, sets the start time `since_start` ago, and
    /// registers them.
    pub fn register(r: &mut Registry, since_start: Duration) -> ProcessMetrics {
        let m = ProcessMetrics::default();
        let started = SystemTime::now()
            .checked_sub(since_start)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        m.start_time.set(started.as_secs_f64());
        r.register_with_unit(
            "process_start_time",
            "Unix time the router process started",
            Unit::Seconds,
            m.start_time.clone(),
        );
        r.register_with_unit(
            "startup",
            "Process start to serving",
            Unit::Seconds,
            m.startup.clone(),
        );
        m
    }
}
