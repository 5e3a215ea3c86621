//! Graceful shutdown: health goes NOT_SERVING, an in-flight stream finishes
//! within the grace period, and every llama-server child is stopped and
//! reaped (no process and no zombie left).

// Helpers outside #[test] fns panic on broken set-up, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tasks a test spawns end with the test; the service's spawn ban is for the service.
#![allow(clippy::disallowed_methods)]

mod common;

use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::{is_running, llama_children, zombie_children};
use ai_router_testkit::router::{TestRouter, local_config};
use common::prompt;
use futures::StreamExt;

#[tokio::test]
async fn shutdown_drains_in_flight_work_and_reaps_children() {
    let models = ModelDir::with_models(&["one", "two"]).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let mut client = router.client().await.unwrap();
    client.generate(prompt("one", "warm up", 2)).await.unwrap();
    client.generate(prompt("two", "warm up", 2)).await.unwrap();
    let pids = router.engine.pool().child_pids();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| is_running(*p)));

    // A long stream is in flight when the shutdown starts.
    let mut stream = client
        .generate_stream(prompt("one", "long", 400))
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.done.is_none());
    let stopping = tokio::spawn(router.stop());

    let mut done = None;
    while let Some(chunk) = stream.next().await {
        if let Some(d) = chunk.unwrap().done {
            done = Some(d);
        }
    }
    let done = done.expect("the in-flight stream completed during the drain");
    assert_eq!(done.usage.unwrap().completion_tokens, 400);

    stopping.await.unwrap().unwrap();
    for pid in pids {
        assert!(!is_running(pid), "child {pid} still running after shutdown");
    }
    assert!(
        llama_children().is_empty(),
        "children left: {:?}",
        llama_children()
    );
    assert!(
        zombie_children().is_empty(),
        "zombies left: {:?}",
        zombie_children()
    );
}
