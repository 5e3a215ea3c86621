//! The `stats` table.

use ai_router_client::proto::{Duration, LatencySummary, StatsResponse};

use super::table::Table;
use super::units::{human_duration, mib, us_as_ms};

/// Renders the router's statistics as sections of aligned text: overview,
/// latency percentiles (ms, two decimals), local pool, and requests by model
/// and status. Missing sub-messages render as `-` / zeros rather than failing,
/// because an older or partial server may leave them out.
pub fn format_stats(stats: &StatsResponse) -> String {
    let mut out = String::new();

    let mut overview = Table::new(&["", ""]);
    let dur = |d: Option<&Duration>| d.map_or_else(|| "-".to_owned(), human_duration);
    let rows: [(&str, String); 13] = [
        ("uptime", dur(stats.uptime.as_ref())),
        ("start-up time", dur(stats.startup_time.as_ref())),
        ("requests total", stats.total_requests.to_string()),
        (
            "requests/s 1m | 5m",
            format!(
                "{:.2} | {:.2}",
                stats.throughput_1m_rps, stats.throughput_5m_rps
            ),
        ),
        ("tokens/s", format!("{:.2}", stats.tokens_per_second)),
        ("tokens/s 1m", format!("{:.2}", stats.tokens_per_second_1m)),
        ("cost", format!("${:.6}", stats.cost_usd)),
        (
            "in flight",
            format!("{} of {}", stats.in_flight, stats.max_in_flight),
        ),
        ("queued", stats.queued.to_string()),
        ("rejected", stats.rejected.to_string()),
        ("RSS", mib(stats.rss_bytes)),
        (
            "upstream connections",
            stats.upstream_connections_opened.to_string(),
        ),
        (
            "upstream requests",
            stats.upstream_requests_sent.to_string(),
        ),
    ];
    for (key, value) in rows {
        overview.row(vec![key.to_owned(), value]);
    }
    out.push_str("Router\n");
    out.push_str(skip_header(&overview.render(2)));

    let mut latency =
        Table::new(&["LATENCY (ms)", "COUNT", "P50", "P90", "P99", "MAX"]).right(&[1, 2, 3, 4, 5]);
    let pool_load = stats.pool.as_ref().and_then(|p| p.load_time.as_ref());
    let summaries = [
        ("overall", stats.latency.as_ref()),
        ("queue wait", stats.queue_wait.as_ref()),
        ("model acquire", stats.model_acquire.as_ref()),
        ("time to first token", stats.time_to_first_token.as_ref()),
        ("generation", stats.generation.as_ref()),
        ("model load", pool_load),
    ];
    for (name, summary) in summaries {
        latency.row(latency_row(name, summary));
    }
    out.push('\n');
    out.push_str(&latency.render(0));

    let pool = stats.pool.unwrap_or_default();
    let mut pool_table = Table::new(&["", ""]);
    let rows: [(&str, String); 8] = [
        ("hits", pool.hits.to_string()),
        ("cold starts", pool.cold_starts.to_string()),
        ("evictions", pool.evictions.to_string()),
        ("restarts", pool.restarts.to_string()),
        ("hit ratio", format!("{:.1}%", pool.hit_ratio * 100.0)),
        ("loaded models", pool.loaded_models.to_string()),
        ("slots held", pool.slots_held.to_string()),
        ("loads queued for a slot", pool.slot_waiters.to_string()),
    ];
    for (key, value) in rows {
        pool_table.row(vec![key.to_owned(), value]);
    }
    out.push_str("\nLocal pool\n");
    out.push_str(skip_header(&pool_table.render(2)));

    out.push_str(&memory_section(stats));
    out.push_str(&routes_section(stats));
    out.push_str(&endpoints_section(stats));
    out.push_str(&errors_section(stats));
    out.push_str(&traces_section(stats));
    out.push_str(&gpus_section(stats));

    out.push('\n');
    if stats.requests.is_empty() {
        out.push_str("Requests: none yet\n");
    } else {
        let mut requests = Table::new(&["MODEL", "STATUS", "COUNT"]).right(&[2]);
        let mut counts = stats.requests.clone();
        counts.sort_by(|a, b| (&a.model, &a.status).cmp(&(&b.model, &b.status)));
        for c in counts {
            requests.row(vec![c.model, c.status, c.count.to_string()]);
        }
        out.push_str(&requests.render(0));
    }
    out
}

