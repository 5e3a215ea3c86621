//! The registry encodes valid OpenMetrics text with real histograms, and the
//! handles handed out are the ones encoded.

use std::time::Duration;

use super::*;
use crate::domain::Outcome;

#[test]
fn encodes_openmetrics_with_histograms_and_counters() {
    let m = Metrics::new(Duration::from_secs(1));
    m.requests.requests.inc("a\"b", Outcome::Ok);
    m.requests.duration.record(Duration::from_millis(3));
    m.requests.duration.record(Duration::from_millis(300));
    m.executor.running.inc();
    m.upstream.connections_opened.inc();
    m.requests.endpoint("up").cost_usd.inc_by(0.5);
    let (exposition, _) = m.exposition();
    let text = exposition.encode();
    for needle in [
        "# TYPE ai_router_request_duration_seconds histogram",
        "# UNIT ai_router_request_duration_seconds seconds",
        "ai_router_request_duration_seconds_bucket{le=\"0.001\"} 0",
        "ai_router_request_duration_seconds_bucket{le=\"0.005\"} 1",
        "ai_router_request_duration_seconds_bucket{le=\"0.5\"} 2",
        "ai_router_request_duration_seconds_bucket{le=\"+Inf\"} 2",
        "ai_router_request_duration_seconds_sum 0.303",
        "ai_router_request_duration_seconds_count 2",
        "# TYPE ai_router_requests counter",
        "ai_router_requests_total{model=\"a\\\"b\",outcome=\"OK\"} 1",
        "ai_router_requests_running 1",
        "ai_router_upstream_connections_opened_total 1",
        "ai_router_endpoint_cost_usd_total{endpoint=\"up\"} 0.5",
        "# TYPE ai_router_process_start_time_seconds gauge",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(!text.contains("quantile"), "no quantile gauges");
}
