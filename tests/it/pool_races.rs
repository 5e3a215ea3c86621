//! The swap race suite: the orderings that broke other routers' model
//! swapping, each repeated (`POOL_RACE_ROUNDS`, 100 by default) against real
//! llama-server children with one slot:
//! - A loaded, then B and C asked for at once;
//! - a caller disconnects while queued for a load;
//! - an unload arrives while the model is loading;
//! - the idle TTL fires during a request;
//! - eviction is chosen while another model is loading.
//!
//! In every round every call must succeed within its deadline (no request
//! killed in flight, no hang), and a sampler reading /proc every 2 ms must
//! never see more llama-server processes than the one slot; after each round
//! every warm model has exactly one process and no other process is left.

use std::time::Duration;

use ai_router::pool::PoolEvent;
use ai_router_client::Client;
use ai_router_testkit::gguf::{TinyModelSpec, write_tiny_llama};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::ProcScope;
use ai_router_testkit::router::{TestRouter, local_config, wait_for_event};
use ai_router_testkit::swap::ProcSampler;
use futures::StreamExt;

use crate::common::prompt;

/// Every call's deadline: far above a swap (a few hundred milliseconds), so
/// reaching it means something waited for nothing.
const DEADLINE: Duration = Duration::from_secs(30);
/// Tokens of the calls that keep a model busy while the race happens.
const LONG: u32 = 300;

