//! A host that keeps failing is ejected (its calls served by the others,
//! none lost) and, once it answers again after its ejection time, is used
//! again.

use std::time::{Duration, Instant};

use ai_router::config::PickPolicy;
use ai_router_testkit::emulator::EmulatorConfig;

use super::{SwitchableHost, emulators, pooled, router};
use crate::common::prompt;

#[tokio::test]
async fn a_failing_host_is_ejected_and_nothing_is_lost() {
    let broken = SwitchableHost::start(true).await;
    let good = emulators(2, EmulatorConfig::default()).await;
    let mut ep = pooled(
        vec![
            broken.base.clone(),
            good[0].openai_base(),
            good[1].openai_base(),
        ],
        PickPolicy::RoundRobin,
    );
    ep.stream = false;
    ep.ejection_failures = 3;
    ep.ejection_time = Duration::from_secs(3600);
    let router = router(ep).await;
    let client = router.client().await.unwrap();
    for i in 0..30 {
        client
            .generate(prompt("lab/m", &format!("q{i}"), 2))
            .await
            .unwrap();
    }
    // Three failures (each retried on another host), then never again.
    assert_eq!(broken.requests(), 3);
    assert_eq!(router.engine.upstream_metrics().host_ejections.get(), 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn an_ejected_host_that_recovers_is_used_again() {
    let host = SwitchableHost::start(true).await;
    let good = emulators(1, EmulatorConfig::default()).await;
    let mut ep = pooled(
        vec![host.base.clone(), good[0].openai_base()],
        PickPolicy::RoundRobin,
    );
    ep.stream = false;
    ep.ejection_failures = 2;
    ep.ejection_time = Duration::from_millis(50);
    let router = router(ep).await;
    let client = router.client().await.unwrap();
    // Fail it until it is ejected.
    while router.engine.upstream_metrics().host_ejections.get() == 0 {
        client.generate(prompt("lab/m", "x", 2)).await.unwrap();
    }
    host.set_failing(false);
    let failed_requests = host.requests();
    // Once the ejection time has passed, its turn comes again.
    let until = Instant::now() + Duration::from_secs(10);
    while host.requests() == failed_requests && Instant::now() < until {
        client.generate(prompt("lab/m", "y", 2)).await.unwrap();
    }
    assert!(
        host.requests() > failed_requests,
        "the host never came back"
    );
    assert_eq!(router.engine.upstream_metrics().host_ejections.get(), 1);
    router.stop().await.unwrap();
}
