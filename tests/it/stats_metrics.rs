//! Stats after a known workload has exactly the expected counts, and
//! `/metrics` serves the same numbers as OpenMetrics text with real
//! histograms (buckets, `_sum`, `_count`) and no quantile gauges.

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};

use crate::common::prompt;

#[tokio::test]
async fn stats_count_exactly_what_happened() {
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    config.endpoints.push(EndpointConfig::new(
        "up",
        EndpointKind::OpenAi,
        &emulator.openai_base(),
    ));
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.metrics_listen = Some(format!("127.0.0.1:{metrics_port}").parse().unwrap());
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();

    for i in 0..10 {
        client
            .generate(prompt("up/m", &format!("{i}"), 4))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        client.generate(prompt("nope", "x", 4)).await.unwrap_err();
    }
    for _ in 0..3 {
        client.generate(prompt("up/m", "", 4)).await.unwrap_err();
    }

    let s = client.stats().await.unwrap();
    assert_eq!(s.total_requests, 15);
    let count = |model: &str, status: &str| {
        s.requests
            .iter()
            .find(|r| r.model == model && r.status == status)
            .map_or(0, |r| r.count)
    };
    assert_eq!(count("up/m", "OK"), 10);
    assert_eq!(count("<unknown>", "NOT_FOUND"), 2);
    assert_eq!(count("<invalid>", "INVALID_ARGUMENT"), 3);
    let errors: Vec<(String, u64)> = s.errors.iter().map(|e| (e.code.clone(), e.count)).collect();
    assert_eq!(
        errors,
        vec![("INVALID_ARGUMENT".into(), 3), ("NOT_FOUND".into(), 2)]
    );
    assert_eq!(s.latency.unwrap().count, 10);
    assert_eq!(s.time_to_first_token.unwrap().count, 10);
    assert_eq!(s.generation.unwrap().count, 10);
    assert!(s.throughput_1m_rps > 0.0);
    let route = s.routes.iter().find(|r| r.route == "up").unwrap();
    assert_eq!(route.completed, 10);
    assert_eq!((route.in_flight, route.queued), (0, 0));
    let endpoint = s.endpoints.iter().find(|e| e.endpoint == "up").unwrap();
    assert_eq!(endpoint.completed, 10);
    assert!(endpoint.cost_usd > 0.0, "the emulator reports usage.cost");
    assert!((s.cost_usd - endpoint.cost_usd).abs() < 1e-12);
    assert_eq!(s.upstream_requests_sent, 10);
    assert_eq!(s.upstream_connections_opened, 1);
    assert!(s.memory.unwrap().rss_bytes > 0);
    assert!(s.gpus.is_empty() || s.gpus.iter().all(|g| g.memory_total_bytes > 0));

    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    for needle in [
        "ai_router_requests_total{model=\"up/m\",outcome=\"OK\"} 10",
        "ai_router_requests_total{model=\"<unknown>\",outcome=\"NOT_FOUND\"} 2",
        "ai_router_requests_total{model=\"<invalid>\",outcome=\"INVALID_ARGUMENT\"} 3",
        "ai_router_upstream_connections_opened_total 1",
        "ai_router_upstream_requests_total 10",
        "ai_router_endpoint_completions_total{endpoint=\"up\"} 10",
        "ai_router_route_requests_completed_total{route=\"up\"} 10",
        "ai_router_requests_running 0",
        "ai_router_requests_waiting 0",
        "# TYPE ai_router_request_duration_seconds histogram",
        "ai_router_request_duration_seconds_count 10",
        "ai_router_request_duration_seconds_bucket{le=\"+Inf\"} 10",
        "ai_router_time_to_first_token_seconds_count 10",
        "# TYPE ai_router_queue_wait_seconds histogram",
        "# TYPE ai_router_model_load_duration_seconds histogram",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    check_openmetrics(&text);
    router.stop().await.unwrap();
}

/// Every line is a `# HELP`/`# TYPE`/`# UNIT` descriptor or a sample whose
/// metric was declared; every histogram has ascending cumulative buckets
/// ending in `+Inf` equal to its `_count`; the text ends with `# EOF`.
fn check_openmetrics(text: &str) {
    use std::collections::HashMap;
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end");
    assert!(!text.contains("quantile="), "quantile gauges are gone");
    let mut types: HashMap<&str, &str> = HashMap::new();
    let mut buckets: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
    let mut counts: HashMap<&str, f64> = HashMap::new();
    for line in text.lines().filter(|l| *l != "# EOF") {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(name.starts_with("ai_router_"), "{name}");
            types.insert(name, kind);
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count", "_total"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| types.contains_key(f)))
            .unwrap_or(name);
        let kind = types
            .get(family)
            .unwrap_or_else(|| panic!("undeclared: {line}"));
        if *kind != "histogram" {
            continue;
        }
        if name.ends_with("_bucket") {
            let le = series
                .split("le=\"")
                .nth(1)
                .unwrap()
                .trim_end_matches("\"}");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            buckets.entry(family).or_default().push((le, value));
        } else if name.ends_with("_count") {
            counts.insert(family, value);
        }
    }
    let histograms: Vec<_> = types.iter().filter(|(_, k)| **k == "histogram").collect();
    assert!(histograms.len() >= 6, "{histograms:?}");
    for (family, _) in histograms {
        let b = &buckets[family];
        assert!(
            b.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{family}: {b:?}"
        );
        assert_eq!(b.last().map(|l| l.0), Some(f64::INFINITY), "{family}");
        assert_eq!(
            b.last().map(|l| l.1),
            counts.get(family).copied(),
            "{family}"
        );
    }
}
