//! Making room: when a loader is queued for a slot (`slots`) and no slot is
//! free or on its way, an *evictable* model is stopped for it: warm, no
//! lease, no caller waiting for it. Its slot stays held until its process
//! has been reaped, and is then granted to the queue head. A model in use is
//! never evicted; room is made again the moment one goes idle (last lease
//! released, last waiting caller gone).
//!
//! Which one, and when: the least wanted idle model (fewest calls lately, by
//! a decayed count, then least recently used). For a short *hold* after it
//! queues (two load times, at most `local.swap_hold`), a load evicts only a
//! model wanted no more than its own (its decayed count plus the callers
//! waiting for it), or one idle for longer than the hold: a popular model
//! that is idle only between two calls is not thrown out for a rare one,
//! which waits for a rarer model to go idle or for the hold to end, while
//! its later callers join the same load. Evicting the popular model would
//! have cost a reload (an exit and a load) a moment later; the hold costs at
//! most about as much, once. After the hold the least wanted idle model
//! goes, so no load waits on popularity for long, and a quiet pool (nothing
//! used within the hold) never holds at all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::entry::{ModelEntry, Phase};
use super::process::ChildProcess;
use super::slots::{Blocked, Turn};
use super::{PoolEvent, PoolInner};

/// A queued load's hold, in load times. A popular model evicted by mistake
/// costs its callers its exit and a new load; holding back about that long
/// first is the classic rent-or-buy bound. Measured on the swap bench (and
/// its replay, `swap_trace`): one load time cut loads by about a fifth, two
/// by about a third with the same wall time, three started to cost wall
/// time and tail latency.
const HOLD_LOADS: u32 = 2;

/// Weight of the newest load in the load-time average.
const LOAD_TIME_WEIGHT: f64 = 0.25;

/// How long loads have lately taken (an exponentially weighted average),
/// which sizes the hold.
#[derive(Default)]
pub(super) struct LoadTime {
    micros: AtomicU64,
}

impl LoadTime {
    /// Adds a load's duration (spawn to ready).
    pub(super) fn record(&self, took: Duration) {
        let sample = took.as_micros().min(u64::MAX as u128) as f64;
        let _ = self
            .micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                let mixed = if old == 0 {
                    sample
                } else {
                    old as f64 + LOAD_TIME_WEIGHT * (sample - old as f64)
                };
                Some((mixed as u64).max(1))
            });
    }

    fn average(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::Relaxed))
    }
}

/// When a load queuing now stops holding back: after [`HOLD_LOADS`] load
/// times (no hold before the first load has been timed), never more than
/// `local.swap_hold`.
pub(super) fn hold_until(inner: &PoolInner) -> Instant {
    Instant::now() + hold(inner)
}

fn hold(inner: &PoolInner) -> Duration {
    (inner.load_time.average() * HOLD_LOADS).min(inner.config.swap_hold)
}

/// Evicts for queued loaders while that helps. Called when a loader queues,
/// when its hold ends, and whenever a model may have become evictable (last
/// lease released, last waiting caller gone). Cheap when nobody waits: one
/// atomic load.
pub(super) fn make_room(inner: &PoolInner) {
    if !inner.slots.has_waiters() {
        return;
    }
    inner.slots.make_room(|turn| {
        let (entry, child) = evict_least_wanted(inner, &turn)?;
        let reason = match turn.blocked {
            Blocked::Memory { .. } => "memory",
            Blocked::Count | Blocked::No => "room",
        };
        tracing::info!(model = %entry.spec.id, pid = child.pid, reason, "evicting the least wanted idle model");
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

/// Stops the least wanted evictable model and returns it; while `turn` is
/// holding, only one wanted no more than the model it loads. The check and
/// the state change happen under the model's phase lock, the same lock the
/// warm path takes to increment `in_flight`, so a request can never be
/// handed a model that is being evicted.
fn evict_least_wanted(
    inner: &PoolInner,
    turn: &Turn<'_>,
) -> Option<(Arc<ModelEntry>, Arc<ChildProcess>)> {
    let entries = inner.entries.load();
    let now_ms = inner.now_ms();
    // How much the waiting load is wanted: its calls lately and the callers
    // waiting for it now. No bar once the hold is over.
    let bar = turn
        .holding
        .then(|| turn.model.and_then(|m| entries.get(m)))
        .flatten()
        .map(|e| e.use_score(now_ms) + f64::from(e.waiting()));
    // Only a model used within one hold counts as wanted right now: one
    // idle for longer is fair game at once, so a quiet pool never delays a
    // rare model's load for the sake of a popular one nobody is calling.
    let recent_ms = now_ms.saturating_sub(hold(inner).as_millis() as u64);
    let mut order: Vec<(f64, u64, &Arc<ModelEntry>)> = entries
        .values()
        .map(|e| {
            let used = e.last_used_ms.load(Ordering::Relaxed);
            (e.use_score(now_ms), used, e)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (score, used, entry) in order {
        if bar.is_some_and(|bar| score > bar) && used >= recent_ms {
            // Wanted more than the load, and lately: hold on to it.
            continue;
        }
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
