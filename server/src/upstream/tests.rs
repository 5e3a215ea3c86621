//! The client's attempt loop with its breaker and retry budget, against the
//! testkit's emulator (and one hand-rolled HTTP answer for the generation-id
//! header). Timing-free: the breaker's cool-down is either an hour (stays
//! open) or zero (the next call is the probe); the cool-down itself is
//! covered with injected clocks in `breaker.rs`.

use std::time::Duration;

use ai_router_testkit::emulator::Emulator;
use http::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::config::EndpointKind;
use crate::domain::{ChatMessage, DeltaSink, Params, Role};
use crate::metrics::UpstreamMetrics;

fn client() -> UpstreamClient {
    UpstreamClient::new(
        Duration::from_secs(30),
        Duration::from_secs(2),
        false,
        UpstreamMetrics::default(),
    )
    .unwrap()
}

fn target(base_url: &str, stream: bool) -> Target {
    Target {
        endpoint: "up".into(),
        chat_url: format!("{base_url}/chat/completions").parse().unwrap(),
        api_key: None,
        kind: EndpointKind::OpenAi,
        stream,
        stream_unary: stream,
        whole_max_tokens: None,
        timeouts: AttemptTimeouts {
            first_token: Duration::from_secs(10),
            token_gap: Duration::from_secs(10),
        },
        headers: HeaderMap::new(),
        hosts: None,
    }
}

/// The target with the emulator's behaviour header set.
fn behaviour(t: &Target, directives: &str) -> Target {
    let mut t = t.clone();
    t.headers
        .insert("x-emulator-behaviour", directives.parse().unwrap());
    t
}

fn call(model: &str) -> ChatCall {
    ChatCall {
        model: model.into(),
        messages: vec![ChatMessage::text(Role::User, "hi")],
        params: Params {
            max_tokens: 3,
            ..Params::default()
        },
        ..ChatCall::default()
    }
}

/// Retries at once (1 ms backoff), so the tests do not wait on backoff.
fn quick(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    }
}

async fn run(
    client: &UpstreamClient,
    target: &Target,
    model: &str,
    policy: RetryPolicy,
) -> Result<ChatOutcome, (UpstreamError, u32)> {
    match client
        .chat(
            target,
            &call(model),
            &mut DeltaSink::Collect,
            policy,
            None,
            &mut Vec::new(),
        )
        .await
    {
        Ok(outcome) => Ok(outcome),
        Err(CallFailure::Upstream {
            error, attempts, ..
        }) => Err((error, attempts)),
        Err(CallFailure::ClientGone) => panic!("client gone"),
    }
}

