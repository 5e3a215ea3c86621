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
async fn a_stream_on_a_cold_model_first_says_it_is_loading() {
    let models = ModelDir::with_models(&["cold"]).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();
    let chunks: Vec<_> = client
        .generate_stream(prompt("cold", "hello", 4))
        .await
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
        .await;
    let loading = chunks[0].loading.as_ref().expect("a loading chunk first");
    assert_eq!(loading.model, "cold");
    assert_eq!(loading.loads_queued, 0);
    assert!(chunks[0].delta.is_empty() && chunks[0].done.is_none());
    assert!(chunks[1..].iter().all(|c| c.loading.is_none()));
    assert!(chunks.last().unwrap().done.is_some());

    // Warm now: no loading chunk.
    let warm: Vec<_> = client
        .generate_stream(prompt("cold", "again", 4))
        .await
        .unwrap()
        .map(|c| c.unwrap())
        .collect()
        .await;
    assert!(warm.iter().all(|c| c.loading.is_none()), "{warm:?}");
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

/// Unary calls ask the child for a whole JSON answer, which llama-server
/// answers on a kept-alive connection; streamed calls use SSE, after which
/// it closes the connection. So sequential unary calls share one
/// connection, each streamed call opens its own, and a unary call's time to
/// first token comes from the child's own timings (before the answer's end).
#[tokio::test]
async fn unary_calls_reuse_one_child_connection_and_streams_do_not() {
    let models = ModelDir::with_models(&["tiny"]).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();
    client.generate(prompt("tiny", "warm up", 2)).await.unwrap();
    let before = client.stats().await.unwrap().upstream_connections_opened;

    for _ in 0..5 {
        let answer = client.generate(prompt("tiny", "again", 16)).await.unwrap();
        assert_eq!(answer.usage.unwrap().completion_tokens, 16);
        let timing = answer.timing.unwrap();
        let ttft = timing.time_to_first_token.unwrap();
        let total = timing.total.unwrap();
        let as_nanos = |d: ai_router_client::proto::Duration| {
            d.seconds as i128 * 1_000_000_000 + d.nanos as i128
        };
        assert!(
            as_nanos(ttft) < as_nanos(total),
            "the child's timings put the first token before the end: {ttft:?} vs {total:?}"
        );
    }
    let after_unary = client.stats().await.unwrap().upstream_connections_opened;
    assert_eq!(
        after_unary - before,
        0,
        "unary calls reuse the warm-up's connection"
    );

    for _ in 0..3 {
        let mut stream = client
            .generate_stream(prompt("tiny", "stream", 4))
            .await
            .unwrap();
        while let Some(chunk) = stream.next().await {
            chunk.unwrap();
        }
    }
    let after_streams = client.stats().await.unwrap().upstream_connections_opened;
    assert_eq!(
        after_streams - after_unary,
        3,
        "one connection per streamed call"
    );
    router.stop().await.unwrap();
}
