//! The data path for one job (README "Architecture"), split by job:
//! [`fallbacks`] walks the primary model and its fallbacks while nothing
//! has reached the caller; [`one_call`] runs one model (admission, backend
//! acquire, upstream call, result with its timing); [`second_chance`]
//! decides whether a local call that failed before any output is retried
//! on a replacement child; [`embed`] runs an embedding call. The engine
//! knows backends only through the
//! [`Backend`](crate::backend::Backend) trait.

mod embed;
mod fallbacks;
mod one_call;
mod second_chance;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use crate::access::AccessControl;
use crate::config::Config;
use crate::domain::{Completion, DeltaSink, Job, ModelId};
use crate::error::RouterError;
use crate::executor::Executor;
use crate::lifecycle::Lifecycle;
use crate::metrics::UpstreamMetrics;
use crate::pool::Pool;
use crate::reload::{BackendParts, Reloader};
use crate::routing::RouteTable;
use crate::stats::Recorder;
use arc_swap::ArcSwap;

/// Runs `work` until `deadline` (if any); past it, the answer is
/// `DEADLINE_EXCEEDED` "while `doing`" and the work is dropped, which aborts
/// whatever it was waiting on.
pub async fn within_deadline<T>(
    deadline: Option<Instant>,
    doing: &'static str,
    work: impl std::future::Future<Output = Result<T, RouterError>>,
) -> Result<T, RouterError> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), work)
            .await
            .unwrap_or(Err(RouterError::DeadlineExceeded(doing))),
        None => work.await,
    }
}

/// Everything a request needs, shared by all RPCs.
pub struct Engine {
    config: Arc<Config>,
    /// Swapped whole by a config reload; the metrics collectors read the
    /// same cell.
    routes: Arc<ArcSwap<RouteTable>>,
    /// None: the configuration was given in memory; nothing to re-read.
    reloader: Option<Reloader>,
    executor: Executor,
    pool: Pool,
    upstream_metrics: UpstreamMetrics,
    stats: Recorder,
    lifecycle: Lifecycle,
    access: AccessControl,
}

impl Engine {
    /// Assembles an engine from its parts (see `build_engine`).
    pub fn new(
        config: Arc<Config>,
        routes: Arc<ArcSwap<RouteTable>>,
        executor: Executor,
        pool: Pool,
        upstream_metrics: UpstreamMetrics,
        stats: Recorder,
        lifecycle: Lifecycle,
    ) -> Engine {
        Engine {
            config,
            routes,
            reloader: None,
            executor,
            pool,
            upstream_metrics,
            stats,
            lifecycle,
            access: AccessControl::open(),
        }
    }

    /// The engine with `access` guarding its doors (default: open).
    pub fn with_access(mut self, access: AccessControl) -> Engine {
        self.access = access;
        self
    }

    /// The engine reloading its configuration through `reloader`.
    pub fn with_reloader(mut self, reloader: Reloader) -> Engine {
        self.reloader = Some(reloader);
        self
    }

    /// Keys, limits, budgets and the usage ledger.
    pub fn access(&self) -> &AccessControl {
        &self.access
    }

    /// Runs a job to completion. `arrived` is when the request arrived
    /// (timing starts there); `deadline` is the caller's.
    pub async fn run(
        &self,
        job: &Job,
        mut sink: DeltaSink,
        arrived: Instant,
        deadline: Option<Instant>,
    ) -> Result<Completion, RouterError> {
        let work = fallbacks::run(self, job, &mut sink, arrived, deadline);
        within_deadline(deadline, "generating", work).await
    }

    /// Whether a model can serve without a start. Unknown ids count as
    /// ready (they fail at once).
    pub fn is_ready(&self, model: &ModelId) -> bool {
        self.routes.load().is_ready(model)
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The routing table now (a reload may swap it while this is held;
    /// the holder keeps the one it loaded).
    pub fn routes(&self) -> arc_swap::Guard<Arc<RouteTable>> {
        self.routes.load()
    }

    /// Serves `table` from now on (a config reload).
    pub(crate) fn swap_routes(&self, table: RouteTable) {
        self.routes.store(Arc::new(table));
    }

    pub(crate) fn reloader(&self) -> Option<&Reloader> {
        self.reloader.as_ref()
    }

    /// What a route table for `config` is built from.
    pub(crate) fn backend_parts<'a>(
        &'a self,
        config: &'a Config,
        local_client: &'a crate::upstream::UpstreamClient,
    ) -> BackendParts<'a> {
        BackendParts {
            config,
            pool: &self.pool,
            local_client,
            counters: &self.upstream_metrics,
            life: &self.lifecycle,
        }
    }

    /// Admission control.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The local model pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The service's one task tracker and stop-token tree.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// Spawns request work that outlives its handler (a stream's producer,
    /// a batch's dispatcher) on the one tracker. The executor's work guard is
    /// taken now, before the task exists, and held until it ends, so the
    /// drain waits for it; it should stop on
    /// [`Lifecycle::requests_stop`] if it outlives the grace.
    pub fn spawn_request_work<F>(&self, work: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let in_progress = self.executor.begin_work();
        self.lifecycle.spawn(async move {
            let _in_progress = in_progress;
            work.await;
        });
    }

    /// Counters of every upstream client.
    pub fn upstream_metrics(&self) -> &UpstreamMetrics {
        &self.upstream_metrics
    }

    /// Request statistics.
    pub fn stats(&self) -> &Recorder {
        &self.stats
    }
}
