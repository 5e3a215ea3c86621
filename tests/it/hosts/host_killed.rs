//! A host killed while requests are in flight on it: every call still
//! succeeds on another host (nothing had reached the callers yet).

use std::time::Duration;

use ai_router::config::PickPolicy;
use ai_router_testkit::emulator::EmulatorConfig;
use futures::StreamExt;

use super::{emulators, pooled, router};
use crate::common::prompt;

#[tokio::test]
async fn a_host_killed_mid_run_loses_no_call() {
    let mut hosts = emulators(
        3,
        EmulatorConfig::default().with_token_gap(Duration::from_millis(10)),
    )
    .await;
    let urls = hosts.iter().map(|e| e.openai_base()).collect();
    let router = router(pooled(urls, PickPolicy::LeastLoaded)).await;
    let client = router.client().await.unwrap();
    let victim = hosts.remove(1);
    let calls = futures::stream::iter(0..60).map(|i| {
        let client = client.clone();
        async move { client.generate(prompt("lab/m", &format!("q{i}"), 5)).await }
    });
    let mut results = calls.buffer_unordered(9);
    let mut ok = 0;
    let mut victim = Some(victim);
    while let Some(r) = results.next().await {
        r.unwrap();
        ok += 1;
        // Kill it once it has calls in flight, a third of the way in.
        if ok >= 20
            && let Some(v) = victim.take_if(|v| v.stats().in_flight > 0 || ok >= 30)
        {
            v.shutdown().await;
        }
    }
    assert_eq!(ok, 60);
    assert!(victim.is_none(), "the host was killed");
    router.stop().await.unwrap();
}
