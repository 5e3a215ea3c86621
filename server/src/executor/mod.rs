//! Admission control: every request, single or batched, takes a permit of
//! its route (a local model's slots or an endpoint's concurrency) and then a
//! global permit. Waiting is bounded: each route's queue has a maximum
//! length (beyond it: an immediate RESOURCE_EXHAUSTED with a retry hint) and
//! a maximum wait, and the caller's deadline cuts both. Permits live in the
//! [`Admission`] guard and are released on every path by `Drop`.
//!
//! Priority classes: an interactive call waits in the route semaphore's
//! FIFO queue; a batch call never joins that queue. It takes a free permit
//! only while no interactive call is waiting for the route, and otherwise
//! waits to be told a permit was released. So when a slot frees, a waiting
//! interactive call gets it: batch work delays an interactive call by at
//! most the rest of one item's service time per slot.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use prometheus_client::metrics::gauge::Gauge;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::config::ExecutorConfig;
use crate::domain::Priority;
use crate::error::RouterError;
use crate::metrics::ExecutorMetrics;

mod gauges;
mod tuner;

pub use gauges::RouteGauges;

/// Retry hint sent with a queue-full rejection.
const PUSHBACK: Duration = Duration::from_millis(250);

/// Per-route limiter: permits = slots / max_concurrency.
pub struct RouteLimiter {
    name: String,
    permits: Arc<Semaphore>,
    capacity: usize,
    queued: AtomicUsize,
    max_queue: usize,
    completed: AtomicU64,
    tuner: tuner::ThroughputTuner,
    /// Interactive calls waiting for a route permit: batch calls hold back.
    interactive_waiting: AtomicUsize,
    /// Batch calls waiting; releases signal `released` only when some are.
    batch_waiting: AtomicUsize,
    /// Signalled when a route permit is released or the last interactive
    /// waiter leaves, so waiting batch calls look again.
    released: Notify,
}

impl RouteLimiter {
    /// A limiter with `capacity` concurrent permits and `max_queue` waiters.
    pub fn new(name: &str, capacity: usize, max_queue: usize) -> RouteLimiter {
        RouteLimiter {
            name: name.to_string(),
            permits: Arc::new(Semaphore::new(capacity.max(1))),
            capacity: capacity.max(1),
            queued: AtomicUsize::new(0),
            max_queue,
            completed: AtomicU64::new(0),
            tuner: tuner::ThroughputTuner::new(),
            interactive_waiting: AtomicUsize::new(0),
            batch_waiting: AtomicUsize::new(0),
            released: Notify::new(),
        }
    }

    /// Wakes waiting batch calls, if any (a load and no lock otherwise).
    fn wake_batch(&self) {
        if self.batch_waiting.load(Ordering::SeqCst) > 0 {
            self.released.notify_waiters();
        }
    }

    /// A batch call's turn: a free permit while no interactive call waits.
    /// None when the semaphore is closed.
    async fn batch_turn(&self) -> Option<OwnedSemaphorePermit> {
        self.batch_waiting.fetch_add(1, Ordering::SeqCst);
        let _counted = Counted(&self.batch_waiting);
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before looking, so a release in between is seen.
            released.as_mut().enable();
            if self.interactive_waiting.load(Ordering::SeqCst) == 0 {
                match self.permits.clone().try_acquire_owned() {
                    Ok(permit) => return Some(permit),
                    Err(TryAcquireError::Closed) => return None,
                    Err(TryAcquireError::NoPermits) => {}
                }
            }
            released.await;
        }
    }

    /// Route name (local model id or endpoint name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests completed (any outcome) after admission.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// The batch tuning hint: (mean concurrency, requests/s) of the best
    /// one-second window so far.
    pub fn best_window(&self) -> (f64, f64) {
        let (concurrency, rps) = self.tuner.best();
        // Requests that began before a window count in full in it, so the
        // estimate can overshoot slightly; it can never exceed the limit.
        (concurrency.min(self.capacity as f64), rps)
    }

    /// Concurrent requests allowed.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Requests holding a permit now.
    pub fn in_flight(&self) -> usize {
        self.capacity
            .saturating_sub(self.permits.available_permits())
    }

    /// Requests waiting now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// The admission point.
pub struct Executor {
    global: Arc<Semaphore>,
    config: ExecutorConfig,
    metrics: ExecutorMetrics,
    drain: Arc<Drain>,
}

