//! An OTLP collector that is down never fails or blocks requests.
//! (Run in a process of its own: it installs the process-wide subscriber.)

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router::telemetry::{TelemetryOptions, init};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};

use crate::common::{in_own_process, prompt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_with_the_collector_unreachable() {
    if !in_own_process(
        module_path!(),
        "requests_succeed_with_the_collector_unreachable",
    )
    .await
    {
        return;
    }
    // A port with nothing listening.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let telemetry = init(&TelemetryOptions {
        log_filter: "error".into(),
        log_json: false,
        otlp_endpoint: Some(format!("http://{dead}")),
    })
    .unwrap();
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    config.endpoints.push(EndpointConfig::new(
        "up",
        EndpointKind::OpenAi,
        &emulator.openai_base(),
    ));
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    for i in 0..200 {
        let r = client
            .generate(prompt("up/m", &format!("{i}"), 2))
            .await
            .unwrap();
        assert_eq!(
            r.trace_id.len(),
            32,
            "spans are still created and ids returned"
        );
    }
    let stats = client.stats().await.unwrap();
    let traces = stats.traces.unwrap();
    assert!(traces.spans_ended >= 800, "{traces:?}");
    assert_eq!(
        traces.spans_exported, 0,
        "nothing reached the dead collector"
    );
    router.stop().await.unwrap();
    telemetry.shutdown();
    let lost = ai_router::metrics::SPANS.failed.get() + traces.spans_dropped_or_queued;
    assert!(lost > 0, "lost spans are counted");
}
