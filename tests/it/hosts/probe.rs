//! The active probe: with no traffic at all, a host whose generations fail
//! is ejected by one-token probes, and the healthy host is probed too.

use std::time::{Duration, Instant};

use ai_router::config::PickPolicy;
use ai_router_testkit::emulator::EmulatorConfig;

use super::{SwitchableHost, emulators, pooled, router};

#[tokio::test]
async fn probes_eject_a_failing_host_without_traffic() {
    let broken = SwitchableHost::start(true).await;
    let good = emulators(1, EmulatorConfig::default()).await;
    let mut ep = pooled(
        vec![broken.base.clone(), good[0].openai_base()],
        PickPolicy::LeastLoaded,
    );
    ep.probe_model = Some("m".into());
    ep.probe_interval = Duration::from_millis(20);
    ep.ejection_failures = 2;
    ep.ejection_time = Duration::from_secs(3600);
    let router = router(ep).await;
    let ejections = &router.engine.upstream_metrics().host_ejections;
    let until = Instant::now() + Duration::from_secs(10);
    while ejections.get() == 0 && Instant::now() < until {
        // Observing a background task's counter, bounded above.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ejections.get(), 1, "the failing host was not ejected");
    assert!(broken.requests() >= 2, "{} probes", broken.requests());
    assert!(
        good[0]
            .wait_until(Duration::from_secs(10), |s| s.requests > 0)
            .await
    );
    let probe = good[0].stats().last_body.unwrap();
    assert_eq!(probe["max_tokens"], 1, "{probe}");
    assert_eq!(probe["model"], "m");
    router.stop().await.unwrap();
}
