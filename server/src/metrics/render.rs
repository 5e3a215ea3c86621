//! `StatsResponse` → Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;

use ai_router_proto::v1::{Duration, LatencySummary, StatsResponse};

/// Renders every figure of a Stats snapshot as Prometheus metrics.
pub fn render(s: &StatsResponse) -> String {
    let mut out = String::with_capacity(4096);
    let secs = |d: &Option<Duration>| {
        d.as_ref()
            .map_or(0.0, |d| d.seconds as f64 + d.nanos as f64 / 1e9)
    };
    gauge(
        &mut out,
        "airouter_uptime_seconds",
        "Time since start.",
        secs(&s.uptime),
    );
    gauge(
        &mut out,
        "airouter_startup_seconds",
        "Process start to serving.",
        secs(&s.startup_time),
    );
    header(
        &mut out,
        "airouter_requests_total",
        "Finished requests by model and status.",
        "counter",
    );
    for r in &s.requests {
        let _ = writeln!(
            out,
            "airouter_requests_total{{model=\"{}\",status=\"{}\"}} {}",
            escape(&r.model),
            r.status,
            r.count
        );
    }
    header(
        &mut out,
        "airouter_latency_seconds",
        "Latency percentiles by phase.",
        "gauge",
    );
    for (phase, summary) in [
        ("total", &s.latency),
        ("queue", &s.queue_wait),
        ("acquire", &s.model_acquire),
        ("time_to_first_token", &s.time_to_first_token),
        ("generation", &s.generation),
    ] {
        quantiles(&mut out, phase, summary.as_ref());
    }
    gauge(
        &mut out,
        "airouter_in_flight",
        "Requests running.",
        s.in_flight as f64,
    );
    gauge(
        &mut out,
        "airouter_queued",
        "Requests waiting for a permit.",
        s.queued as f64,
    );
    counter(
        &mut out,
        "airouter_rejected_total",
        "Requests rejected with a full queue.",
        s.rejected as f64,
    );
    gauge(
        &mut out,
        "airouter_throughput_1m_rps",
        "Requests per second, last minute.",
        s.throughput_1m_rps,
    );
    gauge(
        &mut out,
        "airouter_throughput_5m_rps",
        "Requests per second, last five minutes.",
        s.throughput_5m_rps,
    );
    gauge(
        &mut out,
        "airouter_tokens_per_second_1m",
        "Generated tokens per second, last minute.",
        s.tokens_per_second_1m,
    );
    if let Some(p) = &s.pool {
        counter(
            &mut out,
            "airouter_pool_hits_total",
            "Warm acquires.",
            p.hits as f64,
        );
        counter(
            &mut out,
            "airouter_pool_cold_starts_total",
            "Acquires that waited for a start.",
            p.cold_starts as f64,
        );
        counter(
            &mut out,
            "airouter_pool_evictions_total",
            "Model processes evicted.",
            p.evictions as f64,
        );
        counter(
            &mut out,
            "airouter_pool_restarts_total",
            "Model processes replaced after dying.",
            p.restarts as f64,
        );
        gauge(
            &mut out,
            "airouter_pool_hit_ratio",
            "hits / (hits + cold starts).",
            p.hit_ratio,
        );
        gauge(
            &mut out,
            "airouter_pool_loaded_models",
            "Model processes running.",
            f64::from(p.loaded_models),
        );
        gauge(
            &mut out,
            "airouter_pool_slots_held",
            "Slots held by model processes starting, warm, or still exiting.",
            f64::from(p.slots_held),
        );
        gauge(
            &mut out,
            "airouter_pool_slot_waiters",
            "Model loads queued for a free slot.",
            f64::from(p.slot_waiters),
        );
    }
    if let Some(m) = &s.memory {
        gauge(
            &mut out,
            "airouter_rss_bytes",
            "Router resident memory.",
            m.rss_bytes as f64,
        );
        gauge(
            &mut out,
            "airouter_children_rss_bytes",
            "llama-server children resident memory.",
            m.children_rss_bytes as f64,
        );
        gauge(
            &mut out,
            "airouter_rss_growth_per_1000_requests_bytes",
            "RSS slope since warm-up.",
            m.growth_per_1000_requests_bytes,
        );
        gauge(
            &mut out,
            "airouter_leak_suspected",
            "1 when RSS keeps growing with requests.",
            f64::from(u8::from(m.leak_suspected)),
        );
    }
    counter(
        &mut out,
        "airouter_upstream_connections_opened_total",
        "Upstream TCP connections opened.",
        s.upstream_connections_opened as f64,
    );
    counter(
        &mut out,
        "airouter_upstream_requests_total",
        "Upstream HTTP requests sent.",
        s.upstream_requests_sent as f64,
    );
    counter(
        &mut out,
        "airouter_cost_usd_total",
        "Upstream cost reported.",
        s.cost_usd,
    );
    if let Some(t) = &s.traces {
        counter(
            &mut out,
            "airouter_trace_spans_ended_total",
            "Spans handed to the export queue.",
            t.spans_ended as f64,
        );
        counter(
            &mut out,
            "airouter_trace_spans_exported_total",
            "Spans the collector accepted.",
            t.spans_exported as f64,
        );
        counter(
            &mut out,
            "airouter_trace_spans_failed_total",
            "Spans in failed exports.",
            t.spans_failed as f64,
        );
    }
    header(
        &mut out,
        "airouter_route_best_concurrency",
        "Concurrency of the best-throughput window per route.",
        "gauge",
    );
    for r in &s.routes {
        let _ = writeln!(
            out,
            "airouter_route_best_concurrency{{route=\"{}\"}} {}",
            escape(&r.route),
            r.best_concurrency
        );
    }
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    header(out, name, help, "gauge");
    let _ = writeln!(out, "{name} {value}");
}

fn counter(out: &mut String, name: &str, help: &str, value: f64) {
    header(out, name, help, "counter");
    let _ = writeln!(out, "{name} {value}");
}

fn quantiles(out: &mut String, phase: &str, s: Option<&LatencySummary>) {
    let Some(s) = s else { return };
    for (q, us) in [
        ("0.5", s.p50_us),
        ("0.9", s.p90_us),
        ("0.99", s.p99_us),
        ("1", s.max_us),
    ] {
        let _ = writeln!(
            out,
            "airouter_latency_seconds{{phase=\"{phase}\",quantile=\"{q}\"}} {}",
            us as f64 / 1e6
        );
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ai_router_proto::v1::RequestCount;

    #[test]
    fn renders_counters_with_escaped_labels() {
        let s = StatsResponse {
            requests: vec![RequestCount {
                model: "a\"b".into(),
                status: "OK".into(),
                count: 3,
            }],
            ..Default::default()
        };
        let text = render(&s);
        assert!(
            text.contains("airouter_requests_total{model=\"a\\\"b\",status=\"OK\"} 3"),
            "{text}"
        );
        assert!(text.contains("# TYPE airouter_in_flight gauge"));
    }
}
