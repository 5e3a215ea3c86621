//! Power of two choices sees a slow host's requests pile up and sends it
//! less; round robin keeps sending it its share.

use std::time::Duration;

use ai_router::config::PickPolicy;
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use futures::StreamExt;

use super::{pooled, router, served};
use crate::common::prompt;

/// Runs `n` calls, `concurrency` at a time, against one slow and two fast hosts;
/// returns the requests each host got (slow first).
async fn run(pick: PickPolicy, n: usize, concurrency: usize) -> Vec<u64> {
    let slow =
        Emulator::start_with(EmulatorConfig::default().with_delay(Duration::from_millis(200)))
            .await
            .unwrap();
    let fast = [
        Emulator::start().await.unwrap(),
        Emulator::start().await.unwrap(),
    ];
    let urls = vec![
        slow.openai_base(),
        fast[0].openai_base(),
        fast[1].openai_base(),
    ];
    let router = router(pooled(urls, pick)).await;
    let client = router.client().await.unwrap();
    let calls = futures::stream::iter(0..n).map(|i| {
        let client = client.clone();
        async move { client.generate(prompt("lab/m", &format!("q{i}"), 2)).await }
    });
    let results: Vec<_> = calls.buffer_unordered(concurrency).collect().await;
    assert!(results.iter().all(Result::is_ok));
    router.stop().await.unwrap();
    let mut counts = vec![slow.stats().requests];
    counts.extend(served(&fast));
    counts
}

#[tokio::test]
async fn least_loaded_sends_the_slow_host_less_than_round_robin() {
    let p2c = run(PickPolicy::LeastLoaded, 60, 6).await;
    let rr = run(PickPolicy::RoundRobin, 60, 6).await;
    assert_eq!(rr[0], 20, "round robin is blind: {rr:?}");
    // The slow host holds each request 200 ms while the fast ones answer
    // at once, so it is the busier of any pair it is drawn in.
    assert!(p2c[0] < rr[0], "p2c {p2c:?} vs round robin {rr:?}");
    assert!(p2c[0] < p2c[1] && p2c[0] < p2c[2], "{p2c:?}");
}
