//! The `Admin` service against real llama-server children: load and pin
//! (a pinned model is not evicted for another), unpin, unload that drains
//! or forces, and the state changes streamed by WatchModels.

use std::time::Duration;

use ai_router_client::Client;
use ai_router_client::proto::{ModelEvent, ModelEventKind, ModelState};
use ai_router_testkit::gguf::{TinyModelSpec, write_tiny_llama};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::router::{TestRouter, local_config};
use futures::{Stream, StreamExt};

use crate::common::prompt;

/// Reads events until one of `kind` for `model` arrives; returns them all.
async fn until(
    events: &mut (impl Stream<Item = Result<ModelEvent, ai_router_client::ClientError>> + Unpin),
    model: &str,
    kind: ModelEventKind,
) -> Vec<ModelEvent> {
    let mut seen = Vec::new();
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        let done = event.model == model && event.kind == kind as i32;
        seen.push(event);
        if done {
            return seen;
        }
    }
    panic!("the watch ended before {kind:?} for {model}: {seen:?}");
}

fn kinds(events: &[ModelEvent], model: &str) -> Vec<ModelEventKind> {
    events
        .iter()
        .filter(|e| e.model == model)
        .map(|e| ModelEventKind::try_from(e.kind).unwrap())
        .collect()
}

#[tokio::test]
async fn a_pinned_model_is_not_evicted_for_another_until_unpinned() {
    let models = ModelDir::with_models(&["a", "b"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.local.max_loaded_models = 1;
    config.local.slot_wait_timeout = Duration::from_millis(300);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    let mut watch = client.watch_models().await.unwrap();

    let loaded = client.load_model("a", true).await.unwrap();
    assert!(loaded.started, "the call started the process");
    let info = loaded.model.unwrap();
    assert_eq!(info.state, ModelState::Warm as i32);
    assert!(info.pinned);
    let events = until(&mut watch, "a", ModelEventKind::Ready).await;
    assert_eq!(
        kinds(&events, "a"),
        [
            ModelEventKind::Current,
            ModelEventKind::Pinned,
            ModelEventKind::Loading,
            ModelEventKind::Ready
        ]
    );

    let refused = client.generate(prompt("b", "hi", 2)).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Some(tonic::Code::ResourceExhausted),
        "{refused}"
    );
    let listed = client.list_models().await.unwrap();
    let a = listed.models.iter().find(|m| m.id == "a").unwrap();
    assert!(a.pinned && a.state == ModelState::Warm as i32, "{a:?}");

    client.pin_model("a", false).await.unwrap();
    let served = client.generate(prompt("b", "hi", 2)).await.unwrap();
    assert_eq!(served.model, "b");
    let events = until(&mut watch, "a", ModelEventKind::Evicted).await;
    let evicted = events.last().unwrap();
    assert_eq!(evicted.reason, "room");
    assert_eq!(evicted.state, ModelState::Cold as i32);
    router.stop().await.unwrap();
}

/// A model slow enough (per token) that a long stream is still running when
/// the unload arrives.
fn slow_models() -> ModelDir {
    let models = ModelDir::with_models(&[]).unwrap();
    let spec = TinyModelSpec::slow_per_token(2048);
    write_tiny_llama(&models.path().join("slow.gguf"), &spec).unwrap();
    models
}

async fn first_chunk_of_long_stream(
    client: &Client,
) -> impl Stream<Item = Result<ai_router_client::proto::GenerateChunk, ai_router_client::ClientError>>
+ Unpin {
    let mut stream = client
        .generate_stream(prompt("slow", "go on", 900))
        .await
        .unwrap();
    let first = crate::common::first_output(&mut stream).await;
    assert!(!first.delta.is_empty() || first.done.is_some());
    stream
}

#[tokio::test]
async fn unload_lets_calls_finish_and_force_fails_them_with_the_reason() {
    let models = slow_models();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();
    client.load_model("slow", false).await.unwrap();

    // Draining: the stream finishes normally, then the process stops.
    let stream = first_chunk_of_long_stream(&client).await;
    let unload = tokio::spawn({
        let client = client.clone();
        async move { client.unload_model("slow", false).await }
    });
    let chunks: Vec<_> = stream.collect().await;
    let last = chunks.last().unwrap().as_ref().unwrap();
    assert!(
        last.done.is_some(),
        "the drained stream ended with its summary"
    );
    let report = unload.await.unwrap().unwrap();
    assert!(report.stopped);
    assert_eq!(
        report.in_flight, 1,
        "the stream was in flight when the unload began"
    );
    assert!(
        router.engine.pool().child_pids().is_empty(),
        "the process is gone"
    );

    // Forced: the stream in flight fails, naming the unload, and the model
    // is not started again behind the operator's back.
    let mut stream = first_chunk_of_long_stream(&client).await;
    let report = client.unload_model("slow", true).await.unwrap();
    assert!(report.stopped);
    let mut failure = None;
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            failure = Some(e);
            break;
        }
    }
    let failure = failure.expect("the forced unload failed the stream");
    assert_eq!(failure.code(), Some(tonic::Code::Unavailable), "{failure}");
    assert!(
        failure.to_string().contains("unloaded by an operator"),
        "{failure}"
    );
    let listed = client.list_models().await.unwrap();
    assert_eq!(listed.models[0].state, ModelState::Cold as i32);
    assert!(router.engine.pool().child_pids().is_empty());

    let unknown = client.load_model("nope", false).await.unwrap_err();
    assert_eq!(unknown.code(), Some(tonic::Code::NotFound), "{unknown}");
    router.stop().await.unwrap();
}
