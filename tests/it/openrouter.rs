//! OpenRouter specifics against the emulator's `/api/v1`: attribution
//! headers, the key as a bearer token, OpenRouter's own `models` fallback
//! array built from the caller's fallback list, and cost accounting.

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_client::GenerateRequestBuilder;
use ai_router_client::proto::BackendKind;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::{TestRouter, remote_config};

#[tokio::test]
async fn openrouter_requests_carry_attribution_fallbacks_and_cost() {
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    let mut ep = EndpointConfig::new(
        "openrouter",
        EndpointKind::OpenRouter,
        &emulator.openrouter_base(),
    );
    ep.referer = Some("https://example.test/app".into());
    ep.title = Some("ai-router tests".into());
    config.endpoints.push(ep);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();

    let request = GenerateRequestBuilder::new("openrouter/openai/gpt-4o-mini")
        .prompt("x")
        .max_tokens(3)
        .fallbacks([
            "openrouter/anthropic/claude-3.5-haiku",
            "openrouter/meta/llama",
        ])
        .build();
    let r = client.generate(request).await.unwrap();
    assert_eq!(r.backend, BackendKind::Openrouter as i32);
    assert!(r.usage.unwrap().cost_usd.unwrap() > 0.0);

    let upstream = emulator.stats();
    assert_eq!(
        upstream.requests, 1,
        "OpenRouter handles its fallbacks in one request"
    );
    assert_eq!(
        upstream.header("http-referer"),
        Some("https://example.test/app")
    );
    assert_eq!(upstream.header("x-title"), Some("ai-router tests"));
    let body = upstream.last_body.unwrap();
    assert_eq!(body["model"], "openai/gpt-4o-mini");
    assert_eq!(
        body["models"],
        serde_json::json!([
            "openai/gpt-4o-mini",
            "anthropic/claude-3.5-haiku",
            "meta/llama"
        ])
    );
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);

    let stats = client.stats().await.unwrap();
    assert!(stats.cost_usd > 0.0);
    let ep = stats
        .endpoints
        .iter()
        .find(|e| e.endpoint == "openrouter")
        .unwrap();
    assert_eq!(ep.completed, 1);
    router.stop().await.unwrap();
}
