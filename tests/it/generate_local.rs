//! Generate, GenerateStream, ListModels and Stats end to end against a real
//! llama-server child serving a generated tiny GGUF model.

use ai_router_client::proto::{BackendKind, ModelState};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::router::{TestRouter, local_config};
use futures::StreamExt;

use crate::common::prompt;

#[tokio::test]
async fn cold_start_then_warm_hits_with_real_tokens() {
    let models = ModelDir::with_models(&["tiny"]).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();

    let listed = client.list_models().await.unwrap();
    assert_eq!(listed.models.len(), 1);
    assert_eq!(listed.models[0].id, "tiny");
    assert_eq!(listed.models[0].state, ModelState::Cold as i32);

    let first = client.generate(prompt("tiny", "hello", 12)).await.unwrap();
    assert!(!first.text.is_empty(), "a real model produces text");
    assert_eq!(first.model, "tiny");
    assert_eq!(first.backend, BackendKind::Local as i32);
    let usage = first.usage.unwrap();
    assert!(usage.prompt_tokens > 0);
    assert_eq!(
        usage.completion_tokens, 12,
        "the tiny model never stops early"
    );
    let timing = first.timing.unwrap();
    assert!(
        timing.cold_start,
        "the first request waited for the process"
    );
    assert!(timing.time_to_first_token.is_some());

    for _ in 0..3 {
        let warm = client.generate(prompt("tiny", "again", 4)).await.unwrap();
        assert!(!warm.timing.unwrap().cold_start);
    }

    let stats = client.stats().await.unwrap();
    let pool = stats.pool.unwrap();
    assert_eq!(pool.cold_starts, 1);
    assert_eq!(pool.hits, 3);
    assert!((pool.hit_ratio - 0.75).abs() < 1e-9);
    assert_eq!(pool.loaded_models, 1);
    assert_eq!(pool.load_time.unwrap().count, 1);
    assert_eq!(stats.total_requests, 4);
    let ok: u64 = stats
        .requests
        .iter()
        .filter(|r| r.model == "tiny" && r.status == "OK")
        .map(|r| r.count)
        .sum();
    assert_eq!(ok, 4);
    assert_eq!(stats.latency.unwrap().count, 4);
    assert!(stats.startup_time.is_some());

    let listed = client.list_models().await.unwrap();
    assert_eq!(listed.models[0].state, ModelState::Warm as i32);
    assert_eq!(listed.models[0].slots, 2);

    router.stop().await.unwrap();
}

#[tokio::test]
async fn stream_delivers_several_chunks_then_a_summary() {
    let models = ModelDir::with_models(&["streamer"]).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();

    let Ok(mut stream) = client
        .generate_stream(prompt("streamer", "tell me", 24))
        .await
    else {
        panic!("the stream is refused");
    };
    let mut deltas = Vec::new();
    let mut done = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(done.is_none(), "nothing may follow the summary chunk");
        if let Some(d) = chunk.done {
            done = Some(d);
        } else {
            deltas.push(chunk.delta);
        }
    }
    assert!(
        deltas.len() > 1,
        "expected several deltas, got {}",
        deltas.len()
    );
    let done = done.expect("a summary chunk ends the stream");
    assert!(done.text.is_empty(), "text was delivered as deltas");
    assert_eq!(done.usage.unwrap().completion_tokens, 24);
    assert!(done.timing.unwrap().time_to_first_token.is_some());

    router.stop().await.unwrap();
}