/// Tells a draining shutdown when the last request has left.
#[derive(Default)]
struct Drain {
    /// Set once shutdown waits for the work to end; only then do the
    /// guards signal (nothing extra on the hot path).
    draining: AtomicBool,
    /// Request work that outlives its RPC handler (a stream's producer, a
    /// batch's dispatcher), counted by [`WorkGuard`] from before the task is
    /// spawned, so a request between its handler and its admission is not
    /// mistaken for idle.
    work: AtomicUsize,
    /// Signalled by the guard that leaves nothing running, waiting or working.
    idle: Notify,
}

impl Drain {
    fn is_idle(&self, running: &Gauge, waiting: &Gauge) -> bool {
        running.get() <= 0 && waiting.get() <= 0 && self.work.load(Ordering::Acquire) == 0
    }

    /// Called by every guard after it released its count.
    fn released(&self, running: &Gauge, waiting: &Gauge) {
        if self.draining.load(Ordering::Acquire) && self.is_idle(running, waiting) {
            self.idle.notify_waiters();
        }
    }
}

/// Held by request work for its whole life (see [`Executor::begin_work`]).
pub struct WorkGuard {
    drain: Arc<Drain>,
    running: Gauge,
    waiting: Gauge,
}

impl Drop for WorkGuard {
    fn drop(&mut self) {
        self.drain.work.fetch_sub(1, Ordering::AcqRel);
        self.drain.released(&self.running, &self.waiting);
    }
}

/// Permits held by one running request; dropping it releases them.
pub struct Admission {
    /// Taken in `drop` so it is back in the semaphore before batch waiters
    /// are woken.
    route: Option<OwnedSemaphorePermit>,
    _global: OwnedSemaphorePermit,
    running: Gauge,
    waiting: Gauge,
    drain: Arc<Drain>,
    limiter: Arc<RouteLimiter>,
    admitted_at: Instant,
    /// Time spent waiting for the permits.
    pub queue_wait: Duration,
}

impl Drop for Admission {
    fn drop(&mut self) {
        drop(self.route.take());
        self.limiter.wake_batch();
        self.running.dec();
        self.drain.released(&self.running, &self.waiting);
        self.limiter.completed.fetch_add(1, Ordering::Relaxed);
        self.limiter
            .tuner
            .record(self.admitted_at.elapsed(), Instant::now());
    }
}

/// Decrements a queue length however the wait ends (admitted, timed out, or
/// the future dropped because the client left).
struct QueueSlot<'a> {
    route: &'a AtomicUsize,
    executor: &'a Executor,
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.route.fetch_sub(1, Ordering::Relaxed);
        let metrics = &self.executor.metrics;
        metrics.waiting.dec();
        self.executor
            .drain
            .released(&metrics.running, &metrics.waiting);
    }
}

impl Executor {
    /// An executor with the configured global limit, recording into `metrics`.
    pub fn new(config: ExecutorConfig, metrics: ExecutorMetrics) -> Executor {
        Executor {
            global: Arc::new(Semaphore::new(config.max_in_flight)),
            config,
            metrics,
            drain: Arc::default(),
        }
    }

    /// Completes when no request holds or waits for a permit: signalled by
    /// the admission guard that releases the last one, not by polling.
    pub async fn idle(&self) {
        let drain = &self.drain;
        drain.draining.store(true, Ordering::Release);
        loop {
            let signalled = drain.idle.notified();
            tokio::pin!(signalled);
            // Registered before the check, so a release in between is seen.
            signalled.as_mut().enable();
            if drain.is_idle(&self.metrics.running, &self.metrics.waiting) {
                return;
            }
            signalled.await;
        }
    }

    /// Marks request work that outlives its handler; the drain waits for the
    /// guard to drop. Take it before spawning the task.
    pub fn begin_work(&self) -> WorkGuard {
        self.drain.work.fetch_add(1, Ordering::AcqRel);
        WorkGuard {
            drain: self.drain.clone(),
            running: self.metrics.running.clone(),
            waiting: self.metrics.waiting.clone(),
        }
    }

    /// Requests holding permits now.
    pub fn in_flight(&self) -> u64 {
        self.metrics.running.get().max(0) as u64
    }

    /// Requests waiting for permits now.
    pub fn queued(&self) -> u64 {
        self.metrics.waiting.get().max(0) as u64
    }

