//! Per-key rate limits on a live router: 16 concurrent callers against a
//! 60 requests/minute key get exactly the key's burst of 60 (GCRA over one
//! atomic: no interleaving admits one more), every refusal is
//! RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms` saying when a request
//! refills, and another key is not affected. A key's max_concurrency
//! refuses the call beyond it and throttles (not fails) its batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ai_router::api::status::PUSHBACK_KEY;
use ai_router_client::ClientError;
use ai_router_testkit::emulator::Emulator;
use ai_router_testkit::router::TestRouter;
use futures::StreamExt;
use tonic::Code;

use crate::common::prompt;
use crate::keyed::{self, status_of};

const MODEL: &str = "openrouter/vendor/model";
const CALLERS: usize = 16;
const CALLS_EACH: usize = 8;

#[tokio::test]
async fn sixteen_concurrent_callers_get_exactly_sixty_of_a_60_rpm_key() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (limited_key, mut limited) = keyed::key("limited");
    limited.requests_per_minute = Some(60);
    let (other_key, other) = keyed::key("other");
    let router = TestRouter::start(keyed::config(&emulator, data.path(), vec![limited, other]))
        .await
        .unwrap();
    let client = Arc::new(keyed::client(&router, &limited_key).await);

    let started = Instant::now();
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for _ in 0..CALLS_EACH {
                    outcomes.push(client.generate(prompt(MODEL, "hi", 2)).await);
                }
                outcomes
            })
        })
        .collect();
    let mut admitted = 0;
    let mut pushbacks = Vec::new();
    for caller in callers {
        for outcome in caller.await.unwrap() {
            match outcome {
                Ok(_) => admitted += 1,
                Err(ClientError::Status(s)) if s.code() == Code::ResourceExhausted => {
                    assert!(s.message().contains("requests_per_minute (60)"), "{s:?}");
                    let ms: u64 = s
                        .metadata()
                        .get(PUSHBACK_KEY)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    pushbacks.push(ms);
                }
                Err(e) => panic!("unexpected failure: {e}"),
            }
        }
    }
    let elapsed = started.elapsed();
    // GCRA: a burst of 60, then one more per elapsed second. The window the
    // test measured decides how many refills it may have seen.
    let refills = elapsed.as_secs() as usize;
    if refills == 0 {
        assert_eq!(admitted, 60, "exactly the burst within one second");
    } else {
        assert!(
            (60..=60 + refills).contains(&admitted),
            "{admitted} in {elapsed:?}"
        );
    }
    assert_eq!(admitted + pushbacks.len(), CALLERS * CALLS_EACH);
    assert!(pushbacks.iter().all(|&ms| ms <= 1000), "{pushbacks:?}");
    // The limit is per key: another key is served at once.
    let other_client = keyed::client(&router, &other_key).await;
    assert!(other_client.generate(prompt(MODEL, "hi", 2)).await.is_ok());
    assert_eq!(
        emulator.stats().requests as usize,
        admitted + 1,
        "refused calls never reached the upstream"
    );
    router.stop().await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn max_concurrency_refuses_single_calls_beyond_it_and_throttles_batches() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (key, mut entry) = keyed::key("narrow");
    entry.max_concurrency = Some(1);
    entry.max_batch_items = Some(6);
    let router = TestRouter::start(keyed::config(&emulator, data.path(), vec![entry]))
        .await
        .unwrap();
    let client = keyed::client(&router, &key).await;

    // One slow call holds the key's only slot; a second is refused at once.
    let slow = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .generate(prompt("openrouter/v/m@delay=1s", "hi", 2))
                .await
        })
    };
    // The slow call is at the upstream, so it holds the key's slot.
    assert!(
        emulator
            .wait_until(Duration::from_secs(5), |s| s.in_flight >= 1)
            .await
    );
    let s = status_of(
        client.generate(prompt(MODEL, "hi", 2)).await,
        Code::ResourceExhausted,
    );
    assert!(s.message().contains("max_concurrency (1)"), "{s:?}");
    assert!(s.metadata().get(PUSHBACK_KEY).is_some());
    slow.await.unwrap().unwrap();

    // A batch of 6 with concurrency 8 runs one item at a time: all succeed.
    let items = (0..6).map(|_| prompt(MODEL, "hi", 2)).collect();
    let results: Vec<_> = client.batch(items, 8).await.unwrap().collect().await;
    assert_eq!(results.len(), 6);
    for r in results {
        assert!(
            matches!(
                r.unwrap().outcome,
                Some(ai_router_client::proto::batch_item_result::Outcome::Response(_))
            ),
            "every item of a throttled batch succeeds"
        );
    }
    // A batch over the key's max_batch_items is refused whole.
    let items = (0..7).map(|_| prompt(MODEL, "hi", 2)).collect();
    let s = status_of(
        client.batch(items, 8).await.map(|_| ()),
        Code::InvalidArgument,
    );
    assert!(s.message().contains("at most 6 items"), "{s:?}");
    router.stop().await.unwrap();
    emulator.shutdown().await;
}

#[tokio::test]
async fn tokens_per_minute_stops_a_key_near_its_allowance() {
    let emulator = Emulator::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let (key, mut entry) = keyed::key("tokens");
    entry.tokens_per_minute = Some(100);
    let router = TestRouter::start(keyed::config(&emulator, data.path(), vec![entry]))
        .await
        .unwrap();
    let client = keyed::client(&router, &key).await;

    let mut used = Vec::new();
    let refusal = loop {
        assert!(used.len() < 200, "never refused after {} calls", used.len());
        match client.generate(prompt(MODEL, "hi", 4)).await {
            Ok(r) => {
                let u = r.usage.unwrap();
                used.push(u64::from(u.prompt_tokens + u.completion_tokens));
            }
            Err(e) => break status_of::<()>(Err(e), Code::ResourceExhausted),
        }
    };
    assert!(
        refusal.message().contains("tokens_per_minute (100)"),
        "{refusal:?}"
    );
    let pushback: u64 = refusal
        .metadata()
        .get(PUSHBACK_KEY)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pushback <= 60_000, "{pushback}");
    // Charged as the usage became known: the admitted calls used the
    // allowance, overshooting by at most the last call (its completion is
    // charged after it ran).
    let total: u64 = used.iter().sum();
    let largest = used.iter().copied().max().unwrap_or(0);
    assert!(!used.is_empty());
    assert!(total <= 100 + largest, "{total} tokens admitted: {used:?}");
    router.stop().await.unwrap();
    emulator.shutdown().await;
}
