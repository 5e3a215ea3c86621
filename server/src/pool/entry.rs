//! One catalogued model's live state, and the lease a request holds on it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{Notify, watch};

use super::PoolError;
use super::catalogue::LocalModelSpec;
use super::process::ChildProcess;

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
    /// Restart at once when it dies, and start at boot.
    pub preload: bool,
    /// Guarded by a std mutex that is never held across an await: the warm
    /// path takes it for a few instructions.
    phase: Mutex<Phase>,
    /// Requests holding a lease.
    pub in_flight: AtomicU32,
    /// Milliseconds since the pool epoch of the last lease release.
    pub last_used_ms: AtomicU64,
    /// Consecutive failed starts (reset by a successful one).
    pub failures: AtomicU32,
}

impl ModelEntry {
    /// A cold entry.
    pub fn new(spec: LocalModelSpec, preload: bool) -> ModelEntry {
        ModelEntry {
            spec,
            preload,
            phase: Mutex::new(Phase::Cold),
            in_flight: AtomicU32::new(0),
            last_used_ms: AtomicU64::new(0),
            failures: AtomicU32::new(0),
        }
    }

    /// Locks the phase. A poisoned lock only means a panic elsewhere while it
    /// was held; the phase value itself is always a consistent enum, so the
    /// guard is recovered rather than propagating the panic.
    pub fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The warm child, if any.
    pub fn warm_child(&self) -> Option<Arc<ChildProcess>> {
        match &*self.phase() {
            Phase::Warm(child) => Some(child.clone()),
            _ => None,
        }
    }

    /// True when the model holds (or is about to hold) a process.
    pub fn occupies_a_slot(&self) -> bool {
        matches!(&*self.phase(), Phase::Warm(_) | Phase::Loading(_))
    }
}

/// A request's hold on a warm model. While any lease exists the model is
/// never evicted; dropping it records the use for LRU and idle TTL.
pub struct Lease {
    entry: Arc<ModelEntry>,
    child: Arc<ChildProcess>,
    idle: Arc<Notify>,
    epoch: Instant,
    /// True when this request waited for a process to start.
    pub cold: bool,
}

impl Lease {
    /// Made by the pool after it incremented `in_flight` under the phase lock.
    pub(super) fn new(
        entry: Arc<ModelEntry>,
        child: Arc<ChildProcess>,
        idle: Arc<Notify>,
        epoch: Instant,
        cold: bool,
    ) -> Lease {
        Lease {
            entry,
            child,
            idle,
            epoch,
            cold,
        }
    }

    /// The child's OpenAI-compatible base URL.
    pub fn base_url(&self) -> &str {
        &self.child.base_url
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
        let now = self.epoch.elapsed().as_millis() as u64;
        self.entry.last_used_ms.store(now, Ordering::Relaxed);
        if self.entry.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

impl Lease {
    /// True if the child has exited, or exits within `wait`.
    pub async fn child_exited_within(&self, wait: std::time::Duration) -> bool {
        tokio::time::timeout(wait, self.child.exited())
            .await
            .is_ok()
    }
}
