//! Preloaded models start at boot without a request and come back by
//! themselves when they die; the memory budget (children's real RSS) evicts
//! the least recently used idle model.

use std::time::Duration;

use ai_router::pool::PoolEvent;
use ai_router_client::proto::ModelState;
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::signal;
use ai_router_testkit::router::{TestRouter, local_config, wait_for_event};

use crate::common::prompt;

#[tokio::test]
async fn preloaded_models_start_at_boot_and_restart_after_a_crash() {
    let models = ModelDir::with_models(&["eager", "lazy"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    config.local.preload = vec!["eager".into()];
    let router = TestRouter::start(config).await.unwrap();
    let mut events = router.engine.pool().subscribe();

    // The service answers at once, before the preload finishes.
    let client = router.client().await.unwrap();
    client.list_models().await.unwrap();

    let pid = match router.engine.pool().child_pids().first() {
        Some(pid) => *pid,
        None => match wait_for_event(&mut events, Duration::from_secs(30), |e| {
            matches!(e, PoolEvent::Ready { .. })
        })
        .await
        .unwrap()
        {
            PoolEvent::Ready { model, pid } => {
                assert_eq!(model, "eager");
                pid
            }
            _ => unreachable!(),
        },
    };
    let list = client.list_models().await.unwrap();
    let state = |id: &str| list.models.iter().find(|m| m.id == id).unwrap().state;
    assert_eq!(state("eager"), ModelState::Warm as i32);
    assert_eq!(state("lazy"), ModelState::Cold as i32);

    // Killed: restarted without any request asking for it.
    signal(pid, libc::SIGKILL).unwrap();
    let ready = wait_for_event(&mut events, Duration::from_secs(30), |e| {
        matches!(e, PoolEvent::Ready { .. })
    })
    .await
    .unwrap();
    assert!(
        matches!(ready, PoolEvent::Ready { ref model, pid: new } if model == "eager" && new != pid),
        "{ready:?}"
    );
    let r = client.generate(prompt("eager", "x", 2)).await.unwrap();
    assert!(
        !r.timing.unwrap().cold_start,
        "the restarted preload is already warm"
    );
    router.stop().await.unwrap();
}

#[tokio::test]
async fn the_memory_budget_evicts_the_idle_model() {
    let models = ModelDir::with_models(&["first", "second"]).unwrap();
    let mut config = local_config(models.path()).unwrap();
    // Enough for one tiny model file (~0.5 MB), far less than a running
    // llama-server's RSS: starting a second model must evict the first.
    config.local.memory_budget_bytes = Some(1024 * 1024);
    config.local.health_interval = Duration::from_millis(100);
    let router = TestRouter::start(config).await.unwrap();
    let client = router.client().await.unwrap();
    client.generate(prompt("first", "x", 2)).await.unwrap();

    // Wait until the pool has sampled the first child's RSS.
    let mut sampled = false;
    for _ in 0..200 {
        let list = client.list_models().await.unwrap();
        if list
            .models
            .iter()
            .any(|m| m.id == "first" && m.rss_bytes > 0)
        {
            sampled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(sampled, "the maintenance loop samples children's RSS");

    let mut events = router.engine.pool().subscribe();
    client.generate(prompt("second", "x", 2)).await.unwrap();
    let evicted = wait_for_event(&mut events, Duration::from_secs(10), |e| {
        matches!(e, PoolEvent::Evicted { .. })
    })
    .await
    .unwrap();
    assert!(
        matches!(&evicted, PoolEvent::Evicted { model, reason: "memory", .. } if model == "first"),
        "{evicted:?}"
    );
    router.stop().await.unwrap();
}
