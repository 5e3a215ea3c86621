//! A fallback model served by the same pool goes to another host than the
//! one its primary just failed on: with retries off, a host answering 503
//! and a healthy one, every request that falls back succeeds (a fallback
//! sent back to the failing host would fail the request). The host's 503s
//! are its own, so they never open the model's breaker (which would make
//! the primary fail without trying a host, and leave the fallback nothing
//! to avoid).

use ai_router::config::PickPolicy;
use ai_router_client::GenerateRequestBuilder;
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};

use super::{pooled, router};

#[tokio::test]
async fn a_fallback_avoids_the_host_its_primary_failed_on() {
    let failing = Emulator::start_with(EmulatorConfig::default().with_behaviour("status=503"))
        .await
        .unwrap();
    let good = Emulator::start().await.unwrap();
    let mut ep = pooled(
        vec![failing.openai_base(), good.openai_base()],
        PickPolicy::LeastLoaded,
    );
    // No retry within a model: only the fallback can save a call, and the
    // failing host stays in the pool.
    ep.max_attempts = 1;
    ep.ejection_failures = 1000;
    let router = router(ep).await;
    let client = router.client().await.unwrap();
    for i in 0..24 {
        let request = GenerateRequestBuilder::new("lab/m")
            .prompt(format!("q{i}"))
            .fallbacks(["lab/m2"])
            .max_tokens(2)
            .build();
        let answer = client
            .generate(request)
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(answer.text, "tok0 tok1");
    }
    // Power of two choices on two idle hosts is a coin toss per call: the
    // failing host took primaries (odds of none: 2^-24), each saved by its
    // fallback on the other host.
    let failed = failing.stats().requests;
    assert!(failed > 0, "no primary went to the failing host");
    assert_eq!(good.stats().requests, 24, "{failed} fallbacks");
    router.stop().await.unwrap();
}