/// Router and children memory, and the leak monitor's verdict.
fn memory_section(stats: &StatsResponse) -> String {
    let m = stats.memory.unwrap_or_default();
    let mut t = Table::new(&["", ""]);
    t.row(vec!["router RSS".into(), mib(m.rss_bytes)]);
    t.row(vec!["children RSS".into(), mib(m.children_rss_bytes)]);
    if m.warmup_rss_bytes > 0 {
        t.row(vec![
            "growth since warm-up".into(),
            format!(
                "{:+.1} MiB",
                m.growth_since_warmup_bytes as f64 / (1024.0 * 1024.0)
            ),
        ]);
        t.row(vec![
            "growth per 1k requests".into(),
            format!("{:.1} KiB", m.growth_per_1000_requests_bytes / 1024.0),
        ]);
    }
    t.row(vec![
        "leak suspected".into(),
        if m.leak_suspected { "YES" } else { "no" }.into(),
    ]);
    format!("\nMemory\n{}", skip_header(&t.render(2)))
}

/// Admission per route, with the batch concurrency hint.
fn routes_section(stats: &StatsResponse) -> String {
    if stats.routes.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&[
        "ROUTE",
        "LIMIT",
        "IN FLIGHT",
        "QUEUED",
        "COMPLETED",
        "BEST CONC",
        "BEST RPS",
    ])
    .right(&[1, 2, 3, 4, 5, 6]);
    for r in &stats.routes {
        t.row(vec![
            r.route.clone(),
            r.limit.to_string(),
            r.in_flight.to_string(),
            r.queued.to_string(),
            r.completed.to_string(),
            format!("{:.1}", r.best_concurrency),
            format!("{:.1}", r.best_throughput_rps),
        ]);
    }
    format!("\n{}", t.render(0))
}

/// Remote endpoints: breaker, completions, cost.
fn endpoints_section(stats: &StatsResponse) -> String {
    if stats.endpoints.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&["ENDPOINT", "BREAKER", "COMPLETED", "COST USD"]).right(&[2, 3]);
    for e in &stats.endpoints {
        t.row(vec![
            e.endpoint.clone(),
            e.breaker.clone(),
            e.completed.to_string(),
            format!("{:.6}", e.cost_usd),
        ]);
    }
    format!("\n{}", t.render(0))
}

/// Failures by status code.
fn errors_section(stats: &StatsResponse) -> String {
    if stats.errors.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&["ERROR", "COUNT"]).right(&[1]);
    for e in &stats.errors {
        t.row(vec![e.code.clone(), e.count.to_string()]);
    }
    format!("\n{}", t.render(0))
}

/// Trace export, when the server exports spans.
fn traces_section(stats: &StatsResponse) -> String {
    let Some(t) = stats.traces.filter(|t| t.spans_ended > 0) else {
        return String::new();
    };
    let mut table = Table::new(&["", ""]);
    table.row(vec!["spans ended".into(), t.spans_ended.to_string()]);
    table.row(vec!["spans exported".into(), t.spans_exported.to_string()]);
    table.row(vec!["spans failed".into(), t.spans_failed.to_string()]);
    table.row(vec![
        "dropped or queued".into(),
        t.spans_dropped_or_queued.to_string(),
    ]);
    format!("\nTraces\n{}", skip_header(&table.render(2)))
}

/// GPUs, when the server has any.
fn gpus_section(stats: &StatsResponse) -> String {
    if stats.gpus.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&["GPU", "NAME", "UTIL", "MEMORY"]).right(&[2]);
    for g in &stats.gpus {
        t.row(vec![
            g.index.to_string(),
            g.name.clone(),
            format!("{:.0}%", g.utilization_percent),
            format!(
                "{} / {}",
                mib(g.memory_used_bytes),
                mib(g.memory_total_bytes)
            ),
        ]);
    }
    format!("\n{}", t.render(0))
}

/// One latency line; an absent summary shows dashes so it is not mistaken
/// for a measured zero.
fn latency_row(name: &str, summary: Option<&LatencySummary>) -> Vec<String> {
    match summary {
        Some(s) => vec![
            name.to_owned(),
            s.count.to_string(),
            us_as_ms(s.p50_us),
            us_as_ms(s.p90_us),
            us_as_ms(s.p99_us),
            us_as_ms(s.max_us),
        ],
        None => {
            let mut row = vec![name.to_owned()];
            row.extend(std::iter::repeat_n("-".to_owned(), 5));
            row
        }
    }
}

