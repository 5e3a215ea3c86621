//! Shared helpers for integration tests (included with `mod common;`).
#![allow(dead_code)]

use ai_router_proto::v1::{GenerateRequest, GenerationParams, generate_request::Input};

/// A prompt request with a small max_tokens.
pub fn prompt(model: &str, text: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest {
        model: model.into(),
        input: Some(Input::Prompt(text.into())),
        params: Some(GenerationParams {
            max_tokens: Some(max_tokens),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Adds a gRPC deadline to a request.
pub fn with_timeout<T>(msg: T, timeout: std::time::Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(timeout);
    r
}

/// Waits (bounded, 5 s) until the router reports nothing in flight and
/// nothing queued; returns the last (in_flight, queued) seen.
pub async fn wait_router_idle(router: &ai_router_testkit::router::TestRouter) -> (u64, u64) {
    let mut client = router.client().await.expect("client");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let s = client
            .stats(ai_router_proto::v1::StatsRequest {})
            .await
            .expect("stats")
            .into_inner();
        if (s.in_flight == 0 && s.queued == 0) || std::time::Instant::now() > until {
            return (s.in_flight, s.queued);
        }
        // Observing an asynchronous counter drop, bounded above.
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
