//! The one task and shutdown model. Every task the service starts (streaming
//! producers, batch dispatchers, pool loaders and child supervisors, the
//! pool's maintenance, the monitors, the metrics listener) is spawned on one
//! `TaskTracker`, and every stop signal is a child of one root
//! `CancellationToken`. So no task can be missed by a stop, and the final
//! wait covers them all.
//!
//! The order is kept by which child token fires when (`server` drives it):
//! requests drain first (the executor signals idle from its guards); then
//! [`Lifecycle::requests_stop`] ends request work that outlived the grace;
//! then [`Lifecycle::pool_stop`] stops the children (the pool waits until
//! each is reaped); last the root stops the monitors and the metrics
//! listener, so they report the whole drain.

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The service's tasks and stop signals. Cheap to clone (all shared).
#[derive(Clone)]
pub struct Lifecycle {
    tasks: TaskTracker,
    root: CancellationToken,
    requests: CancellationToken,
    pool: CancellationToken,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle::new()
    }
}

impl Lifecycle {
    /// A fresh tracker and token tree.
    pub fn new() -> Lifecycle {
        let root = CancellationToken::new();
        Lifecycle {
            tasks: TaskTracker::new(),
            requests: root.child_token(),
            pool: root.child_token(),
            root,
        }
    }

    /// Spawns `task` on the one tracker.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// The tracker, for code that spawns through a `&TaskTracker`.
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Fires when request work must stop now (the drain's grace expired).
    pub fn requests_stop(&self) -> &CancellationToken {
        &self.requests
    }

    /// Fires when the pool must stop its children.
    pub fn pool_stop(&self) -> &CancellationToken {
        &self.pool
    }

    /// Fires last: monitors and the metrics listener stop on it.
    pub fn root(&self) -> &CancellationToken {
        &self.root
    }

    /// Fires every token and waits for every task to end.
    pub async fn finish(&self) {
        self.root.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn finish_stops_and_waits_for_every_task_on_every_child_token() {
        let life = Lifecycle::new();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        for token in [
            life.requests_stop().clone(),
            life.pool_stop().clone(),
            life.root().clone(),
        ] {
            let done = done_tx.clone();
            life.spawn(async move {
                token.cancelled().await;
                done.send(()).unwrap();
            });
        }
        drop(done_tx);
        life.finish().await;
        let mut finished = 0;
        while done_rx.try_recv().is_ok() {
            finished += 1;
        }
        assert_eq!(finished, 3);
        assert!(life.tasks().is_closed() && life.tasks().is_empty());
    }

    #[tokio::test]
    async fn a_child_stop_leaves_the_others_running() {
        let life = Lifecycle::new();
        life.requests_stop().cancel();
        assert!(!life.pool_stop().is_cancelled());
        assert!(!life.root().is_cancelled());
    }
}
