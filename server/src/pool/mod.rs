//! The warm model pool: one long-lived llama-server child per local model,
//! started on first use (or at boot), kept warm, evicted by count, memory
//! budget and idle TTL, health-checked, and restarted when it dies.
//!
//! Layout: `catalogue` (which models exist), `slots` (the permits that
//! bound live processes, granted in arrival order), `capacity` (eviction to
//! make room), `entry` (a model's state, the lease a request holds, the
//! demand of callers waiting for a load), `loader` (single-flight start),
//! `launcher` and `process` (one child's life), `maintenance` (health, TTL,
//! RSS sampling), `binary` and `port` (what to run, where).

mod admin;
mod binary;
mod capacity;
pub mod catalogue;
mod entry;
mod error;
mod events;
mod gauges;
mod launcher;
mod loader;
mod maintenance;
mod port;
mod probe;
mod process;
mod reload;
#[cfg(test)]
mod simulation;
mod slots;
#[cfg(test)]
mod swap_trace;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

// The pool reads tokio's clock, so the model check's paused time governs
// every timeout, TTL and back-off alike (one clock, deterministic per seed).
use tokio::time::Instant;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use catalogue::LocalModelSpec;
pub use entry::{Lease, ModelEntry};
pub use error::PoolError;
pub use events::PoolEvent;
pub use gauges::PoolGauges;
pub use reload::CatalogueChange;

use crate::config::LocalConfig;
use crate::lifecycle::Lifecycle;
use crate::metrics::{PoolMetrics, Summary};
use entry::{Demand, Phase};
use launcher::Launcher;
use slots::Slots;

/// The catalogued models' entries by id.
pub type Catalogue = BTreeMap<String, Arc<ModelEntry>>;

/// Pool figures for `Stats`.
#[derive(Debug, Clone, Default)]
pub struct PoolSummary {
    /// Warm hits.
    pub hits: u64,
    pub cold_starts: u64,
    pub evictions: u64,
    pub restarts: u64,
    /// Load time percentiles.
    pub load_time: Summary,
    /// Processes running.
    pub loaded: u32,
    /// Slots held: processes alive (starting, warm or still exiting).
    pub slots_held: u32,
    /// Loads queued for a slot.
    pub slot_waiters: u32,
}

/// A model's state for `ListModels`.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    /// Model id.
    pub id: String,
    /// "cold", "loading", "warm" or "failed".
    pub state: ModelStateKind,
    /// llama-server slots.
    pub slots: u32,
    /// Leases held.
    pub in_flight: u32,
    /// Time since last use (warm only).
    pub idle: Option<Duration>,
    /// Last sampled RSS (warm only).
    pub rss_bytes: u64,
    /// Why the last start failed.
    pub last_error: Option<String>,
    /// Pinned by an operator (never evicted).
    pub pinned: bool,
}

/// Coarse model state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelStateKind {
    /// No process.
    Cold,
    /// Starting.
    Loading,
    /// Ready.
    Warm,
    /// Last start failed.
    Failed,
}

/// Shared pool state.
pub(crate) struct PoolInner {
    config: LocalConfig,
    /// The catalogue's entries; a config reload swaps in a new map (keeping
    /// the entries whose spec did not change).
    entries: ArcSwap<Catalogue>,
    /// Health probes and readiness polls (no proxy, short timeouts).
    http: reqwest::Client,
    /// What brings a process up (llama-server; a simulation in the model check).
    launcher: Arc<dyn Launcher>,
    /// The licences to run a process.
    slots: Arc<Slots>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
    counters: PoolMetrics,
    /// How long loads lately took (sizes a queued load's hold).
    load_time: capacity::LoadTime,
    events: events::Events,
    epoch: Instant,
}

/// The pool. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

impl Pool {
    /// Builds the pool over a catalogue and starts its maintenance task and
    /// the background preloads. Returns at once: nothing here waits for a model.
    /// Its tasks run on `life`'s tracker and stop on its pool token.
    pub fn start(
        config: LocalConfig,
        catalogue: BTreeMap<String, LocalModelSpec>,
        metrics: PoolMetrics,
        life: &Lifecycle,
    ) -> Result<Pool, PoolError> {
        Pool::start_with(
            config,
            catalogue,
            launcher::default_launcher(),
            metrics,
            life,
        )
    }

