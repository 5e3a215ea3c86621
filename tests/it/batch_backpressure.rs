//! A slow reader slows the batch down instead of making the router buffer
//! the whole batch: with the client not reading, the upstream stops seeing
//! new requests once the bounded channel and the HTTP/2 window are full;
//! when the client reads again, every item still arrives exactly once.

use std::collections::HashSet;
use std::time::Duration;

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};
use futures::StreamExt;

use crate::common::prompt;

const ITEMS: usize = 120;

#[tokio::test]
async fn an_unread_batch_stops_pulling_work() {
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    config.limits.max_tokens = 4096;
    let mut ep = EndpointConfig::new("up", EndpointKind::OpenAi, &emulator.openai_base());
    ep.max_concurrency = 8;
    config.endpoints.push(ep);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();

    // Each result carries ~10 KB of text, so the whole batch is ~1.3 MB:
    // more than the bounded channel plus the HTTP/2 flow-control windows hold.
    let items = (0..ITEMS)
        .map(|i| prompt("up/m@tokens=1500", &format!("{i}"), 1500))
        .collect();
    let Ok(mut stream) = client.batch(items, 8).await else {
        panic!("the batch is refused");
    };

    // Nobody reads. Unthrottled, all items would be generated in well under
    // a second; with backpressure the upstream never sees them all.
    let all_sent = emulator
        .wait_until(Duration::from_secs(3), |s| s.requests as usize >= ITEMS)
        .await;
    let sent_while_stalled = emulator.stats().requests;
    assert!(
        !all_sent,
        "the router kept generating for a reader that does not read"
    );
    assert!(sent_while_stalled > 0);

    let mut seen = HashSet::new();
    while let Some(r) = stream.next().await {
        assert!(seen.insert(r.unwrap().index));
    }
    assert_eq!(seen.len(), ITEMS);
    eprintln!("upstream requests while the reader stalled: {sent_while_stalled} of {ITEMS}");
    router.stop().await.unwrap();
}
