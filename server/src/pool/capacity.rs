//! Making room for a model about to start: the least recently used *idle*
//! model is stopped while the process count or the memory budget would be
//! exceeded. A model with requests in flight is never evicted; when nothing
//! is evictable the loader waits for a model to become idle, bounded by the
//! start-up timeout, then gives up with a message that says which limit.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::entry::{ModelEntry, Phase};
use super::process::ChildProcess;
use super::{PoolError, PoolEvent, PoolInner};

enum Decision {
    Fits,
    Evicted,
    Blocked(String),
}

pub(super) async fn make_room(
    inner: &Arc<PoolInner>,
    entry: &Arc<ModelEntry>,
) -> Result<(), PoolError> {
    let give_up_at = Instant::now() + inner.config.startup_timeout;
    loop {
        // Registered before deciding, so an idle notification between the
        // decision and the wait is not lost.
        let idle = inner.idle.notified();
        tokio::pin!(idle);
        idle.as_mut().enable();
        match decide(inner, entry)? {
            Decision::Fits => return Ok(()),
            Decision::Evicted => continue,
            Decision::Blocked(reason) => {
                tokio::select! {
                    _ = &mut idle => {}
                    _ = tokio::time::sleep_until(give_up_at.into()) => {
                        return Err(PoolError::NoCapacity { model: entry.spec.id.clone(), reason });
                    }
                    _ = inner.shutdown.cancelled() => return Err(PoolError::ShuttingDown),
                }
            }
        }
    }
}

fn decide(inner: &PoolInner, entry: &Arc<ModelEntry>) -> Result<Decision, PoolError> {
    let _serialised = inner.capacity.lock().unwrap_or_else(|p| p.into_inner());
    let others: Vec<&Arc<ModelEntry>> = inner
        .entries
        .values()
        .filter(|e| !Arc::ptr_eq(e, entry) && e.occupies_a_slot())
        .collect();
    let max = inner.config.max_loaded_models;
    let over_count = others.len() + 1 > max;
    let over_memory = match inner.config.memory_budget_bytes {
        None => None,
        Some(budget) => {
            let need = entry.spec.file_bytes;
            if need > budget {
                return Err(PoolError::NoCapacity {
                    model: entry.spec.id.clone(),
                    reason: format!(
                        "its file alone ({} MiB) exceeds the memory budget ({} MiB)",
                        need >> 20,
                        budget >> 20
                    ),
                });
            }
            let used: u64 = others
                .iter()
                .filter_map(|e| e.warm_child())
                .map(|c| c.rss_bytes.load(Ordering::Relaxed))
                .sum();
            (used + need > budget).then(|| {
                format!(
                    "{} MiB of the {} MiB memory budget is in use",
                    used >> 20,
                    budget >> 20
                )
            })
        }
    };
    if !over_count && over_memory.is_none() {
        return Ok(Decision::Fits);
    }
    if let Some(child) = evict_lru_idle(&others) {
        inner.counters.evictions.fetch_add(1, Ordering::Relaxed);
        inner.events.send(PoolEvent::Evicted {
            model: child.model.clone(),
            pid: child.pid,
            reason: if over_memory.is_some() {
                "memory"
            } else {
                "lru"
            },
        });
        tracing::info!(model = %child.model, for_model = %entry.spec.id, "evicting least recently used idle model");
        child.stop();
        return Ok(Decision::Evicted);
    }
    Ok(Decision::Blocked(over_memory.unwrap_or_else(|| {
        format!("all {max} loaded models are busy (local.max_loaded_models = {max})")
    })))
}

/// Stops the idle warm model used least recently and returns its child.
/// The in-flight check and the state change happen under the model's phase
/// lock, the same lock the warm path takes to increment `in_flight`, so a
/// request can never be handed a model that is being evicted.
fn evict_lru_idle(candidates: &[&Arc<ModelEntry>]) -> Option<Arc<ChildProcess>> {
    let mut order: Vec<&Arc<ModelEntry>> = candidates.to_vec();
    order.sort_by_key(|e| e.last_used_ms.load(Ordering::Relaxed));
    for entry in order {
        let mut phase = entry.phase();
        if let Phase::Warm(child) = &*phase
            && entry.in_flight.load(Ordering::Acquire) == 0
        {
            let child = child.clone();
            *phase = Phase::Cold;
            return Some(child);
        }
    }
    None
}

/// Stops `entry` if it is warm, idle and has been idle at least `ttl_ms`
/// (0: an explicit unload).
pub(super) fn evict_if_idle_for(inner: &PoolInner, entry: &ModelEntry, ttl_ms: u64) -> bool {
    let mut phase = entry.phase();
    let Phase::Warm(child) = &*phase else {
        return false;
    };
    let idle_for = inner
        .now_ms()
        .saturating_sub(entry.last_used_ms.load(Ordering::Relaxed));
    if entry.in_flight.load(Ordering::Acquire) != 0 || idle_for < ttl_ms {
        return false;
    }
    tracing::info!(model = %entry.spec.id, idle_ms = idle_for, "stopping idle model");
    child.stop();
    inner.events.send(PoolEvent::Evicted {
        model: entry.spec.id.clone(),
        pid: child.pid,
        reason: if ttl_ms == 0 { "unload" } else { "idle_ttl" },
    });
    *phase = Phase::Cold;
    inner.counters.evictions.fetch_add(1, Ordering::Relaxed);
    true
}