    /// [`Pool::start`] with the given launcher (the model check's simulation).
    pub(crate) fn start_with(
        config: LocalConfig,
        catalogue: BTreeMap<String, LocalModelSpec>,
        launcher: Arc<dyn Launcher>,
        metrics: PoolMetrics,
        life: &Lifecycle,
    ) -> Result<Pool, PoolError> {
        let entries = ArcSwap::from_pointee(
            catalogue
                .into_iter()
                .map(|(id, spec)| {
                    let preload = config.preload.contains(&id);
                    (id, Arc::new(ModelEntry::new(spec, preload)))
                })
                .collect(),
        );
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| PoolError::SpawnFailed {
                model: String::new(),
                detail: format!("cannot build the health-check HTTP client: {e}"),
            })?;
        let slots = Slots::new(config.max_loaded_models, config.memory_budget_bytes);
        let inner = Arc::new(PoolInner {
            config,
            entries,
            http,
            launcher,
            slots,
            tasks: life.tasks().clone(),
            shutdown: life.pool_stop().clone(),
            counters: metrics,
            load_time: capacity::LoadTime::default(),
            events: events::Events::default(),
            epoch: Instant::now(),
        });
        inner.tasks.spawn(maintenance::run(inner.clone()));
        for entry in inner.entries.load().values().filter(|e| e.is_preloaded()) {
            loader::preload(&inner, entry.clone());
        }
        Ok(Pool { inner })
    }

    /// The entry for a catalogued model id.
    pub fn model(&self, id: &str) -> Option<Arc<ModelEntry>> {
        self.inner.entries.load().get(id).cloned()
    }

    /// Every catalogued model's entry, by id (a snapshot: a reload may swap
    /// the catalogue after this returns).
    pub fn entries(&self) -> Arc<Catalogue> {
        self.inner.entries.load_full()
    }

    /// A lease on a ready process for `entry`. Warm: a lock, an atomic and an
    /// Arc clone, no await. Cold: one loader starts the process while every
    /// concurrent caller waits on the same result (single flight); while
    /// they wait, their demand keeps the model from being evicted the moment
    /// it is ready. Dropping the future (caller cancelled) does not stop the
    /// load for the others; when the last caller leaves while the load is
    /// still queued for a slot, the load gives its place up.
    pub async fn acquire(&self, entry: &Arc<ModelEntry>) -> Result<Lease, PoolError> {
        let inner = &self.inner;
        // A call that resolved its model just before a reload retired it:
        // served by the entry that replaced it, if any.
        let current;
        let entry = if entry.is_retired() {
            current = self
                .model(&entry.spec.id)
                .filter(|e| !e.is_retired())
                .ok_or_else(|| PoolError::Removed {
                    model: entry.spec.id.clone(),
                })?;
            &current
        } else {
            entry
        };
        // Dropped after the phase guard in every path (declared first).
        let mut demand: Option<Demand> = None;
        loop {
            if inner.shutdown.is_cancelled() {
                return Err(PoolError::ShuttingDown);
            }
            let mut load = {
                let mut phase = entry.phase();
                let rx = match &*phase {
                    Phase::Warm(child) if child.is_alive() => {
                        entry.in_flight.fetch_add(1, Ordering::AcqRel);
                        entry.note_use(inner.now_ms());
                        let counter = if demand.is_some() {
                            &inner.counters.cold_starts
                        } else {
                            &inner.counters.hits
                        };
                        counter.inc();
                        let lease = Lease::new(
                            entry.clone(),
                            child.clone(),
                            inner.clone(),
                            demand.is_some(),
                        );
                        drop(phase);
                        // Now that the lease counts as in flight, the demand
                        // may go without the model looking idle in between.
                        drop(demand);
                        return Ok(lease);
                    }
                    Phase::Loading(rx) => rx.clone(),
                    Phase::Failed { error, retry_at } if Instant::now() < *retry_at => {
                        return Err(PoolError::BackingOff {
                            model: entry.spec.id.clone(),
                            failures: entry.failures.load(Ordering::Relaxed),
                            retry_in: retry_at.saturating_duration_since(Instant::now()),
                            last_error: error.to_string(),
                        });
                    }
                    // Retired while this call waited: no new process.
                    _ if entry.is_retired() => {
                        return Err(PoolError::Removed {
                            model: entry.spec.id.clone(),
                        });
                    }
                    _ => loader::begin(inner, entry, &mut phase),
                };
                // Registered under the phase lock, where the loader checks
                // whether anyone still waits before giving its place up.
                if demand.is_none() {
                    demand = Some(Demand::register(entry, inner));
                }
                rx
            };
            // A closed channel means the load was given up (nobody waited
            // at that moment) or the pool stopped: look at the phase again.
            if let Ok(result) = load.wait_for(Option::is_some).await
                && let Some(Err(e)) = result.clone()
            {
                return Err(e);
            }
        }
    }

    /// Every model's state, sorted by id.
    pub fn statuses(&self) -> Vec<ModelStatus> {
        self.inner
            .entries
            .load()
            .values()
            .map(|e| self.status(e))
            .collect()
    }

    /// One model's state.
    pub fn status(&self, e: &ModelEntry) -> ModelStatus {
        let now_ms = self.inner.now_ms();
        let (state, rss, last_error) = match &*e.phase() {
            Phase::Cold => (ModelStateKind::Cold, 0, None),
            Phase::Loading(_) => (ModelStateKind::Loading, 0, None),
            Phase::Warm(c) => (
                ModelStateKind::Warm,
                c.rss_bytes.load(Ordering::Relaxed),
                None,
            ),
            Phase::Failed { error, .. } => (ModelStateKind::Failed, 0, Some(error.to_string())),
        };
        let idle = (state == ModelStateKind::Warm && e.in_flight.load(Ordering::Relaxed) == 0)
            .then(|| {
                Duration::from_millis(now_ms.saturating_sub(e.last_used_ms.load(Ordering::Relaxed)))
            });
        ModelStatus {
            id: e.spec.id.clone(),
            state,
            slots: e.spec.settings.slots,
            in_flight: e.in_flight.load(Ordering::Relaxed),
            idle,
            rss_bytes: rss,
            last_error,
            pinned: e.is_pinned(),
        }
    }

    /// Counters and state for `Stats` (the same handles and state that
    /// `/metrics` reads).
    pub fn summary(&self) -> PoolSummary {
        let c = &self.inner.counters;
        PoolSummary {
            hits: c.hits.get(),
            cold_starts: c.cold_starts.get(),
            evictions: c.evictions.get(),
            restarts: c.restarts.get(),
            load_time: c.load_time.summary(),
            loaded: self
                .inner
                .entries
                .load()
                .values()
                .filter(|e| e.warm_child().is_some())
                .count() as u32,
            slots_held: self.inner.slots.held() as u32,
            slot_waiters: self.inner.slots.waiting() as u32,
        }
    }

    /// Stops a model's process if it is warm and idle, and waits until it
    /// has exited. Returns whether a process was stopped.
    pub async fn unload(&self, id: &str) -> bool {
        let Some(entry) = self.model(id) else {
            return false;
        };
        let Some(child) = capacity::evict_if_idle_for(&self.inner, &entry, 0, "unload") else {
            return false;
        };
        child.exited().await;
        true
    }

    /// Loads waiting for room (a slot) now.
    pub fn loads_queued(&self) -> u32 {
        self.inner.slots.waiting() as u32
    }

    /// Listens to pool events (process ready, evicted, died, failed start).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<PoolEvent> {
        self.inner.events.subscribe()
    }

    /// Process ids of running children (tests and diagnostics).
    pub fn child_pids(&self) -> Vec<u32> {
        self.inner
            .entries
            .load()
            .values()
            .filter_map(|e| e.warm_child())
            .map(|c| c.pid)
            .collect()
    }

    /// Stops every child (SIGTERM, grace, SIGKILL) and waits until all are
    /// reaped. The pool's tasks end on the same token; the lifecycle's final
    /// wait covers them.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.shutdown.cancel();
        for entry in inner.entries.load().values() {
            let mut phase = entry.phase();
            if let Phase::Warm(child) = &*phase {
                child.stop();
                *phase = Phase::Cold;
            }
        }
        // Loaders see the token and stop what they started; a permit is
        // released only after its process is reaped.
        inner.slots.all_released().await;
    }
}

impl PoolInner {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}
