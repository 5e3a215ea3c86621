//! Model swapping under load, against real llama-server children: more
//! models than slots, several callers, a seeded skewed (or uniform) mix, so
//! models are loaded and evicted all the time. Every call must succeed and
//! the number of llama-server processes, counted from /proc until each one
//! is reaped, must never exceed the cap. This is the test that would have
//! caught the pool stall (cold loads blocking each other until the start-up
//! timeout, then more children alive than the cap); `SWAP_STRESS_ROUNDS` sets the rounds
//! (10 by default; `SWAP_STRESS_ROUNDS=50` is the acceptance run).

use std::time::{Duration, Instant};

use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::ProcScope;
use ai_router_testkit::router::{TestRouter, local_config};
use ai_router_testkit::swap::{SwapTarget, SwapWorkload, run_swap};

use crate::common::prompt;

const MODELS: [&str; 4] = ["s0", "s1", "s2", "s3"];
const CAP: usize = 2;
const CALLS_PER_ROUND: usize = 200;
/// Far above a good call (tens of milliseconds warm, a few hundred with a
/// swap); a call this slow means something waited for nothing.
const GENEROUS: Duration = Duration::from_secs(10);

fn rounds() -> u64 {
    std::env::var("SWAP_STRESS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_four_models_over_two_slots_never_fails_or_overshoots() {
    let models = ModelDir::with_models(&MODELS).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.local.max_loaded_models = CAP;
    let router = TestRouter::start(config).await.unwrap();
    let target = SwapTarget::grpc(&router.url()).await.unwrap();
    let ids: Vec<String> = MODELS.iter().map(|m| m.to_string()).collect();
    let started = Instant::now();
    for round in 0..rounds() {
        // Even rounds: the skewed mix with 4 callers; odd rounds: every
        // model equally likely with 6 callers, the harder case.
        let mut workload = if round % 2 == 0 {
            SwapWorkload::zipf(ids.clone())
        } else {
            SwapWorkload {
                callers: 6,
                ..SwapWorkload::uniform(ids.clone())
            }
        };
        workload.calls = CALLS_PER_ROUND;
        workload.seed = 1000 + round;
        let scope = ProcScope::router_in_this_process(models.path());
        let report = run_swap(&workload, &target, Some(scope)).await.unwrap();
        let procs = report.procs.clone().unwrap();
        eprintln!(
            "round {round}: {} calls in {:.1} s, p50 {:?}, p99 {:?}, max {:?}, {} spawns, most live {}",
            report.calls,
            report.wall.as_secs_f64(),
            report.p50(),
            report.p99(),
            report.max_latency(),
            procs.spawned(),
            procs.max_live
        );
        assert_eq!(
            report.failed,
            0,
            "round {round}: {}",
            report.failure_summary()
        );
        assert!(
            report.max_latency() < GENEROUS,
            "round {round}: a call took {:?}",
            report.max_latency()
        );
        assert!(
            procs.max_live <= CAP && procs.samples_over(CAP) == 0,
            "round {round}: {} llama-server processes alive at once (zombies included) under a cap of {CAP}; {} samples over",
            procs.max_live,
            procs.samples_over(CAP)
        );
        assert!(
            procs.spawned() > 0,
            "round {round}: the mix must swap models"
        );
    }
    eprintln!(
        "{} rounds in {:.1} s",
        rounds(),
        started.elapsed().as_secs_f64()
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_call_that_gives_up_in_the_middle_of_a_load_leaves_no_slot_taken() {
    let models = ModelDir::with_models(&["first", "second"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.local.max_loaded_models = 1;
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();

    // The caller gives up (drops the call) while "first" is starting.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(20),
        client.generate(prompt("first", "x", 2)),
    )
    .await;
    assert!(gave_up.is_err(), "a cold start takes longer than 20 ms");

    // Whatever the start did meanwhile (finished into an idle model, or is
    // about to), the one slot is not stuck: the other model gets it.
    let reply = client
        .clone()
        .with_timeout(Duration::from_secs(30))
        .generate(prompt("second", "x", 2))
        .await
        .unwrap();
    assert!(reply.timing.unwrap().cold_start);
    let pool = client.stats().await.unwrap().pool.unwrap();
    assert_eq!(pool.slots_held, 1, "{pool:?}");
    assert_eq!(pool.slot_waiters, 0, "{pool:?}");
    assert_eq!(pool.loaded_models, 1, "{pool:?}");
    router.stop().await.unwrap();
}
