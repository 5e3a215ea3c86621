//! Graceful shutdown: health goes NOT_SERVING, an in-flight stream finishes
//! within the grace period, and every llama-server child is stopped and
//! reaped (no process and no zombie left).

use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::{ChildWatch, is_running};
use ai_router_testkit::router::{TestRouter, local_config};
use futures::StreamExt;

use crate::common::prompt;

#[tokio::test]
async fn shutdown_drains_in_flight_work_and_reaps_children() {
    let models = ModelDir::with_models(&["one", "two"]).unwrap();
    let children = ChildWatch::start(models.path()).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();
    client.generate(prompt("one", "warm up", 2)).await.unwrap();
    client.generate(prompt("two", "warm up", 2)).await.unwrap();
    let pids = router.engine.pool().child_pids();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|p| is_running(*p)));
    // Sampled at the call, while both run: the watch knows them from here
    // on, however its own thread is scheduled later.
    assert_eq!(
        children.seen(),
        pids.iter().copied().collect(),
        "the watch sees both children, and no other"
    );

    // A long stream is in flight when the shutdown starts.
    let Ok(mut stream) = client.generate_stream(prompt("one", "long", 400)).await else {
        panic!("the stream is refused");
    };
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
    for &pid in &pids {
        assert!(!is_running(pid), "child {pid} still running after shutdown");
    }
    // No child of this router is left, running or as a zombie.
    let seen = children.seen();
    assert_eq!(
        seen,
        pids.iter().copied().collect(),
        "no other child appeared during the drain"
    );
    let left = children.current();
    assert!(left.is_empty(), "children or zombies left: {left:?}");
}
