//! Hang detection by generation, against real llama-server children made to
//! hang with SIGSTOP (`/health` checks are pushed out of the way, so only
//! the generation checks can see it): an idle child that fails its one-token
//! probe is killed and replaced; a call that meets a hung child before any
//! output is retried once on its replacement and succeeds.

use std::time::Duration;

use ai_router::pool::PoolEvent;
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::signal;
use ai_router_testkit::router::{TestRouter, local_config, wait_for_event};

use crate::common::prompt;

fn config(models: &ModelDir) -> ai_router::config::Config {
    let mut config = local_config(models.path()).unwrap();
    // Far away: a stopped process also fails /health, and this test is
    // about what /health cannot see.
    config.local.health_interval = Duration::from_secs(3600);
    config
}

#[tokio::test]
async fn an_idle_child_that_cannot_generate_is_killed_and_replaced() {
    let models = ModelDir::with_models(&["tiny"]).unwrap();
    let mut config = config(&models);
    config.local.generation_probe_interval = Duration::from_millis(200);
    config.local.generation_probe_timeout = Duration::from_millis(500);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    client.generate(prompt("tiny", "warm", 2)).await.unwrap();
    let pool = router.engine.pool();
    let hung = pool.child_pids()[0];
    let mut events = pool.subscribe();

    signal(hung, libc::SIGSTOP).unwrap();
    let died = wait_for_event(
        &mut events,
        Duration::from_secs(20),
        |e| matches!(e, PoolEvent::Died { model, .. } if model == "tiny"),
    )
    .await
    .unwrap();
    assert_eq!(
        died,
        PoolEvent::Died {
            model: "tiny".into(),
            pid: hung
        }
    );

    let reply = client.generate(prompt("tiny", "again", 2)).await.unwrap();
    assert_eq!(reply.usage.unwrap().completion_tokens, 2);
    let replacement = pool.child_pids();
    assert_eq!(replacement.len(), 1);
    assert_ne!(replacement[0], hung, "a new process serves");
    router.stop().await.unwrap();
}

#[tokio::test]
async fn a_call_that_meets_a_hung_child_is_retried_once_on_a_new_one() {
    let models = ModelDir::with_models(&["tiny"]).unwrap();
    let mut config = config(&models);
    config.local.generation_probe_interval = Duration::ZERO;
    config.local.first_token_timeout = Duration::from_secs(1);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    client.generate(prompt("tiny", "warm", 2)).await.unwrap();
    let pool = router.engine.pool();
    let hung = pool.child_pids()[0];
    let mut events = pool.subscribe();

    signal(hung, libc::SIGSTOP).unwrap();
    let reply = client
        .generate(prompt("tiny", "through the hang", 3))
        .await
        .unwrap();
    assert_eq!(reply.usage.unwrap().completion_tokens, 3);
    let timing = reply.timing.unwrap();
    assert_eq!(
        timing.attempts, 2,
        "the timed-out attempt and the retry: {timing:?}"
    );
    assert!(
        timing.cold_start,
        "the retry waited for a new process: {timing:?}"
    );
    let died = wait_for_event(&mut events, Duration::from_secs(5), |e| {
        matches!(e, PoolEvent::Died { .. })
    })
    .await
    .unwrap();
    assert_eq!(
        died,
        PoolEvent::Died {
            model: "tiny".into(),
            pid: hung
        }
    );
    assert_ne!(
        pool.child_pids(),
        vec![hung],
        "the hung process was replaced"
    );
    router.stop().await.unwrap();
}
