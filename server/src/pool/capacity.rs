//! Making room: when a loader is queued for a slot (`slots`) and no slot is
//! free or on its way, the least recently used *evictable* model is stopped:
//! warm, no lease, no caller waiting for it. Its slot stays held until its
//! process has been reaped, and is then granted to the queue head. A model
//! in use is never evicted; room is made again the moment one goes idle
//! (last lease released, last waiting caller gone), so a queued loader never
//! waits for a timer.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::entry::{ModelEntry, Phase};
use super::process::ChildProcess;
use super::slots::Blocked;
use super::{PoolEvent, PoolInner};

/// Evicts for queued loaders while that helps. Called when a loader queues
/// and whenever a model may have become evictable (last lease released,
/// last waiting caller gone). Cheap when nobody waits: one atomic load.
pub(super) fn make_room(inner: &PoolInner) {
    if !inner.slots.has_waiters() {
        return;
    }
    inner.slots.make_room(|blocked| {
        let (entry, child) = evict_lru_idle(inner)?;
        let reason = match blocked {
            Blocked::Memory { .. } => "memory",
            Blocked::Count | Blocked::No => "lru",
        };
        tracing::info!(model = %entry.spec.id, pid = child.pid, reason, "evicting least recently used idle model");
        retire(inner, &entry, &child, reason);
        Some(child.slot_id)
    });
}

/// Why a queued loader is still waiting, for its error message.
pub(super) fn blocked_reason(inner: &PoolInner) -> String {
    let max = inner.slots.max();
    match (inner.slots.needs_room(), inner.slots.budget()) {
        (Some(Blocked::Memory { used }), Some(budget)) => format!(
            "{} MiB of the {} MiB memory budget is in use by busy models",
            used >> 20,
            budget >> 20
        ),
        _ => format!(
            "all {max} loaded models stayed busy (local.max_loaded_models = {max}) for local.slot_wait_timeout = {:?}",
            inner.config.slot_wait_timeout
        ),
    }
}

/// Stops the evictable model used least recently and returns it. The check
/// and the state change happen under the model's phase lock, the same lock
/// the warm path takes to increment `in_flight`, so a request can never be
/// handed a model that is being evicted.
fn evict_lru_idle(inner: &PoolInner) -> Option<(Arc<ModelEntry>, Arc<ChildProcess>)> {
    let entries = inner.entries.load();
    let mut order: Vec<&Arc<ModelEntry>> = entries.values().collect();
    order.sort_by_key(|e| e.last_used_ms.load(Ordering::Relaxed));
    for entry in order {
        let mut phase = entry.phase();
        if let Some(child) = entry.evictable(&phase) {
            *phase = Phase::Cold;
            return Some((entry.clone(), child));
        }
    }
    None
}

/// Stops `entry` if it is evictable and has been idle at least `ttl_ms`
/// (0: an explicit unload). Returns the stopped child.
pub(super) fn evict_if_idle_for(
    inner: &PoolInner,
    entry: &Arc<ModelEntry>,
    ttl_ms: u64,
    reason: &'static str,
) -> Option<Arc<ChildProcess>> {
    let child = {
        let mut phase = entry.phase();
        let child = entry.evictable(&phase)?;
        let idle_for = inner
            .now_ms()
            .saturating_sub(entry.last_used_ms.load(Ordering::Relaxed));
        if idle_for < ttl_ms {
            return None;
        }
        *phase = Phase::Cold;
        tracing::info!(model = %entry.spec.id, idle_ms = idle_for, reason, "stopping idle model");
        child
    };
    stop_taken(inner, entry, &child, reason);
    Some(child)
}

/// Stops a child already taken out of its entry's phase (outside the
/// eviction queue's own bookkeeping): its slot counts as room on its way,
/// then it is retired. Call after the phase lock is released: the lock
/// order is slots, then phase.
pub(super) fn stop_taken(
    inner: &PoolInner,
    entry: &ModelEntry,
    child: &ChildProcess,
    reason: &'static str,
) {
    inner.slots.mark_releasing(child.slot_id);
    retire(inner, entry, child, reason);
}

/// Asks an evicted child to stop and reports it. Its slot is released by its
/// supervisor once the process has been reaped.
fn retire(inner: &PoolInner, entry: &ModelEntry, child: &ChildProcess, reason: &'static str) {
    child.stop();
    inner.counters.evictions.inc();
    inner.events.send(PoolEvent::Evicted {
        model: entry.spec.id.clone(),
        pid: child.pid,
        reason,
    });
}
