//! A failing model on a remote endpoint is not hammered: its (endpoint,
//! model) circuit breaker opens after 5 consecutive failures and then
//! answers UNAVAILABLE without an HTTP request while the endpoint's other
//! models and fallbacks serve; a failing model on a healthy endpoint spends
//! only the retry budget; OpenRouter's X-Generation-Id
//! reaches the caller. The breaker's cool-down and half-open probe are
//! timed in the upstream module's unit tests (injected clocks), not here.

use ai_router::config::{Config, EndpointConfig, EndpointKind};
use ai_router::upstream::{BreakerSnapshot, BreakerState};
use ai_router_client::GenerateRequestBuilder;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};
use futures::StreamExt;
use tonic::Code;

use crate::common::prompt;

/// The breaker's threshold (the default, `BreakerConfig::default()`).
const THRESHOLD: u64 = 5;

/// An emulator behind endpoints named `names`, each tuned by `tune`.
async fn setup(names: &[&str], tune: impl Fn(&mut EndpointConfig)) -> (Emulator, TestRouter) {
    let emulator = Emulator::start().await.unwrap();
    let mut config: Config = remote_config().unwrap();
    for name in names {
        let mut ep = EndpointConfig::new(name, EndpointKind::OpenAi, &emulator.openai_base());
        tune(&mut ep);
        config.endpoints.push(ep);
    }
    let router = TestRouter::start(config).await.unwrap();
    (emulator, router)
}

fn breaker(router: &TestRouter, endpoint: &str) -> BreakerSnapshot {
    let routes = router.engine.routes();
    let ep = routes
        .endpoints()
        .find(|e| e.config.name == endpoint)
        .unwrap();
    ep.client
        .breaker_state()
        .expect("remote endpoints have a breaker")
}

/// Fails `THRESHOLD` single-attempt calls on `up`, which opens its breaker.
async fn open_the_breaker(router: &TestRouter, emulator: &Emulator) {
    let client = router.client().await.unwrap();
    for n in 1..=THRESHOLD {
        let status = client
            .generate(prompt("up/m@status=503", "x", 3))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Some(Code::Unavailable));
        assert!(status.message().unwrap().contains("HTTP 503"), "{status:?}");
        assert_eq!(emulator.stats().requests, n);
    }
    let state = breaker(router, "up");
    assert_eq!(state.state, BreakerState::Open);
    assert_eq!(state.consecutive_failures, THRESHOLD as u32);
}

#[tokio::test]
async fn the_model_breaker_opens_after_five_failures_and_then_sends_nothing() {
    let (emulator, router) = setup(&["up"], |ep| ep.max_attempts = 1).await;
    assert_eq!(breaker(&router, "up").state, BreakerState::Closed);
    open_the_breaker(&router, &emulator).await;
    let counters = &router.engine.upstream_metrics();
    assert_eq!(counters.breaker_opened.get(), 1);

    let client = router.client().await.unwrap();
    let status = client
        .generate(prompt("up/m@status=503", "x", 3))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Some(Code::Unavailable));
    assert!(
        status
            .message()
            .unwrap()
            .contains("circuit breaker is open"),
        "{status:?}"
    );
    assert_eq!(
        emulator.stats().requests,
        THRESHOLD,
        "no HTTP request while the breaker is open"
    );
    // The breaker is the model's: the endpoint's other models are served.
    client.generate(prompt("up/healthy", "x", 3)).await.unwrap();
    assert_eq!(emulator.stats().requests, THRESHOLD + 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn fallbacks_serve_while_the_breaker_is_open() {
    let (emulator, router) = setup(&["up", "alt"], |ep| ep.max_attempts = 1).await;
    open_the_breaker(&router, &emulator).await;

    let client = router.client().await.unwrap();
    let request = GenerateRequestBuilder::new("up/m@status=503")
        .prompt("x")
        .max_tokens(3)
        .fallbacks(["alt/m"])
        .build();
    let r = client.generate(request).await.unwrap();
    assert_eq!(r.model, "alt/m");
    assert_eq!(
        emulator.stats().requests,
        THRESHOLD + 1,
        "only the fallback reached the upstream"
    );
    // Breakers are per endpoint: the other one never saw a failure.
    assert_eq!(breaker(&router, "alt").state, BreakerState::Closed);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_model_opens_only_its_own_breaker() {
    // Calls to a failing model alternate with calls to a good one on the
    // same endpoint: the failing model's breaker opens after THRESHOLD
    // failed attempts (retries included), the good model never notices.
    let (emulator, router) = setup(&["up"], |_| {}).await;
    let client = router.client().await.unwrap();
    const CALLS: u64 = 40;
    for _ in 0..CALLS {
        let status = client
            .generate(prompt("up/down@status=503", "x", 3))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Some(Code::Unavailable));
        client.generate(prompt("up/fine", "x", 3)).await.unwrap();
    }
    assert_eq!(breaker(&router, "up").state, BreakerState::Open);
    let failing_attempts = emulator.stats().requests - CALLS;
    // THRESHOLD attempts open it; the rest are refused without a request.
    // (Only a cool-down of 10 s passing mid-test would let one probe out.)
    assert!(
        (THRESHOLD..=THRESHOLD + 1).contains(&failing_attempts),
        "{failing_attempts} attempts for {CALLS} failing calls"
    );
    let counters = &router.engine.upstream_metrics();
    assert_eq!(counters.breaker_opened.get(), 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn the_generation_id_reaches_the_caller() {
    let (_emulator, router) = setup(&["up"], |_| {}).await;
    let client = router.client().await.unwrap();

    let r = client.generate(prompt("up/m", "x", 3)).await.unwrap();
    assert!(r.upstream_id.starts_with("gen-"), "{:?}", r.upstream_id);

    let Ok(mut stream) = client.generate_stream(prompt("up/m", "x", 3)).await else {
        panic!("the stream is refused");
    };
    let mut done = None;
    while let Some(chunk) = stream.next().await {
        if let Some(d) = chunk.unwrap().done {
            done = Some(d);
        }
    }
    let id = done.unwrap().upstream_id;
    assert!(id.starts_with("gen-"), "{id:?}");
    assert_ne!(id, r.upstream_id, "one id per generation");
    router.stop().await.unwrap();
}
