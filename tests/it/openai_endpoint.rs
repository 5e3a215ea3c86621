//! The `openai` backend: a configured OpenAI-compatible endpoint served
//! through one pooled client, against the emulator and against a real
//! llama-server's `/v1/chat/completions` (SSE and plain JSON).

use ai_router::config::{EndpointConfig, EndpointKind};
use ai_router_client::proto::BackendKind;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::gguf::write_tiny_llama_default;
use ai_router_testkit::llama::LlamaProcess;
use ai_router_testkit::router::{TestRouter, remote_config};
use futures::StreamExt;

use crate::common::prompt;

fn endpoint(name: &str, base: &str) -> EndpointConfig {
    EndpointConfig::new(name, EndpointKind::OpenAi, base)
}

#[tokio::test]
async fn requests_reuse_one_pooled_connection() {
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    config
        .endpoints
        .push(endpoint("lab", &emulator.openai_base()));
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();

    for i in 0..20 {
        let r = client
            .generate(prompt("lab/m", &format!("q{i}"), 5))
            .await
            .unwrap();
        assert_eq!(r.text, "tok0 tok1 tok2 tok3 tok4");
        assert_eq!(r.model, "lab/m");
        assert_eq!(r.backend, BackendKind::Openai as i32);
        assert_eq!(r.usage.unwrap().completion_tokens, 5);
    }
    let upstream = emulator.stats();
    assert_eq!(upstream.requests, 20);
    assert_eq!(
        upstream.connections_opened, 1,
        "sequential requests must reuse one connection"
    );
    let stats = client.stats().await.unwrap();
    assert_eq!(stats.upstream_connections_opened, 1);
    assert_eq!(stats.upstream_requests_sent, 20);

    let models = client.list_models().await.unwrap();
    assert!(
        models.models.iter().any(|m| m.id == "lab/*"),
        "{:?}",
        models.models
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn configured_model_list_limits_what_routes() {
    let emulator = Emulator::start().await.unwrap();
    let mut config = remote_config().unwrap();
    let mut ep = endpoint("lab", &emulator.openai_base());
    ep.models = vec!["only-this".into()];
    config.endpoints.push(ep);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    client
        .generate(prompt("lab/only-this", "q", 2))
        .await
        .unwrap();
    let err = client
        .generate(prompt("lab/other", "q", 2))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::NotFound));
    assert!(err.message().unwrap().contains("lab/only-this"), "{err}");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn real_llama_server_streaming_and_plain_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("remote.gguf");
    write_tiny_llama_default(&model, 7).unwrap();
    let llama = LlamaProcess::start(&model, 2).await.unwrap();

    let mut config = remote_config().unwrap();
    config.endpoints.push(endpoint("sse", &llama.openai_base()));
    let mut plain = endpoint("plain", &llama.openai_base());
    plain.stream = false;
    config.endpoints.push(plain);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();

    for model in ["sse/remote", "plain/remote"] {
        let r = client.generate(prompt(model, "hello", 10)).await.unwrap();
        assert!(!r.text.is_empty(), "{model}");
        assert_eq!(r.usage.unwrap().completion_tokens, 10, "{model}");
        assert!(r.timing.unwrap().time_to_first_token.is_some(), "{model}");
    }

    let Ok(mut stream) = client
        .generate_stream(prompt("sse/remote", "stream please", 16))
        .await
    else {
        panic!("the stream is refused");
    };
    let mut deltas = 0;
    let mut done = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        match chunk.done {
            Some(d) => done = Some(d),
            None => deltas += 1,
        }
    }
    assert!(
        deltas > 1,
        "SSE from llama-server arrives in several deltas"
    );
    assert_eq!(done.unwrap().usage.unwrap().completion_tokens, 16);
    router.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    // A port with nothing listening.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = remote_config().unwrap();
    let mut ep = endpoint("gone", &format!("http://{dead}/v1"));
    ep.max_attempts = 2;
    config.endpoints.push(ep);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    let err = client.generate(prompt("gone/m", "x", 2)).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unavailable));
    assert!(
        err.message().unwrap().contains("cannot reach gone"),
        "{err}"
    );
    router.stop().await.unwrap();
}
