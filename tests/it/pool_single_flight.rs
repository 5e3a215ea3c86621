//! N concurrent requests for one cold model start exactly one process, and
//! all of them are served by it.

use std::collections::HashSet;

use ai_router_testkit::models::ModelDir;
use ai_router_testkit::procs::ChildWatch;
use ai_router_testkit::router::{TestRouter, local_config};

use crate::common::prompt;

#[tokio::test]
async fn fifty_concurrent_requests_start_one_process() {
    let models = ModelDir::with_models(&["cold"]).unwrap();
    let children = ChildWatch::start(models.path()).unwrap();
    let router = TestRouter::start(local_config(models.path()).unwrap())
        .await
        .unwrap();
    let client = router.client().await.unwrap();

    let calls = (0..50).map(|i| client.generate(prompt("cold", &format!("q{i}"), 2)));
    let results = futures::future::join_all(calls).await;
    assert!(
        results.iter().all(|r| r.is_ok()),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_eq!(
        children.current().len(),
        1,
        "exactly one llama-server for one model"
    );
    let first = children.seen();
    assert_eq!(first.len(), 1, "one process ever started: {first:?}");

    // White-box, at the pool itself (past the executor's slot limit): 50
    // concurrent acquires on a model that is cold again share one start.
    let entry = router.engine.pool().model("cold").unwrap();
    assert!(
        router.engine.pool().unload("cold").await,
        "idle model unloads"
    );
    let left = children.current();
    assert!(left.is_empty(), "unloaded and reaped: {left:?}");
    let acquires = (0..50).map(|_| router.engine.pool().acquire(&entry));
    let leases: Vec<_> = futures::future::join_all(acquires)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let urls: HashSet<&str> = leases.iter().map(|l| l.base_url()).collect();
    assert_eq!(urls.len(), 1, "all 50 leases point at the same process");
    assert!(leases.iter().all(|l| l.cold));
    assert_eq!(children.current().len(), 1);
    assert_eq!(children.seen().len(), 2, "one more process in total");
    drop(leases);

    let stats = client.stats().await.unwrap();
    assert_eq!(
        stats.pool.unwrap().load_time.unwrap().count,
        2,
        "two starts in total"
    );
    router.stop().await.unwrap();
}
