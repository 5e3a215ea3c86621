//! Admission: a full queue is rejected at once with a retry hint; deadlines
//! and cancellation reach the upstream request; counters return to zero.

use std::time::Duration;

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};
use tonic::Code;

use crate::common::{prompt, wait_router_idle};

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
    let running = client.clone();
    let hold = tokio::spawn(async move { running.generate(prompt("up/m@silent", "x", 2)).await });
    assert!(
        emulator
            .wait_until(Duration::from_secs(5), |s| s.in_flight == 1)
            .await
    );
    let queued = client.clone();
    let wait = tokio::spawn(async move { queued.generate(prompt("up/m", "x", 2)).await });
    for _ in 0..500 {
        if client.stats().await.unwrap().queued == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }

    let err = client.generate(prompt("up/m", "x", 2)).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::ResourceExhausted));
    assert!(err.message().unwrap().contains("queue"), "{err}");
    assert!(
        err.status()
            .unwrap()
            .metadata()
            .get("grpc-retry-pushback-ms")
            .is_some(),
        "a retry hint is attached"
    );
    let stats = client.stats().await.unwrap();
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
    let client = router.client().await.unwrap();
    let err = client
        .clone()
        .with_timeout(Duration::from_millis(500))
        .generate(prompt("up/m@tokens=50@gap=100ms", "x", 50))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::DeadlineExceeded), "{err:?}");
    assert!(
        emulator
            .wait_until(Duration::from_secs(5), |s| s.in_flight == 0
                && s.cancelled == 1)
            .await
    );
    assert_eq!(wait_router_idle(&router).await, (0, 0));
    let stats = client.stats().await.unwrap();
    let deadline_exceeded: u64 = stats
        .requests
        .iter()
        .filter(|r| r.status == "DEADLINE_EXCEEDED")
        .map(|r| r.count)
        .sum();
    assert_eq!(deadline_exceeded, 1);
    router.stop().await.unwrap();
}
