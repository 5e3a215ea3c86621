//! Stats after a known workload has exactly the expected counts, and the
//! Prometheus endpoint serves the same numbers.

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

    let text = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("airouter_requests_total{model=\"up/m\",status=\"OK\"} 10"),
        "{text}"
    );
    assert!(text.contains("airouter_requests_total{model=\"<unknown>\",status=\"NOT_FOUND\"} 2"));
    assert!(text.contains("airouter_upstream_connections_opened_total 1"));
    router.stop().await.unwrap();
}