fn rounds() -> usize {
    std::env::var("POOL_RACE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

/// Three models (`a`, `b`, `c`), a few milliseconds per token, so a long
/// call is still running when the race it is part of happens.
fn models() -> ModelDir {
    let dir = ModelDir::with_models(&[]).unwrap();
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        let spec = TinyModelSpec {
            embedding: 256,
            layers: 4,
            heads: 4,
            ff: 512,
            context: 2048,
            seed: i as u64,
            ..TinyModelSpec::default()
        };
        write_tiny_llama(&dir.path().join(format!("{id}.gguf")), &spec).unwrap();
    }
    dir
}

struct Race {
    models: ModelDir,
    router: TestRouter,
    client: Client,
}

impl Race {
    async fn start(ttl: Option<Duration>) -> Race {
        let models = models();
        let mut config = local_config(models.path()).unwrap();
        config.local.max_loaded_models = 1;
        config.local.idle_ttl = ttl;
        let router = TestRouter::start(config).await.unwrap();
        let client = router.client().await.unwrap().with_timeout(DEADLINE);
        Race {
            models,
            router,
            client,
        }
    }

    fn sampler(&self) -> ProcSampler {
        ProcSampler::start(
            ProcScope::router_in_this_process(self.models.path()),
            Duration::from_millis(2),
        )
        .unwrap()
    }

    async fn generate(&self, model: &str, tokens: u32) {
        let reply = self
            .client
            .generate(prompt(model, "race", tokens))
            .await
            .unwrap_or_else(|e| panic!("call to {model} failed: {e}"));
        assert_eq!(reply.usage.unwrap().completion_tokens, tokens, "{model}");
    }

    /// After a round: at most one process, sampled all along; one process
    /// per warm model now and nothing else left.
    fn check_round(&self, sampler: ProcSampler, round: usize) {
        let stats = sampler.finish().unwrap();
        assert!(
            stats.max_live <= 1,
            "round {round}: {} llama-server processes at once with one slot: {stats:?}",
            stats.max_live
        );
        let pool = self.router.engine.pool();
        let warm = pool
            .statuses()
            .iter()
            .filter(|m| m.state == ai_router::pool::ModelStateKind::Warm)
            .count();
        assert_eq!(
            pool.child_pids().len(),
            warm,
            "round {round}: one process per warm model"
        );
        assert!(warm <= 1, "round {round}: {warm} warm models with one slot");
    }

    async fn stop(self) {
        self.router.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_then_b_and_c_at_once() {
    let race = Race::start(None).await;
    for round in 0..rounds() {
        let sampler = race.sampler();
        race.generate("a", 2).await;
        tokio::join!(race.generate("b", 2), race.generate("c", 2));
        race.check_round(sampler, round);
    }
    race.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_disconnects_while_queued_for_a_load() {
    let race = Race::start(None).await;
    for round in 0..rounds() {
        let sampler = race.sampler();
        race.generate("a", 2).await;
        let mut events = race.router.engine.pool().subscribe();
        // `a` holds the only slot with a long stream (its first chunk means
        // the call holds the model)...
        let mut busy = race
            .client
            .generate_stream(prompt("a", "race", LONG))
            .await
            .unwrap();
        crate::common::first_output(&mut busy).await;
        // ...while a caller for `b` queues for a load and then goes away.
        let queued = race.generate("b", 2);
        let loading = wait_for_event(
            &mut events,
            DEADLINE,
            |e| matches!(e, PoolEvent::Loading { model } if model == "b"),
        );
        tokio::select! {
            _ = queued => panic!("round {round}: `b` was served while `a` held the slot"),
            seen = loading => { seen.unwrap(); }
        }
        // The queued call was dropped above (cancelling its RPC); `a` must
        // finish untouched, and `b` must start for the next caller.
        let mut last = None;
        while let Some(chunk) = busy.next().await {
            last = Some(chunk.unwrap_or_else(|e| panic!("round {round}: `a` failed: {e}")));
        }
        assert!(last.and_then(|c| c.done).is_some(), "round {round}");
        race.generate("b", 2).await;
        race.check_round(sampler, round);
    }
    race.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unload_arrives_while_the_model_is_loading() {
    let race = Race::start(None).await;
    for round in 0..rounds() {
        let sampler = race.sampler();
        let mut events = race.router.engine.pool().subscribe();
        let model = if round % 2 == 0 { "a" } else { "b" };
        let call = race.generate(model, 4);
        tokio::pin!(call);
        let unload = async {
            wait_for_event(
                &mut events,
                DEADLINE,
                |e| matches!(e, PoolEvent::Loading { model: m } if m == model),
            )
            .await
            .unwrap();
            race.client.unload_model(model, false).await.unwrap()
        };
        // The unload waits for the load and for the call it serves, then
        // stops the process: the call succeeds, and nothing is left.
        let ((), report) = tokio::join!(&mut call, unload);
        assert!(report.stopped, "round {round}: {report:?}");
        race.check_round(sampler, round);
        assert!(
            race.router.engine.pool().child_pids().is_empty(),
            "round {round}: the unloaded model's process is gone"
        );
    }
    race.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_ttl_fires_during_a_request() {
    // A TTL far shorter than the call: the maintenance tick (every 20 ms
    // here) finds the model past its TTL while the call still runs.
    let race = Race::start(Some(Duration::from_millis(40))).await;
    for round in 0..rounds() {
        let sampler = race.sampler();
        let mut events = race.router.engine.pool().subscribe();
        race.generate("a", LONG).await;
        // Only after the call is the model idle; the TTL then stops it.
        let evicted = wait_for_event(
            &mut events,
            DEADLINE,
            |e| matches!(e, PoolEvent::Evicted { model, .. } if model == "a"),
        )
        .await
        .unwrap();
        assert!(
            matches!(
                evicted,
                PoolEvent::Evicted {
                    reason: "idle_ttl",
                    ..
                }
            ),
            "round {round}: {evicted:?}"
        );
        race.check_round(sampler, round);
    }
    race.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_is_chosen_while_another_model_is_loading() {
    let race = Race::start(None).await;
    for round in 0..rounds() {
        let sampler = race.sampler();
        let mut events = race.router.engine.pool().subscribe();
        race.generate("a", 2).await;
        // `b` evicts idle `a` and loads; `c` arrives during that load and
        // must wait for `b`'s caller to finish rather than evict `b` under it.
        let b = race.generate("b", LONG);
        tokio::pin!(b);
        let c = async {
            wait_for_event(
                &mut events,
                DEADLINE,
                |e| matches!(e, PoolEvent::Loading { model } if model == "b"),
            )
            .await
            .unwrap();
            race.generate("c", 2).await;
        };
        tokio::join!(&mut b, c);
        race.check_round(sampler, round);
    }
    race.stop().await;
}

/// The streamed variant of the first race: a stream in flight on `a` while
/// `b` and `c` are asked for; the stream must end with its summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_in_flight_survives_b_and_c_being_asked_for() {
    let race = Race::start(None).await;
    for round in 0..rounds().min(20) {
        let sampler = race.sampler();
        let mut stream = race
            .client
            .generate_stream(prompt("a", "race", LONG))
            .await
            .unwrap();
        let first = crate::common::first_output(&mut stream).await;
        assert!(first.done.is_none());
        let rest = async {
            let mut last = None;
            while let Some(chunk) = stream.next().await {
                last = Some(chunk.unwrap_or_else(|e| panic!("round {round}: stream failed: {e}")));
            }
            assert!(last.and_then(|c| c.done).is_some(), "round {round}");
        };
        tokio::join!(rest, race.generate("b", 2), race.generate("c", 2));
        race.check_round(sampler, round);
    }
    race.stop().await;
}
