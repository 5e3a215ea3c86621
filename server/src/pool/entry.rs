//! One catalogued model's live state, the lease a request holds on it, and
//! the demand of callers waiting for it to load. A model with a lease or a
//! waiting caller is never evicted: a model that has just become ready for
//! its waiters stays until they have taken their leases.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use tokio::time::Instant;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::{Notify, watch};

use super::catalogue::LocalModelSpec;
use super::process::ChildProcess;
use super::{PoolError, PoolInner, capacity};

/// Half-life of a model's decayed use count: calls a minute ago count half.
pub const USE_HALF_LIFE_MS: u64 = 60_000;

/// Result of a load, shared by everyone waiting for it.
pub type LoadResult = Option<Result<(), PoolError>>;

/// Where a model is in its life.
pub enum Phase {
    /// No process.
    Cold,
    /// A loader task is starting a process; waiters watch this channel.
    Loading(watch::Receiver<LoadResult>),
    /// A ready process.
    Warm(Arc<ChildProcess>),
    /// The last start failed; no new attempt before `retry_at`.
    Failed {
        /// Why.
        error: PoolError,
        /// Earliest next attempt.
        retry_at: Instant,
    },
}

/// A catalogued model and its state.
pub struct ModelEntry {
    /// What to run.
    pub spec: LocalModelSpec,
    /// Restart at once when it dies, and start at boot (a reload may turn
    /// it on or off).
    pub(super) preload: AtomicBool,
    /// A config reload removed or replaced this entry: no new process is
    /// started for it, and its current one is drained and stopped.
    pub(super) retired: AtomicBool,
    /// Never held across an await: the warm path takes it for a few
    /// instructions.
    phase: Mutex<Phase>,
    /// Requests holding a lease.
    pub in_flight: AtomicU32,
    /// Milliseconds since the pool epoch of the last lease release.
    pub last_used_ms: AtomicU64,
    /// Calls served, decayed with a half-life of [`USE_HALF_LIFE_MS`] (an
    /// `f64`'s bits), as of `uses_at_ms`: how much the model is wanted,
    /// which eviction weighs before recency.
    uses: AtomicU64,
    uses_at_ms: AtomicU64,
    /// Consecutive failed starts (reset by a successful one).
    pub failures: AtomicU32,
    /// Callers waiting for this model to load (see [`Demand`]).
    waiting: AtomicU32,
    /// Signalled when the last waiting caller leaves, so a loader still
    /// queued for a slot can give its place up.
    pub(super) demand_gone: Notify,
    /// Pinned by an operator: never evicted (for room or by the idle TTL).
    pub(super) pinned: AtomicBool,
    /// Signalled when the last lease is released (a draining unload waits).
    pub(super) released: Notify,
}

impl ModelEntry {
    /// A cold entry.
    pub fn new(spec: LocalModelSpec, preload: bool) -> ModelEntry {
        ModelEntry {
            spec,
            preload: AtomicBool::new(preload),
            retired: AtomicBool::new(false),
            phase: Mutex::new(Phase::Cold),
            in_flight: AtomicU32::new(0),
            last_used_ms: AtomicU64::new(0),
            uses: AtomicU64::new(0f64.to_bits()),
            uses_at_ms: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
            demand_gone: Notify::new(),
            pinned: AtomicBool::new(false),
            released: Notify::new(),
        }
    }

    /// Counts a call served (under the phase lock, with the lease).
    pub(super) fn note_use(&self, now_ms: u64) {
        let score = self.use_score(now_ms) + 1.0;
        self.uses.store(score.to_bits(), Ordering::Relaxed);
        self.uses_at_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Calls served, decayed to `now_ms`.
    pub(super) fn use_score(&self, now_ms: u64) -> f64 {
        let score = f64::from_bits(self.uses.load(Ordering::Relaxed));
        let age = now_ms.saturating_sub(self.uses_at_ms.load(Ordering::Relaxed));
        score * 0.5f64.powf(age as f64 / USE_HALF_LIFE_MS as f64)
    }

    /// Whether an operator pinned it.
    pub fn is_pinned(&self) -> bool {
        self.pinned.load(Ordering::Acquire)
    }

    /// Preloaded or pinned: started without a caller and restarted when it
    /// dies.
    pub fn kept_warm(&self) -> bool {
        self.is_preloaded() || self.is_pinned()
    }

    /// Listed in `preload`.
    pub fn is_preloaded(&self) -> bool {
        self.preload.load(Ordering::Acquire)
    }

    /// Removed or replaced by a config reload.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Callers waiting for a load.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Acquire)
    }