/// Drops the (empty) header line of a key/value table.
fn skip_header(rendered: &str) -> &str {
    rendered.split_once('\n').map_or("", |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ai_router_client::proto::{PoolStats, RequestCount};

    fn sample() -> StatsResponse {
        StatsResponse {
            uptime: Some(Duration {
                seconds: 3_723,
                nanos: 0,
            }),
            startup_time: Some(Duration {
                seconds: 0,
                nanos: 123_456_000,
            }),
            requests: vec![
                RequestCount {
                    model: "tiny".into(),
                    status: "OK".into(),
                    count: 41,
                },
                RequestCount {
                    model: "nope".into(),
                    status: "NOT_FOUND".into(),
                    count: 1,
                },
            ],
            latency: Some(LatencySummary {
                count: 42,
                p50_us: 12_345,
                p90_us: 23_456,
                p99_us: 34_567,
                max_us: 1_000_000,
            }),
            queue_wait: Some(LatencySummary {
                count: 42,
                p50_us: 5,
                p90_us: 10,
                p99_us: 20,
                max_us: 30,
            }),
            model_acquire: None,
            time_to_first_token: Some(LatencySummary::default()),
            in_flight: 2,
            queued: 3,
            rejected: 4,
            pool: Some(PoolStats {
                hits: 40,
                cold_starts: 2,
                evictions: 1,
                restarts: 0,
                hit_ratio: 40.0 / 42.0,
                load_time: None,
                loaded_models: 1,
                slots_held: 1,
                slot_waiters: 0,
            }),
            rss_bytes: 25 * 1024 * 1024,
            total_requests: 42,
            tokens_per_second: 12.345,
            upstream_connections_opened: 5,
            upstream_requests_sent: 44,
            ..Default::default()
        }
    }

    #[test]
    fn renders_every_section() {
        let text = format_stats(&sample());
        let expected = "\
Router
  uptime                1h 02m 03s
  start-up time         123.46 ms
  requests total        42
  requests/s 1m | 5m    0.00 | 0.00
  tokens/s              12.35
  tokens/s 1m           0.00
  cost                  $0.000000
  in flight             2 of 0
  queued                3
  rejected              4
  RSS                   25.0 MiB
  upstream connections  5
  upstream requests     44

LATENCY (ms)         COUNT    P50    P90    P99      MAX
overall                 42  12.35  23.46  34.57  1000.00
queue wait              42   0.01   0.01   0.02     0.03
model acquire            -      -      -      -        -
time to first token      0   0.00   0.00   0.00     0.00
generation               -      -      -      -        -
model load               -      -      -      -        -

Local pool
  hits                     40
  cold starts              2
  evictions                1
  restarts                 0
  hit ratio                95.2%
  loaded models            1
  slots held               1
  loads queued for a slot  0

Memory
  router RSS      0.0 MiB
  children RSS    0.0 MiB
  leak suspected  no

MODEL  STATUS     COUNT
nope   NOT_FOUND      1
tiny   OK            41
";
        assert_eq!(text, expected, "got:\n{text}");
    }

    #[test]
    fn optional_sections_appear_when_present() {
        use ai_router_client::proto::{EndpointStats, ErrorCount, RouteStats};
        let stats = StatsResponse {
            routes: vec![RouteStats {
                route: "tiny".into(),
                limit: 4,
                completed: 9,
                best_concurrency: 3.5,
                best_throughput_rps: 20.0,
                ..Default::default()
            }],
            endpoints: vec![EndpointStats {
                endpoint: "openrouter".into(),
                breaker: "open".into(),
                cost_usd: 0.25,
                completed: 3,
            }],
            errors: vec![ErrorCount {
                code: "UNAVAILABLE".into(),
                count: 2,
            }],
            traces: Some(ai_router_client::proto::TraceStats {
                spans_ended: 40,
                spans_exported: 36,
                spans_failed: 4,
                spans_dropped_or_queued: 0,
            }),
            ..Default::default()
        };
        let text = format_stats(&stats);
        assert!(
            text.contains("BEST CONC") && text.contains("3.5") && text.contains("20.0"),
            "{text}"
        );
        assert!(
            text.contains("openrouter") && text.contains("open") && text.contains("0.250000"),
            "{text}"
        );
        assert!(text.contains("UNAVAILABLE") && text.contains("2"), "{text}");
        assert!(text.contains("spans exported     36"), "{text}");
    }

    #[test]
    fn empty_response_does_not_fail() {
        let text = format_stats(&StatsResponse::default());
        assert!(text.contains("uptime                -"), "{text}");
        assert!(text.contains("Requests: none yet"), "{text}");
        assert!(text.contains("hit ratio                0.0%"), "{text}");
    }
}
