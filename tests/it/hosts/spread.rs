//! Requests spread over every host: round robin exactly, power of two
//! choices (the default for prompts without a full block) over all.

use ai_router::config::PickPolicy;
use ai_router_testkit::emulator::EmulatorConfig;

use super::{emulators, pooled, router, served};
use crate::common::prompt;

#[tokio::test]
async fn round_robin_gives_each_host_its_turn() {
    let hosts = emulators(3, EmulatorConfig::default()).await;
    let urls = hosts.iter().map(|e| e.openai_base()).collect();
    let router = router(pooled(urls, PickPolicy::RoundRobin)).await;
    let client = router.client().await.unwrap();
    for i in 0..30 {
        let r = client
            .generate(prompt("lab/m", &format!("q{i}"), 2))
            .await
            .unwrap();
        assert_eq!(r.text, "tok0 tok1");
    }
    assert_eq!(served(&hosts), [10, 10, 10]);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn the_default_picker_uses_every_host() {
    let hosts = emulators(3, EmulatorConfig::default()).await;
    let urls = hosts.iter().map(|e| e.openai_base()).collect();
    let router = router(pooled(urls, PickPolicy::Prefix)).await;
    let client = router.client().await.unwrap();
    let calls = (0..60).map(|i| {
        let client = client.clone();
        async move { client.generate(prompt("lab/m", &format!("q{i}"), 2)).await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    let counts = served(&hosts);
    assert_eq!(counts.iter().sum::<u64>(), 60);
    // Random ties: all three unused has odds of 3 × (2/3)^60.
    assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
    router.stop().await.unwrap();
}
