//! Batch behaviour that needs controlled latency (emulator upstream with
//! slots): completion order, cancellation of a whole batch, and an
//! interactive call served while a large batch runs.

use std::time::{Duration, Instant};

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_client::proto::batch_item_result::Outcome;
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use ai_router_testkit::router::{TestRouter, remote_config};
use futures::StreamExt;

use crate::common::{prompt, wait_router_idle};

async fn setup(slots: usize) -> (Emulator, TestRouter) {
    let emulator = Emulator::start_with(EmulatorConfig::default().with_slots(slots))
        .await
        .unwrap();
    let mut config = remote_config().unwrap();
    let mut ep = EndpointConfig::new("up", EndpointKind::OpenAi, &emulator.openai_base());
    ep.max_concurrency = slots as u32;
    config.endpoints.push(ep);
    (emulator, TestRouter::start(config).await.unwrap())
}

#[tokio::test]
async fn results_stream_in_completion_order() {
    let (_emulator, router) = setup(8).await;
    let client = router.client().await.unwrap();
    let mut items = vec![prompt("up/slow@delay=800ms", "x", 2)];
    items.extend((0..6).map(|i| prompt("up/fast@delay=10ms", &format!("{i}"), 2)));
    let Ok(mut stream) = client.batch(items, 8).await else {
        panic!("the batch is refused");
    };
    let mut order = Vec::new();
    while let Some(r) = stream.next().await {
        let r = r.unwrap();
        assert!(matches!(r.outcome, Some(Outcome::Response(_))));
        order.push(r.index);
    }
    assert_eq!(order.len(), 7);
    assert_eq!(
        *order.last().unwrap(),
        0,
        "the slow item does not hold back the fast ones: {order:?}"
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn cancelling_a_batch_stops_all_its_work() {
    let (emulator, router) = setup(4).await;
    let client = router.client().await.unwrap();
    let items = (0..40)
        .map(|i| prompt("up/m@delay=300ms", &format!("{i}"), 2))
        .collect();
    let Ok(mut stream) = client.batch(items, 8).await else {
        panic!("the batch is refused");
    };
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first.outcome, Some(Outcome::Response(_))));
    drop(stream);

    // The upstream sees every in-flight request closed, and the router's
    // in-flight and queued counts return to zero.
    assert!(
        emulator
            .wait_until(Duration::from_secs(5), |s| s.in_flight == 0
                && s.queued == 0)
            .await
    );
    assert_eq!(
        wait_router_idle(&router).await,
        (0, 0),
        "router counters return to zero"
    );
    let sent = emulator.stats().requests;
    assert!(
        sent < 40,
        "the rest of the batch never reached the upstream ({sent} sent)"
    );
    assert!(emulator.stats().cancelled >= 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn an_interactive_call_is_served_while_a_big_batch_runs() {
    let (_emulator, router) = setup(4).await;
    let batch_client = router.client().await.unwrap();
    let items = (0..300)
        .map(|i| prompt("up/m@delay=40ms", &format!("{i}"), 2))
        .collect();
    let Ok(mut stream) = batch_client.batch(items, 16).await else {
        panic!("the batch is refused");
    };
    stream.next().await.unwrap().unwrap();

    let client = router
        .client()
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(3));
    let started = Instant::now();
    let r = client
        .generate(prompt("up/m@delay=40ms", "interactive", 2))
        .await;
    assert!(
        r.is_ok(),
        "the interactive call is served within its deadline: {r:?}"
    );
    let waited = started.elapsed();
    drop(stream);
    router.stop().await.unwrap();
    // Reported, not asserted: how long the call waited behind the batch.
    eprintln!("interactive call completed in {waited:?} while the batch ran");
}
