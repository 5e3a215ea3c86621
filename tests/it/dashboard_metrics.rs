//! The Grafana dashboard (`deploy/grafana/ai-router.json`) queries only
//! metrics the router really exports: every `ai_router_*` name in its
//! PromQL is matched against the families a running router declares on
//! `/metrics` (`# TYPE` lines), with the sample suffixes OpenMetrics gives
//! each type (`_total` for counters; `_bucket`, `_sum`, `_count` for
//! histograms). A renamed metric breaks this test, not a panel in
//! production.

use std::collections::BTreeSet;

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};

/// Every `ai_router_*` identifier in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("ai_router_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// The sample names a `/metrics` exposition can have, from its `# TYPE`s.
fn exported_samples(exposition: &str) -> BTreeSet<String> {
    let mut samples = BTreeSet::new();
    for line in exposition.lines() {
        let Some(decl) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut parts = decl.split_whitespace();
        let (Some(family), Some(kind)) = (parts.next(), parts.next()) else {
            continue;
        };
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        samples.extend(suffixes.iter().map(|s| format!("{family}{s}")));
    }
    samples
}

fn dashboard() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/grafana/ai-router.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn dashboard_exprs() -> Vec<(String, String)> {
    let dashboard = dashboard();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap().to_string();
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {title:?} has no query");
        for target in targets {
            exprs.push((title.clone(), target["expr"].as_str().unwrap().to_string()));
        }
    }
    exprs
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exported() {
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // An endpoint and one served call: families with labels (per model,
    // per endpoint) have series only once something happened.
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    config.endpoints.push(EndpointConfig::new(
        "emu",
        EndpointKind::OpenAi,
        &emulator.openai_base(),
    ));
    config.metrics_listen = Some(format!("127.0.0.1:{metrics_port}").parse().unwrap());
    let router = TestRouter::start(config).await.unwrap();
    // The metrics listener is bound before the gRPC server answers, so an
    // answered call also means /metrics is up.
    let client = router.client().await.unwrap();
    client
        .generate(crate::common::prompt("emu/m", "hi", 2))
        .await
        .unwrap();
    let exposition = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    router.stop().await.unwrap();
    emulator.shutdown().await;
    let exported = exported_samples(&exposition);
    assert!(
        exported.contains("ai_router_requests_total"),
        "the exposition was not parsed: {exposition}"
    );
    // No collector in this process: no trace, so no bucket names one.
    assert!(
        exposition.contains("ai_router_request_duration_seconds_count 1")
            && !exposition.contains(" # {"),
        "an exemplar without tracing: {exposition}"
    );

    let exprs = dashboard_exprs();
    let mut queried = BTreeSet::new();
    let mut missing = Vec::new();
    for (panel, expr) in &exprs {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "panel {panel:?} queries no ai_router metric: {expr}"
        );
        for name in names {
            if !exported.contains(&name) {
                missing.push(format!("{panel}: {name}"));
            }
            queried.insert(name);
        }
    }
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics the router does not export: {missing:?}"
    );
    // The dashboard covers the areas the README documents.
    for needed in [
        "ai_router_requests_total",
        "ai_router_request_duration_seconds_bucket",
        "ai_router_queue_wait_seconds_bucket",
        "ai_router_time_to_first_token_seconds_bucket",
        "ai_router_pool_cold_starts_total",
        "ai_router_requests_waiting",
        "ai_router_upstream_breaker_opened_total",
        "ai_router_endpoint_cost_usd_total",
    ] {
        assert!(queried.contains(needed), "no panel shows {needed}");
    }
}

#[test]
fn latency_queries_show_exemplars() {
    let dashboard = dashboard();
    let latency: Vec<_> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter(|t| t["expr"].as_str().unwrap().contains("_seconds_bucket"))
        .collect();
    assert!(latency.len() >= 4, "latency queries: {latency:?}");
    for target in latency {
        assert_eq!(target["exemplar"], true, "exemplars off on {target}");
    }
}

#[test]
fn the_name_check_rejects_what_is_not_exported() {
    let exported = exported_samples(
        "# TYPE ai_router_requests counter\n# TYPE ai_router_x_seconds histogram\n# EOF\n",
    );
    assert!(exported.contains("ai_router_requests_total"));
    assert!(exported.contains("ai_router_x_seconds_bucket"));
    assert!(!exported.contains("ai_router_requests"));
    assert!(!exported.contains("ai_router_x_seconds"));
    assert_eq!(
        metric_names("sum(rate(ai_router_a_total{job=~\"$job\"}[5m])) / ai_router_b"),
        ["ai_router_a_total", "ai_router_b"]
    );
}
