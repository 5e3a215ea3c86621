//! Admission: a full queue is rejected at once with a retry hint; deadlines
//! and cancellation reach the upstream request; counters return to zero.

// Helpers outside #[test] fns panic on broken set-up, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tasks a test spawns end with the test; the service's spawn ban is for the service.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_proto::v1::StatsRequest;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};
use common::{prompt, wait_router_idle, with_timeout};
use tonic::Code;

async fn setup(max_concurrency: u32, max_queue: usize) -> (Emulator, TestRouter) {
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    config.executor.max_queue = max_queue;
    let mut ep = EndpointConfig::new("up", EndpointKind::OpenAi, &emulator.openai_base());
    ep.max_concurrency = max_concurrency;
    ep.first_token_timeout = Duration::from_secs(60);
    config.endpoints.push(ep);
    (emulator, TestRouter::start(config).await.unwrap())
}

#[tokio::test]
async fn full_queue_rejects_at_once_and_cancellation_frees_everything() {
    let (emulator, router) = setup(1, 1).await;
    let client = router.client().await.unwrap();

    // One request holds the only permit (the upstream never answers), one waits.
    let mut running = client.clone();
    let hold = tokio::spawn(async move { running.generate(prompt("up/m@silent", "x", 2)).await });
    assert!(
        emulator
            .wait_until(Duration::from_secs(5), |s| s.in_flight == 1)
            .await
    );
    let mut queued = client.clone();
    let wait = tokio::spawn(async move { queued.generate(prompt("up/m", "x", 2)).await });
    let mut stats_client = client.clone();
    for _ in 0..500 {
        if stats_client
            .stats(StatsRequest {})
            .await
            .unwrap()
            .into_inner()
            .queued
            == 1
        {
            break;
        }
        tokio::task::yield_now().await;
    }

    let mut third = client.clone();
    let status = third.generate(prompt("up/m", "x", 2)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("queue"), "{}", status.message());
    assert!(
        status.metadata().get("grpc-retry-pushback-ms").is_some(),
        "a retry hint is attached"
    );
    let stats = stats_client
        .stats(StatsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.rejected, 1);
    assert_eq!((stats.in_flight, stats.queued), (1, 1));

    // The callers go away: their work stops, down to the upstream connection.
    hold.abort();
    wait.abort();
    assert_eq!(wait_router_idle(&router).await, (0, 0));
    assert!(
        emulator
            .wait_until(Duration::from_secs(5), |s| s.in_flight == 0
                && s.cancelled == 1)
            .await
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_deadline_shorter_than_the_generation_aborts_the_upstream() {
    let (emulator, router) = setup(4, 16).await;
    let mut client = router.client().await.unwrap();
    let status = client
        .generate(with_timeout(
            prompt("up/m@tokens=50@gap=100ms", "x", 50),
            Duration::from_millis(500),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        emulator
            .wait_until(Duration::from_secs(5), |s| s.in_flight == 0
                && s.cancelled == 1)
            .await
    );
    assert_eq!(wait_router_idle(&router).await, (0, 0));
    let stats = client.stats(StatsRequest {}).await.unwrap().into_inner();
    let deadline_exceeded: u64 = stats
        .requests
        .iter()
        .filter(|r| r.status == "DEADLINE_EXCEEDED")
        .map(|r| r.count)
        .sum();
    assert_eq!(deadline_exceeded, 1);
    router.stop().await.unwrap();
}
