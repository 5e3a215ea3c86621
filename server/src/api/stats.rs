//! `Stats`: the router's counters, percentiles and pool state in one call.

use std::sync::atomic::Ordering;

use ai_router_proto::v1 as pb;

use super::convert::{duration, summary};
use crate::engine::Engine;
use crate::stats::process_rss_bytes;

pub fn build(engine: &Engine) -> pb::StatsResponse {
    let s = &engine.stats;
    let pool = engine.pool.summary();
    let exec = engine.executor.counters();
    let up = &engine.upstream_counters;
    let lookups = pool.hits + pool.cold_starts;
    pb::StatsResponse {
        uptime: Some(duration(s.uptime())),
        startup_time: Some(duration(s.startup_time())),
        requests: s
            .request_counts()
            .into_iter()
            .map(|(model, status, count)| pb::RequestCount {
                model,
                status: status.to_string(),
                count,
            })
            .collect(),
        latency: Some(summary(s.latency_summary())),
        queue_wait: Some(summary(s.queue_wait.summary())),
        model_acquire: Some(summary(s.model_acquire.summary())),
        time_to_first_token: Some(summary(s.time_to_first_token.summary())),
        in_flight: exec.in_flight.load(Ordering::Relaxed),
        queued: exec.queued.load(Ordering::Relaxed),
        rejected: exec.rejected.load(Ordering::Relaxed),
        pool: Some(pb::PoolStats {
            hits: pool.hits,
            cold_starts: pool.cold_starts,
            evictions: pool.evictions,
            restarts: pool.restarts,
            hit_ratio: if lookups == 0 {
                0.0
            } else {
                pool.hits as f64 / lookups as f64
            },
            load_time: Some(summary(pool.load_time)),
            loaded_models: pool.loaded,
        }),
        rss_bytes: process_rss_bytes(),
        total_requests: s.total(),
        tokens_per_second: s.tokens_per_second(),
        upstream_connections_opened: up.connections_opened.load(Ordering::Relaxed),
        upstream_requests_sent: up.requests_sent.load(Ordering::Relaxed),
    }
}
