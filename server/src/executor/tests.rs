//! Priority classes at the admission point, on one single-slot route.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use super::*;

fn executor() -> Executor {
    let metrics = ExecutorMetrics::register(&mut Registry::default());
    Executor::new(ExecutorConfig::default(), metrics)
}

/// Waits until `n` calls wait on the route (the waiters run on this
/// current-thread runtime, so yielding lets them reach the queue).
async fn until_queued(route: &RouteLimiter, n: usize) {
    for _ in 0..1000 {
        if route.queued() == n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{} queued, expected {n}", route.queued());
}

#[tokio::test]
async fn an_interactive_call_takes_the_next_slot_ahead_of_waiting_batch_calls() {
    let ex = Arc::new(executor());
    let route = Arc::new(RouteLimiter::new("r", 1, 100));
    let running = ex.admit(&route, None, Priority::Batch).await.unwrap();
    let (order_tx, mut order) = mpsc::unbounded_channel();
    let mut waiters = tokio::task::JoinSet::new();
    let mut start = |name: &'static str, priority| {
        let (ex, route, tx) = (ex.clone(), route.clone(), order_tx.clone());
        waiters.spawn(async move {
            let admission = ex.admit(&route, None, priority).await.unwrap();
            tx.send(name).unwrap();
            // Hold the slot until the test has seen the order so far.
            tokio::task::yield_now().await;
            drop(admission);
        });
    };
    for name in ["batch-1", "batch-2", "batch-3"] {
        start(name, Priority::Batch);
    }
    until_queued(&route, 3).await;
    start("interactive", Priority::Interactive);
    until_queued(&route, 4).await;

    drop(running);
    let mut seen = Vec::new();
    while seen.len() < 4 {
        seen.push(order.recv().await.unwrap());
    }
    assert_eq!(seen[0], "interactive", "{seen:?}");
    let mut rest = seen[1..].to_vec();
    rest.sort();
    assert_eq!(rest, ["batch-1", "batch-2", "batch-3"]);
    while waiters.join_next().await.is_some() {}
    assert_eq!(route.in_flight(), 0);
}

#[tokio::test]
async fn batch_calls_still_run_when_no_interactive_call_waits() {
    let ex = executor();
    let route = Arc::new(RouteLimiter::new("r", 2, 100));
    let a = ex.admit(&route, None, Priority::Batch).await.unwrap();
    let b = ex.admit(&route, None, Priority::Batch).await.unwrap();
    let third = ex.admit(&route, None, Priority::Batch);
    tokio::pin!(third);
    assert!(
        tokio::time::timeout(Duration::from_millis(1), &mut third)
            .await
            .is_err(),
        "no free slot yet"
    );
    drop(a);
    let c = third.await.unwrap();
    drop((b, c));
    assert_eq!(route.in_flight(), 0);
}

#[tokio::test]
async fn a_batch_waiter_proceeds_when_the_interactive_waiter_gives_up() {
    let ex = Arc::new(executor());
    let route = Arc::new(RouteLimiter::new("r", 1, 100));
    let running = ex.admit(&route, None, Priority::Batch).await.unwrap();
    let mut batch = tokio::task::JoinSet::new();
    {
        let (ex, route) = (ex.clone(), route.clone());
        batch.spawn(async move { ex.admit(&route, None, Priority::Batch).await.map(drop) });
    }
    until_queued(&route, 1).await;
    {
        let interactive = ex.admit(&route, None, Priority::Interactive);
        tokio::pin!(interactive);
        assert!(
            tokio::time::timeout(Duration::from_millis(1), &mut interactive)
                .await
                .is_err()
        );
        // Dropped here: the interactive caller left.
    }
    drop(running);
    batch.join_next().await.unwrap().unwrap().unwrap();
}
