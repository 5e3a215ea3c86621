//! Hang detection by generation, against real llama-server children made to
//! hang with SIGSTOP (`/health` checks are pushed out of the way, so only
//! the generation checks can see it): an idle child that fails its one-token
//! probe is killed and replaced; a call that meets a hung child before any
//! output is retried once on its replacement and succeeds.

use std::time::Duration;

use ai_router::pool::PoolEvent;
use ai_router_testkit::gguf::{TinyModelSpec, write_tiny_llama};
use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::{is_running, signal};
use ai_router_testkit::router::{TestRouter, local_config, wait_for_event};

use futures::StreamExt;

use crate::common::{first_output, prompt};

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

/// A router with one model, `busy`, on one slot with no probes: wide
/// enough that 4,000 tokens take seconds, small enough that a one-token
/// answer takes milliseconds. `adjust` changes the config before the start.
async fn one_slot_busy_model(
    adjust: impl FnOnce(&mut ai_router::config::Config),
) -> (ModelDir, TestRouter) {
    let models = ModelDir::with_models(&[]).unwrap();
    let spec = TinyModelSpec::slow_per_token(8192);
    write_tiny_llama(&models.path().join("busy.gguf"), &spec).unwrap();
    let mut config = config(&models);
    config.local.generation_probe_interval = Duration::ZERO;
    config.local.defaults.slots = 1;
    config.local.defaults.ctx_size = 8192;
    adjust(&mut config);
    let router = TestRouter::start(config).await.unwrap();
    (models, router)
}

/// The other side of hang detection: a call that times out on a child that
/// is still working fails alone. Here it waits in the child's own queue
/// (`queue_ahead`) behind a long stream on the only slot; the child's main
/// loop still answers `/slots`, so it is not killed as hung, the stream ahead
/// of it goes on, and the next call is served warm by the same process.
#[tokio::test]
async fn a_call_that_times_out_on_a_working_child_does_not_kill_it() {
    let (_models, router) = one_slot_busy_model(|config| {
        config.local.defaults.queue_ahead = 1;
        config.local.first_token_timeout = Duration::from_millis(500);
    })
    .await;
    let client = router.client().await.unwrap();
    client.generate(prompt("busy", "warm", 1)).await.unwrap();
    let pool = router.engine.pool();
    let pid = pool.child_pids()[0];

    let mut long = client
        .generate_stream(prompt("busy", "a long answer", 4000))
        .await
        .unwrap();
    first_output(&mut long).await;
    let err = client
        .generate(prompt("busy", "queued behind it", 1))
        .await
        .unwrap_err();
    assert!(
        err.message().unwrap().contains("sent no token within"),
        "{err}"
    );
    // Had it been judged hung, the child would have been killed and reaped
    // before the error was returned.
    assert!(is_running(pid), "the working child was killed");
    let next = long.next().await.unwrap().unwrap();
    assert!(next.done.is_none(), "the stream ahead goes on: {next:?}");
    drop(long);

    let reply = client.generate(prompt("busy", "next", 1)).await.unwrap();
    let timing = reply.timing.unwrap();
    assert!(
        !timing.cold_start,
        "served by the running child: {timing:?}"
    );
    assert_eq!(pool.child_pids(), vec![pid]);
    router.stop().await.unwrap();
}

/// A unary call long enough to be asked of the child as a stream (more than
/// 64 tokens): when its caller gives up, the child stops generating at its
/// next token instead of finishing an answer nobody reads (llama-server does
/// not notice a caller that gave up on a whole JSON answer). The child's own
/// `/metrics` count the tokens it predicted.
#[tokio::test]
async fn a_long_unary_call_that_gives_up_stops_the_childs_generation() {
    let (_models, router) = one_slot_busy_model(|config| {
        config.local.defaults.extra_args = vec!["--metrics".into()];
    })
    .await;
    let client = router.client().await.unwrap();
    client.generate(prompt("busy", "warm", 1)).await.unwrap();
    let child = router
        .engine
        .pool()
        .model("busy")
        .unwrap()
        .warm_child()
        .unwrap();

    let err = client
        .clone()
        .with_timeout(Duration::from_millis(300))
        .generate(prompt("busy", "a long answer", 4000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::DeadlineExceeded), "{err:?}");

    // Wait (bounded) for the child's only slot to be free, then count.
    let http = reqwest::Client::new();
    let slots = format!("http://127.0.0.1:{}/slots", child.port);
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let busy: serde_json::Value = http.get(&slots).send().await.unwrap().json().await.unwrap();
        if busy[0]["is_processing"] == false {
            break;
        }
        assert!(std::time::Instant::now() < until, "the slot stayed busy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = http
        .get(format!("http://127.0.0.1:{}/metrics", child.port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let predicted: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("llamacpp:tokens_predicted_total "))
        .expect("tokens_predicted_total in the child's /metrics")
        .trim()
        .parse()
        .unwrap();
    assert!(
        predicted < 4000.0,
        "the abandoned generation ran to the end: {predicted} tokens predicted"
    );
    router.stop().await.unwrap();
}