    /// Warm with no lease and no waiting caller: the only state eviction
    /// may touch. Call with the phase lock held (`phase` is its guard).
    pub(super) fn evictable(&self, phase: &Phase) -> Option<Arc<ChildProcess>> {
        match phase {
            Phase::Warm(child)
                if child.is_alive()
                    && !self.pinned.load(Ordering::Acquire)
                    && self.in_flight.load(Ordering::Acquire) == 0
                    && self.waiting.load(Ordering::Acquire) == 0 =>
            {
                Some(child.clone())
            }
            _ => None,
        }
    }

    /// Locks the phase (parking_lot: no poisoning, a few instructions
    /// uncontended; never held across an await).
    pub fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock()
    }

    /// The warm child, if any.
    pub fn warm_child(&self) -> Option<Arc<ChildProcess>> {
        match &*self.phase() {
            Phase::Warm(child) => Some(child.clone()),
            _ => None,
        }
    }
}

/// A caller's interest in a model that is loading. Created under the phase
/// lock when the caller starts waiting, dropped when it has its lease or
/// gives up (error, deadline, cancellation). Never dropped with the phase
/// lock held: its drop may make room, which takes phase locks.
pub(super) struct Demand {
    entry: Arc<ModelEntry>,
    pool: Arc<PoolInner>,
}

impl Demand {
    /// Registers one more waiting caller. Call with the phase lock held, so
    /// a loader deciding whether anyone still waits sees it.
    pub(super) fn register(entry: &Arc<ModelEntry>, pool: &Arc<PoolInner>) -> Demand {
        entry.waiting.fetch_add(1, Ordering::AcqRel);
        Demand {
            entry: entry.clone(),
            pool: pool.clone(),
        }
    }
}

impl Drop for Demand {
    fn drop(&mut self) {
        if self.entry.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.entry.demand_gone.notify_waiters();
            // A warm model nobody waits for any more may be the room a
            // queued loader needs.
            capacity::make_room(&self.pool);
        }
    }
}

/// A request's hold on a warm model. While any lease exists the model is
/// never evicted; dropping it records the use for eviction order and idle TTL.
pub struct Lease {
    entry: Arc<ModelEntry>,
    child: Arc<ChildProcess>,
    pool: Arc<PoolInner>,
    /// True when this request waited for a process to start.
    pub cold: bool,
}

impl Lease {
    /// Made by the pool after it incremented `in_flight` under the phase lock.
    pub(super) fn new(
        entry: Arc<ModelEntry>,
        child: Arc<ChildProcess>,
        pool: Arc<PoolInner>,
        cold: bool,
    ) -> Lease {
        Lease {
            entry,
            child,
            pool,
            cold,
        }
    }

    /// The child's OpenAI-compatible base URL.
    pub fn base_url(&self) -> &str {
        &self.child.base_url
    }

    /// The child's chat completions URL, for the request path's client.
    pub fn chat_uri(&self) -> &http::Uri {
        &self.child.chat_uri
    }

    /// Model id.
    pub fn model(&self) -> &str {
        &self.entry.spec.id
    }

    /// Whether the child serving this lease is still running.
    pub fn child_alive(&self) -> bool {
        self.child.is_alive()
    }

    /// Reports that the child stopped producing tokens: it is killed so the
    /// next request gets a fresh process.
    pub fn report_hung(&self) {
        tracing::warn!(model = %self.entry.spec.id, pid = self.child.pid, "llama-server stopped producing tokens; killing it");
        self.child.kill();
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.entry
            .last_used_ms
            .store(self.pool.now_ms(), Ordering::Relaxed);
        if self.entry.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.entry.released.notify_waiters();
            capacity::make_room(&self.pool);
        }
    }
}

impl Lease {
    /// Whether an operator's forced unload stopped the child.
    pub fn unloaded(&self) -> bool {
        self.child.unloaded.load(Ordering::Acquire)
    }

    /// Whether the child's main loop answers `/slots` within `patience`.
    /// llama-server answers `/health` from its HTTP threads even when its
    /// loop is wedged, but `/slots` is a task the loop itself runs, so an
    /// answer proves it is still working. A server started without the
    /// endpoint (`--no-slots`) answers 501, which proves nothing.
    pub async fn main_loop_answers(&self, patience: std::time::Duration) -> bool {
        matches!(
            self.pool.http.get(self.child.url("/slots")).timeout(patience).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// True if the child has exited, or exits within `wait`.
    pub async fn child_exited_within(&self, wait: std::time::Duration) -> bool {
        tokio::time::timeout(wait, self.child.exited())
            .await
            .is_ok()
    }
}