    /// Requests rejected because a queue was full.
    pub fn rejected(&self) -> u64 {
        self.metrics.rejected.get()
    }

    /// The configuration.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// Waits for a route permit (by `priority`, see the module docs) and a
    /// global permit, within the queue limits and the deadline.
    /// Cancel-safe: dropping the future leaves the queue and holds nothing.
    pub async fn admit(
        &self,
        route: &Arc<RouteLimiter>,
        deadline: Option<Instant>,
        priority: Priority,
    ) -> Result<Admission, RouterError> {
        let started = Instant::now();
        let route_permit = match priority {
            Priority::Interactive => match route.permits.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    route.interactive_waiting.fetch_add(1, Ordering::SeqCst);
                    let _waiter = InteractiveWaiter(route);
                    let acquire = route.permits.clone().acquire_owned();
                    self.wait(route, deadline, started, async { acquire.await.ok() })
                        .await?
                }
            },
            Priority::Batch => {
                let free = route.interactive_waiting.load(Ordering::SeqCst) == 0;
                match route.permits.clone().try_acquire_owned() {
                    Ok(permit) if free => permit,
                    other => {
                        // Not ours to take while an interactive call waits.
                        drop(other);
                        self.wait(route, deadline, started, route.batch_turn())
                            .await?
                    }
                }
            }
        };
        let global_permit = match self.global.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let acquire = self.global.clone().acquire_owned();
                self.wait(route, deadline, started, async { acquire.await.ok() })
                    .await?
            }
        };
        Ok(self.admitted(route, route_permit, global_permit, started))
    }

    fn admitted(
        &self,
        limiter: &Arc<RouteLimiter>,
        route: OwnedSemaphorePermit,
        global: OwnedSemaphorePermit,
        started: Instant,
    ) -> Admission {
        self.metrics.running.inc();
        Admission {
            route: Some(route),
            _global: global,
            running: self.metrics.running.clone(),
            waiting: self.metrics.waiting.clone(),
            drain: self.drain.clone(),
            limiter: limiter.clone(),
            admitted_at: Instant::now(),
            queue_wait: started.elapsed(),
        }
    }

    /// Waits in `route`'s bounded queue for `acquire` (None: closed).
    async fn wait(
        &self,
        route: &RouteLimiter,
        deadline: Option<Instant>,
        started: Instant,
        acquire: impl Future<Output = Option<OwnedSemaphorePermit>>,
    ) -> Result<OwnedSemaphorePermit, RouterError> {
        if route.queued.fetch_add(1, Ordering::Relaxed) >= route.max_queue {
            route.queued.fetch_sub(1, Ordering::Relaxed);
            self.metrics.rejected.inc();
            return Err(RouterError::ResourceExhausted {
                message: format!(
                    "the queue for '{}' is full ({} waiting, {} running); retry shortly",
                    route.name, route.max_queue, route.capacity
                ),
                retry_after: Some(PUSHBACK),
            });
        }
        self.metrics.waiting.inc();
        let _slot = QueueSlot {
            route: &route.queued,
            executor: self,
        };
        let max_wait = started + self.config.max_queue_wait;
        let until = deadline.map_or(max_wait, |d| d.min(max_wait));
        match tokio::time::timeout_at(until.into(), acquire).await {
            Ok(Some(permit)) => Ok(permit),
            // The semaphores are never closed; treat it like shutdown anyway.
            Ok(None) => Err(RouterError::ShuttingDown),
            Err(_) if deadline.is_some_and(|d| d <= max_wait) => {
                Err(RouterError::DeadlineExceeded("waiting in the queue"))
            }
            Err(_) => Err(RouterError::ResourceExhausted {
                message: format!(
                    "waited {:?} in the queue for '{}' without a free slot; retry later",
                    self.config.max_queue_wait, route.name
                ),
                retry_after: Some(PUSHBACK),
            }),
        }
    }
}

/// Decrements a waiter count however the wait ends.
struct Counted<'a>(&'a AtomicUsize);

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An interactive call waiting for a route permit; when the last one
/// leaves, batch calls may take free permits again.
struct InteractiveWaiter<'a>(&'a RouteLimiter);

impl Drop for InteractiveWaiter<'_> {
    fn drop(&mut self) {
        if self.0.interactive_waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.wake_batch();
        }
    }
}

#[cfg(test)]
mod tests;
