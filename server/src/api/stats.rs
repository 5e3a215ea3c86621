//! `Stats`: the router's counters, percentiles and pool state in one call.
//! It reads the metrics registry's handles (through the subsystems that own
//! them), the same ones `/metrics` encodes, plus what only `Stats` shows
//! (throughput windows, hit ratio, breaker states). Everything here reads
//! atomics and short-held locks; nothing waits on I/O (memory and GPU
//! figures come from the background monitors, sampled once a second).

use ai_router_proto::v1 as pb;

use super::convert::{duration, summary};
use crate::engine::Engine;

pub fn build(engine: &Engine) -> pb::StatsResponse {
    let s = &engine.stats();
    let pool = engine.pool().summary();
    let exec = engine.executor();
    let up = engine.upstream_metrics();
    let lookups = pool.hits + pool.cold_starts;
    let (rps_1m, tps_1m) = s.rates(60);
    let (rps_5m, _) = s.rates(300);
    let rss = engine.stats().memory.latest_rss();
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
        queue_wait: Some(summary(s.queue_wait_summary())),
        model_acquire: Some(summary(s.model_acquire_summary())),
        time_to_first_token: Some(summary(s.time_to_first_token_summary())),
        generation: Some(summary(s.generation_summary())),
        in_flight: exec.in_flight(),
        queued: exec.queued(),
        rejected: exec.rejected(),
        max_in_flight: engine.executor().config().max_in_flight as u64,
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
            slots_held: pool.slots_held,
            slot_waiters: pool.slot_waiters,
        }),
        rss_bytes: rss,
        memory: Some(memory(engine, rss)),
        total_requests: s.total(),
        tokens_per_second: s.tokens_per_second(),
        tokens_per_second_1m: tps_1m,
        throughput_1m_rps: rps_1m,
        throughput_5m_rps: rps_5m,
        errors: s
            .errors_by_code()
            .into_iter()
            .map(|(code, count)| pb::ErrorCount {
                code: code.to_string(),
                count,
            })
            .collect(),
        routes: routes(engine),
        endpoints: endpoints(engine),
        cost_usd: s.total_cost(),
        gpus: s
            .gpus
            .latest()
            .into_iter()
            .map(|g| pb::GpuStats {
                index: g.index,
                name: g.name,
                utilization_percent: g.utilization_percent,
                memory_used_bytes: g.memory_used_bytes,
                memory_total_bytes: g.memory_total_bytes,
            })
            .collect(),
        traces: Some(traces()),
        keys: super::usage::key_usage(engine),
        ledger: super::usage::ledger_stats(engine),
        upstream_connections_opened: up.connections_opened.get(),
        upstream_requests_sent: up.requests_sent.get(),
    }
}

fn traces() -> pb::TraceStats {
    let spans = &crate::metrics::SPANS;
    let ended = spans.ended.get();
    let exported = spans.exported.get();
    let failed = spans.failed.get();
    pb::TraceStats {
        spans_ended: ended,
        spans_exported: exported,
        spans_failed: failed,
        spans_dropped_or_queued: ended.saturating_sub(exported + failed),
    }
}

fn memory(engine: &Engine, rss: u64) -> pb::MemoryStats {
    let report = engine.stats().memory.report();
    let children: u64 = engine.pool().statuses().iter().map(|m| m.rss_bytes).sum();
    pb::MemoryStats {
        rss_bytes: rss,
        children_rss_bytes: children,
        warmup_rss_bytes: report.warmup_rss,
        growth_since_warmup_bytes: if report.warmup_rss == 0 {
            0
        } else {
            rss as i64 - report.warmup_rss as i64
        },
        growth_per_1000_requests_bytes: report.growth_per_1000,
        leak_suspected: report.leak_suspected,
    }
}

fn routes(engine: &Engine) -> Vec<pb::RouteStats> {
    engine
        .routes()
        .limiters()
        .iter()
        .map(|l| {
            let (best_concurrency, best_throughput_rps) = l.best_window();
            pb::RouteStats {
                route: l.name().to_string(),
                limit: l.capacity() as u32,
                in_flight: l.in_flight() as u32,
                queued: l.queued() as u32,
                completed: l.completed(),
                best_concurrency,
                best_throughput_rps,
            }
        })
        .collect()
}

fn endpoints(engine: &Engine) -> Vec<pb::EndpointStats> {
    engine
        .routes()
        .endpoints()
        .map(|e| {
            let (cost_usd, completed) = engine.stats().endpoint_figures(&e.config.name);
            pb::EndpointStats {
                endpoint: e.config.name.clone(),
                breaker: e
                    .client
                    .breaker_state()
                    .map_or_else(|| "none".to_string(), |b| b.state.label().to_string()),
                cost_usd,
                completed,
            }
        })
        .collect()
}
