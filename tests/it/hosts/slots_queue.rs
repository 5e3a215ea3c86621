//! `queue_slots`: a llama-server without `--metrics` still lists its slots
//! at `GET /slots`; the busy ones count as the host's load, so a host kept
//! busy by other clients (not this router) is passed over.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ai_router::config::PickPolicy;
use ai_router_testkit::gguf::{TinyModelSpec, write_tiny_llama, write_tiny_llama_default};
use ai_router_testkit::llama::LlamaProcess;
use futures::StreamExt;

use super::{lab_hosts, pooled, router};
use crate::common::prompt;

/// Tokens each long generation on the busy host asks for: seconds of work,
/// several times what the calls under test take (it is cancelled when the
/// test ends).
const LONG: u32 = 4_000;

/// Starts a streamed generation of `LONG` tokens on `port` (another
/// client's work) and returns once its first chunk arrived, i.e. a slot is
/// processing it. The stream is drained by a task that counts `ended`
/// when it ends.
async fn occupy_a_slot(port: u16, ended: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/completion"))
        .json(&serde_json::json!({
            "prompt": "hello world",
            "n_predict": LONG,
            "ignore_eos": true,
            "stream": true,
        }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let mut body = response.bytes_stream();
    body.next().await.unwrap().unwrap();
    tokio::spawn(async move {
        while let Some(Ok(_)) = body.next().await {}
        ended.fetch_add(1, Ordering::SeqCst);
    })
}

#[tokio::test]
async fn busy_slots_read_from_slots_steer_calls_to_the_free_host() {
    let dir = tempfile::tempdir().unwrap();
    // The busy host's model: wide enough that LONG tokens take seconds.
    let wide = dir.path().join("wide.gguf");
    let spec = TinyModelSpec {
        embedding: 256,
        layers: 4,
        heads: 4,
        ff: 1024,
        context: 8_192,
        seed: 3,
        name: "wide".into(),
    };
    write_tiny_llama(&wide, &spec).unwrap();
    let tiny = dir.path().join("tiny.gguf");
    write_tiny_llama_default(&tiny, 4).unwrap();
    let busy = LlamaProcess::start_with(&wide, 2, &["--ctx-size", "16384"])
        .await
        .unwrap();
    let free = LlamaProcess::start(&tiny, 1).await.unwrap();

    // In-flight counts alone would tie (this router sends the busy host
    // nothing), and a tie goes to a random one of the pair.
    let mut endpoint = pooled(
        vec![busy.openai_base(), free.openai_base()],
        PickPolicy::LeastInFlight,
    );
    // Each read may take up to the interval: generous, since a busy
    // llama-server answers `/slots` between its decoding steps.
    endpoint.queue_slots = Some(Duration::from_millis(250));
    let router = router(endpoint).await;
    let client = router.client().await.unwrap();

    let ended = Arc::new(AtomicUsize::new(0));
    let drains = [
        occupy_a_slot(busy.port, ended.clone()).await,
        occupy_a_slot(busy.port, ended.clone()).await,
    ];
    // Wait (bounded) until the pool has read both busy slots.
    let pool = lab_hosts(&router);
    let busy_label = format!("127.0.0.1:{}", busy.port);
    let until = Instant::now() + Duration::from_secs(30);
    let load_of_busy = || {
        pool.host_loads()
            .into_iter()
            .find(|(label, _)| *label == busy_label)
            .map_or(0, |(_, load)| load)
    };
    while load_of_busy() < 2 {
        assert!(
            Instant::now() < until,
            "the pool never read 2 busy slots: {:?}",
            pool.host_loads()
        );
        // Polled: the scrape has no signal to wait on from outside.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Each call goes to the free host: its load (at most its one slot)
    // stays below the busy host's two.
    for i in 0..10 {
        client
            .generate(prompt("lab/m", &format!("q{i}"), 1))
            .await
            .unwrap();
    }
    // Both long generations still run, so every slot of the busy host was
    // taken throughout: a call sent there would still be waiting for one,
    // not done.
    assert_eq!(
        ended.load(Ordering::SeqCst),
        0,
        "the busy host's long generations ended before the calls were done: a call \
         was sent to it and waited for a slot (or the host was quicker than LONG assumes)"
    );
    for d in drains {
        d.abort();
    }
    router.stop().await.unwrap();
}
