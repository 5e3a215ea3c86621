//! BatchGenerate: exactly one result per item, each with its own index, bad
//! items failing alone while good ones succeed on a real llama-server.

use std::collections::HashSet;

use ai_router_client::proto::{GenerateRequest, batch_item_result::Outcome};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::router::{TestRouter, local_config};
use futures::StreamExt;
use tonic::Code;

use crate::common::prompt;

#[tokio::test]
async fn every_item_gets_exactly_one_result() {
    let models = ModelDir::with_models(&["alpha", "beta"]).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();

    let mut items: Vec<GenerateRequest> = Vec::new();
    let mut expected_error = Vec::new();
    for i in 0..24 {
        let (item, bad) = match i % 6 {
            0 => (prompt("missing-model", "hi", 4), Some(Code::NotFound)),
            1 => (prompt("alpha", "", 4), Some(Code::InvalidArgument)),
            2 => (prompt("../escape", "hi", 4), Some(Code::InvalidArgument)),
            3 => (prompt("beta", &format!("item {i}"), 6), None),
            _ => (prompt("alpha", &format!("item {i}"), 6), None),
        };
        items.push(item);
        expected_error.push(bad);
    }
    let n = items.len();
    let Ok(mut stream) = client.batch(items, 4).await else {
        panic!("the batch is refused");
    };
    let mut seen = HashSet::new();
    while let Some(result) = stream.next().await {
        let result = result.unwrap();
        let index = result.index as usize;
        assert!(seen.insert(index), "index {index} delivered twice");
        match (result.outcome.unwrap(), expected_error[index]) {
            (Outcome::Response(r), None) => {
                assert!(!r.text.is_empty());
                assert_eq!(r.usage.unwrap().completion_tokens, 6);
            }
            (Outcome::Error(e), Some(code)) => {
                assert_eq!(e.code, code as i32, "item {index}: {}", e.message)
            }
            (other, want) => panic!("item {index}: got {other:?}, wanted error {want:?}"),
        }
    }
    assert_eq!(seen.len(), n, "exactly one result per item");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn empty_and_oversized_batches_are_rejected() {
    let models = ModelDir::with_models(&["alpha"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.limits.max_batch_items = 3;
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    let Err(empty) = client.batch(vec![], 0).await else {
        panic!("an empty batch is accepted");
    };
    assert_eq!(empty.code(), Some(Code::InvalidArgument));
    let Err(err) = client.batch(vec![prompt("alpha", "x", 1); 4], 0).await else {
        panic!("a batch over the limit is accepted");
    };
    assert_eq!(err.code(), Some(Code::InvalidArgument));
    assert!(err.message().unwrap().contains("at most 3"), "{err}");
    router.stop().await.unwrap();
}