#[tokio::test]
async fn an_open_breaker_refuses_its_model_without_sending_anything() {
    let emu = Emulator::start().await.unwrap();
    let t = target(&emu.openai_base(), true);
    let client = client().with_breaker(BreakerConfig {
        failure_threshold: 2,
        cool_down: Duration::from_secs(3600),
    });
    for _ in 0..2 {
        let (error, _) = run(&client, &t, "m@status=503", RetryPolicy::none())
            .await
            .unwrap_err();
        assert!(matches!(error, UpstreamError::Http { status: 503, .. }));
    }
    let state = client.breaker_state().unwrap();
    assert_eq!(state.state, BreakerState::Open);
    assert_eq!(state.consecutive_failures, 2);
    assert_eq!(client.counters().breaker_opened.get(), 1);

    let (error, attempts) = run(&client, &t, "m@status=503", RetryPolicy::none())
        .await
        .unwrap_err();
    assert!(
        matches!(error, UpstreamError::BreakerOpen { .. }),
        "{error:?}"
    );
    assert!(error.allows_fallback());
    assert_eq!(attempts, 0);
    assert_eq!(emu.stats().requests, 2, "nothing reached the upstream");

    // Breakers are per (endpoint, model): another model is served.
    let outcome = run(&client, &t, "other", RetryPolicy::none())
        .await
        .unwrap();
    assert_eq!(outcome.attempts, 1);
    assert_eq!(emu.stats().requests, 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_host_never_opens_a_model_breaker() {
    // A port with nothing listening: connection refused, a host failure.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let t = target(&format!("http://{dead}/v1"), true);
    let client = client().with_breaker(BreakerConfig {
        failure_threshold: 1,
        cool_down: Duration::from_secs(3600),
    });
    for _ in 0..3 {
        let (error, _) = run(&client, &t, "m", RetryPolicy::none())
            .await
            .unwrap_err();
        assert!(matches!(error, UpstreamError::Connect { .. }), "{error:?}");
    }
    assert_eq!(client.breaker_state().unwrap().state, BreakerState::Closed);
}

#[tokio::test]
async fn http_500_is_retried_like_503() {
    let emu = Emulator::start().await.unwrap();
    let t = target(&emu.openai_base(), false);
    let (error, attempts) = run(&client(), &t, "m@status=500", quick(3))
        .await
        .unwrap_err();
    assert!(matches!(error, UpstreamError::Http { status: 500, .. }));
    assert_eq!(attempts, 3);
    assert_eq!(emu.stats().requests, 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn caller_errors_never_open_the_breaker() {
    let emu = Emulator::start().await.unwrap();
    let t = target(&emu.openai_base(), false);
    let client = client().with_breaker(BreakerConfig {
        failure_threshold: 2,
        cool_down: Duration::from_secs(3600),
    });
    for model in [
        "m@status=400",
        "m@status=401",
        "m@status=429",
        "m@status=404",
    ] {
        run(&client, &t, model, RetryPolicy::none())
            .await
            .unwrap_err();
    }
    let state = client.breaker_state().unwrap();
    assert_eq!(state.state, BreakerState::Closed);
    assert_eq!(state.consecutive_failures, 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_probe_closes_the_breaker_on_success_and_reopens_it_on_failure() {
    let emu = Emulator::start().await.unwrap();
    let t = target(&emu.openai_base(), true);
    // No cool-down: the call after the one that opened it is the probe.
    let client = client().with_breaker(BreakerConfig {
        failure_threshold: 1,
        cool_down: Duration::ZERO,
    });
    // One model throughout (its breaker); the header sets each answer.
    let failing = behaviour(&t, "status=502");
    run(&client, &failing, "m", RetryPolicy::none())
        .await
        .unwrap_err();
    assert_eq!(
        client.breaker_state().unwrap().state,
        BreakerState::HalfOpen
    );
    // A failing probe re-opens it.
    run(
        &client,
        &behaviour(&t, "status=503"),
        "m",
        RetryPolicy::none(),
    )
    .await
    .unwrap_err();
    assert_eq!(client.counters().breaker_opened.get(), 2);
    // A successful probe closes it.
    let outcome = run(&client, &t, "m", RetryPolicy::none()).await.unwrap();
    assert_eq!(outcome.attempts, 1);
    let state = client.breaker_state().unwrap();
    assert_eq!(state.state, BreakerState::Closed);
    assert_eq!(state.consecutive_failures, 0);
    assert_eq!(emu.stats().requests, 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn retries_stop_when_the_breaker_opens_mid_call() {
    let emu = Emulator::start().await.unwrap();
    let t = target(&emu.openai_base(), true);
    let client = client().with_breaker(BreakerConfig {
        failure_threshold: 2,
        cool_down: Duration::from_secs(3600),
    });
    let (error, attempts) = run(&client, &t, "m@status=503", quick(5))
        .await
        .unwrap_err();
    assert!(
        matches!(error, UpstreamError::Http { status: 503, .. }),
        "the real failure, not the breaker, is reported: {error:?}"
    );
    assert_eq!(attempts, 2);
    assert_eq!(emu.stats().requests, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_retry_budget_caps_retries_and_counts_refusals() {
    let emu = Emulator::start().await.unwrap();
    let t = target(&emu.openai_base(), true);
    let client = client().with_retry_budget(RetryBudgetConfig {
        ratio: 0.0,
        window: Duration::from_secs(3600),
        min_retries: 1,
    });
    let (_, attempts) = run(&client, &t, "m@status=503", quick(3))
        .await
        .unwrap_err();
    assert_eq!(attempts, 2, "one retry, then the budget is spent");
    let (_, attempts) = run(&client, &t, "m@status=503", quick(3))
        .await
        .unwrap_err();
    assert_eq!(attempts, 1);
    let counters = client.counters();
    assert_eq!(counters.retries.get(), 1);
    assert_eq!(counters.retries_denied_by_budget.get(), 2);
    assert_eq!(emu.stats().requests, 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_local_style_client_has_no_breaker_and_no_budget() {
    let emu = Emulator::start().await.unwrap();
    let t = target(&emu.openai_base(), true);
    let client = client();
    assert!(client.breaker_state().is_none());
    for _ in 0..8 {
        let (_, attempts) = run(&client, &t, "m@status=503", quick(3))
            .await
            .unwrap_err();
        assert_eq!(attempts, 3);
    }
    assert_eq!(emu.stats().requests, 24);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_generation_id_comes_from_the_header_before_the_body() {
    let emu = Emulator::start().await.unwrap();
    let client = client();
    for stream in [true, false] {
        let t = target(&emu.openai_base(), stream);
        let outcome = run(&client, &t, "m", RetryPolicy::none()).await.unwrap();
        let id = outcome.upstream_id.unwrap();
        assert!(id.starts_with("gen-"), "{id}");
    }
    emu.shutdown().await;

    // The header wins over the body's id; without a header, the body's id.
    for (header, want) in [
        (Some("gen-from-header"), "gen-from-header"),
        (None, "body-id"),
    ] {
        let base = one_answer(header).await;
        let t = target(&base, false);
        let outcome = run(&client, &t, "m", RetryPolicy::none()).await.unwrap();
        assert_eq!(outcome.text, "hi");
        assert_eq!(outcome.upstream_id.as_deref(), Some(want));
    }
}

/// Serves one HTTP/1.1 answer whose body id is `body-id`, with the given
/// `X-Generation-Id` header; returns the base URL.
// The one-shot server ends after its one answer, within the test.
#[allow(clippy::disallowed_methods)]
async fn one_answer(generation_id: Option<&'static str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        read_request(&mut socket).await;
        let body = r#"{"id":"body-id","model":"m","choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]}"#;
        let header = generation_id
            .map(|id| format!("X-Generation-Id: {id}\r\n"))
            .unwrap_or_default();
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
        socket.shutdown().await.unwrap();
    });
    format!("http://{addr}/v1")
}

/// Reads one request (head and a `Content-Length` body).
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the client closed before sending a request");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        let Some(head_end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length = text[..head_end]
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if buf.len() >= head_end + 4 + length {
            return;
        }
    }
}
