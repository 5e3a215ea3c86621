//! Remote endpoint failures, injected per request by the emulator: retries
//! that are bounded and honour Retry-After, errors that are never retried,
//! in-stream errors that never become truncated successes, silent upstreams
//! cut by the first-token timeout, fallbacks, and keys that never leak.

use std::time::Duration;

use ai_router::config::{Config, EndpointConfig, EndpointKind};
use ai_router_client::GenerateRequestBuilder;
use ai_router_testkit::emulator::{Emulator, EmulatorConfig};
use ai_router_testkit::router::{TestRouter, remote_config};
use futures::StreamExt;
use tonic::Code;

use crate::common::{CANARY_KEY, KEY_ENV, prompt, set_canary_key};

async fn setup(tune: impl FnOnce(&mut EndpointConfig)) -> (Emulator, TestRouter) {
    set_canary_key();
    let emulator = Emulator::start_with(EmulatorConfig::default().with_api_key(CANARY_KEY))
        .await
        .unwrap();
    let mut config: Config = remote_config().unwrap();
    let mut ep = EndpointConfig::new("up", EndpointKind::OpenAi, &emulator.openai_base());
    ep.api_key_env = Some(KEY_ENV.into());
    ep.first_token_timeout = Duration::from_millis(400);
    tune(&mut ep);
    config.endpoints.push(ep);
    let router = TestRouter::start(config).await.unwrap();
    (emulator, router)
}

#[tokio::test]
async fn transient_failures_are_retried_within_bounds() {
    let (emulator, router) = setup(|_| {}).await;
    let client = router.client().await.unwrap();

    let r = client
        .generate(prompt("up/m@flaky=2", "x", 3))
        .await
        .unwrap();
    assert_eq!(r.timing.unwrap().attempts, 3, "two 503s, then success");
    assert_eq!(emulator.stats().requests, 3);

    let status = client
        .generate(prompt("up/m@status=503", "x", 3))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Some(Code::Unavailable));
    assert_eq!(emulator.stats().requests, 6, "at most 3 attempts");

    let status = client
        .generate(prompt("up/m@reset", "x", 3))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Some(Code::Unavailable), "{status:?}");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn rate_limits_honour_retry_after_unless_the_deadline_is_shorter() {
    let (emulator, router) = setup(|_| {}).await;
    let client = router.client().await.unwrap();

    let r = client
        .generate(prompt("up/a@rate_limit=1@retry_after=1", "x", 3))
        .await
        .unwrap();
    assert_eq!(r.timing.as_ref().unwrap().attempts, 2);
    assert!(
        r.timing.unwrap().total.unwrap().seconds >= 1,
        "waited for Retry-After"
    );

    let before = emulator.stats().requests;
    let status = client
        .clone()
        .with_timeout(Duration::from_secs(2))
        .generate(prompt("up/b@rate_limit=1@retry_after=5", "x", 3))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Some(Code::ResourceExhausted),
        "fails fast instead of sleeping past the deadline"
    );
    assert_eq!(emulator.stats().requests, before + 1);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn client_errors_are_never_retried_and_keys_never_leak() {
    let (emulator, router) = setup(|_| {}).await;
    let client = router.client().await.unwrap();
    for (status_code, want) in [
        (400, Code::InvalidArgument),
        (401, Code::Unauthenticated),
        (402, Code::ResourceExhausted),
        (403, Code::PermissionDenied),
    ] {
        let before = emulator.stats().requests;
        let status = client
            .generate(prompt(&format!("up/m@status={status_code}"), "x", 3))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Some(want), "HTTP {status_code}");
        assert_eq!(
            emulator.stats().requests,
            before + 1,
            "HTTP {status_code} is not retried"
        );
        assert!(!status.to_string().contains(CANARY_KEY), "{status}");
    }
    // The key did reach the upstream, as a bearer token.
    assert_eq!(
        emulator.stats().header("authorization"),
        Some(format!("Bearer {CANARY_KEY}").as_str())
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn an_error_mid_stream_fails_the_call() {
    let (_emulator, router) = setup(|_| {}).await;
    let client = router.client().await.unwrap();

    let status = client
        .generate(prompt("up/m@midstream_error=3", "x", 10))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Some(Code::Unavailable));
    assert!(
        status.message().unwrap().contains("provider disconnected"),
        "{status}"
    );

    let Ok(mut stream) = client
        .generate_stream(prompt("up/m@midstream_error=3", "x", 10))
        .await
    else {
        panic!("the stream is refused");
    };
    let mut deltas = 0;
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => {
                assert!(
                    chunk.done.is_none(),
                    "no success summary after an in-stream error"
                );
                deltas += 1;
            }
            Err(status) => error = Some(status),
        }
    }
    assert_eq!(deltas, 3, "the text before the error was streamed");
    assert_eq!(error.unwrap().code(), Some(Code::Unavailable));
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_silent_upstream_is_cut_by_the_first_token_timeout_per_attempt() {
    let (emulator, router) = setup(|ep| ep.max_attempts = 2).await;
    let client = router.client().await.unwrap();
    let status = client
        .generate(prompt("up/m@silent", "x", 3))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Some(Code::Unavailable));
    assert!(
        status.message().unwrap().contains("no token within"),
        "{status}"
    );
    assert_eq!(emulator.stats().requests, 2, "one timeout per attempt");
    assert!(
        emulator
            .wait_until(Duration::from_secs(5), |s| s.in_flight == 0)
            .await,
        "abandoned attempts are closed"
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn fallbacks_serve_when_the_primary_fails_before_output() {
    let (_emulator, router) = setup(|ep| ep.max_attempts = 1).await;
    let client = router.client().await.unwrap();
    let request = GenerateRequestBuilder::new("up/primary@status=503")
        .prompt("x")
        .max_tokens(2)
        .fallbacks(["unknown-model", "up/backup"])
        .build();
    let r = client.generate(request).await.unwrap();
    assert_eq!(r.model, "up/backup");

    // A caller error (400) does not fall back: the fallback would fail the same way.
    let request = GenerateRequestBuilder::new("up/primary@status=400")
        .prompt("x")
        .max_tokens(2)
        .fallbacks(["up/backup"])
        .build();
    assert_eq!(
        client.generate(request).await.unwrap_err().code(),
        Some(Code::InvalidArgument)
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn openrouter_ids_without_a_key_say_which_variable_to_set() {
    let router = TestRouter::start(remote_config().unwrap()).await.unwrap();
    let client = router.client().await.unwrap();
    let status = client
        .generate(prompt("openrouter/openai/gpt-4o-mini", "x", 2))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Some(Code::FailedPrecondition));
    assert!(
        status.message().unwrap().contains("OPENROUTER_API_KEY"),
        "{status}"
    );
    router.stop().await.unwrap();
}
