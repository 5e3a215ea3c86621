//! Priority classes on a live router: a `batch` key's items queued on a
//! one-slot route do not hold back an `interactive` key's call; it takes the
//! next free slot, so at most the item already running finishes first.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router::domain::Priority;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::TestRouter;
use futures::StreamExt;

use crate::common::prompt;
use crate::keyed;

/// Each call holds the route's only slot this long at the upstream, so a
/// batch item cannot finish between the interactive call's admission and
/// its reply.
const MODEL: &str = "slow/m@delay=100ms";
const ITEMS: usize = 6;

#[tokio::test]
async fn an_interactive_call_overtakes_queued_batch_items() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (bulk_key, mut bulk) = keyed::key("bulk");
    bulk.priority = Priority::Batch;
    let (person_key, person) = keyed::key("person");
    let mut config = keyed::config(&emulator, data.path(), vec![bulk, person]);
    let mut slow = EndpointConfig::new("slow", EndpointKind::OpenAi, &emulator.openai_base());
    slow.max_concurrency = 1;
    config.endpoints.push(slow);
    let router = TestRouter::start(config).await.unwrap();

    let finished_items = Arc::new(AtomicUsize::new(0));
    let bulk_client = keyed::client(&router, &bulk_key).await;
    let items = (0..ITEMS).map(|_| prompt(MODEL, "bulk", 2)).collect();
    let mut stream = bulk_client.batch(items, ITEMS as u32).await.unwrap();
    let batch = {
        let finished_items = finished_items.clone();
        tokio::spawn(async move {
            while let Some(r) = stream.next().await {
                assert!(r.unwrap().outcome.is_some());
                finished_items.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    // One item runs, the rest wait for the slot.
    let until = Instant::now() + Duration::from_secs(10);
    while router.engine.executor().queued() < (ITEMS - 1) as u64 {
        assert!(Instant::now() < until, "batch items never queued");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let person_client = keyed::client(&router, &person_key).await;
    person_client
        .generate(prompt(MODEL, "person", 2))
        .await
        .unwrap();
    let before = finished_items.load(Ordering::SeqCst);
    assert!(
        before <= 1,
        "{before} batch items finished before the interactive call"
    );
    batch.await.unwrap();
    assert_eq!(finished_items.load(Ordering::SeqCst), ITEMS);
    router.stop().await.unwrap();
    emulator.shutdown().await;
}
