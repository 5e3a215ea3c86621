//! Starting a model: one loader task per cold model however many requests
//! wait for it. The loader queues for a slot (holding nothing while it
//! waits, granted in arrival order), gives its place up when every caller
//! that wanted the model has left, launches the process under the slot, and
//! hands the model to its waiters. Back-off follows only real start failures
//! (the process did not come up), never "no room yet".

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

use futures::FutureExt;
use tokio::sync::watch;
use tracing::Instrument;

use super::entry::{LoadResult, ModelEntry, Phase};
use super::process::ChildProcess;
use super::slots::SlotPermit;
use super::{PoolError, PoolEvent, PoolInner, capacity};

/// First delay between failed starts; doubles per failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Largest delay between failed starts below the breaker threshold.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How a load ended.
enum Outcome {
    /// Warm (the phase is already set).
    Ready,
    /// Every waiting caller left while the load was queued for a slot; the
    /// phase is already back to cold and nobody listens.
    Abandoned,
    /// The load could not start or the process did not come up.
    Failed(PoolError),
}

/// Marks the entry Loading and spawns its loader. Called with the phase lock
/// held, which is what makes the start single-flight.
pub(super) fn begin(
    inner: &Arc<PoolInner>,
    entry: &Arc<ModelEntry>,
    phase: &mut Phase,
) -> watch::Receiver<LoadResult> {
    let (tx, rx) = watch::channel(None);
    *phase = Phase::Loading(rx.clone());
    inner.events.send(PoolEvent::Loading {
        model: entry.spec.id.clone(),
    });
    let inner2 = inner.clone();
    let entry2 = entry.clone();
    // A child of the span of the request that triggered the start, so the
    // trace shows the load (and any eviction it caused) under that request.
    let span = tracing::info_span!(
        "model_load",
        otel.name = "model_load",
        model = %entry.spec.id,
        pool.slot_wait_ms = tracing::field::Empty,
    );
    inner.tasks.spawn(
        async move {
            match load(&inner2, &entry2).await {
                Outcome::Ready => {
                    let _ = tx.send(Some(Ok(())));
                }
                Outcome::Abandoned => {}
                Outcome::Failed(e) => {
                    settle_failure(&inner2, &entry2, &e);
                    let _ = tx.send(Some(Err(e)));
                }
            }
        }
        .instrument(span),
    );
    rx
}

/// Starts a preloaded model in the background unless it is already up.
pub(super) fn preload(inner: &Arc<PoolInner>, entry: Arc<ModelEntry>) {
    let mut phase = entry.phase();
    if matches!(&*phase, Phase::Cold)
        || matches!(&*phase, Phase::Failed { retry_at, .. } if Instant::now() >= *retry_at)
    {
        drop(begin(inner, &entry, &mut phase));
    }
}

/// Leaves the entry after a failed load: a real start failure backs off
/// (and opens the breaker after enough of them); running out of room or
/// shutting down leaves the model cold, to be tried again on demand.
fn settle_failure(inner: &PoolInner, entry: &Arc<ModelEntry>, error: &PoolError) {
    if matches!(
        error,
        PoolError::NoCapacity { .. } | PoolError::ShuttingDown
    ) {
        *entry.phase() = Phase::Cold;
        return;
    }
    let failures = entry.failures.fetch_add(1, Ordering::Relaxed) + 1;
    let config = &inner.config;
    let delay = if failures >= config.breaker_threshold {
        config.breaker_cooldown
    } else {
        (FIRST_BACKOFF * 2u32.saturating_pow(failures - 1)).min(MAX_BACKOFF)
    };
    tracing::warn!(model = %entry.spec.id, failures, retry_in = ?delay, error = %error, "model failed to start");
    inner.events.send(PoolEvent::StartFailed {
        model: entry.spec.id.clone(),
        error: error.to_string(),
    });
    *entry.phase() = Phase::Failed {
        error: error.clone(),
        retry_at: Instant::now() + delay,
    };
}

async fn load(inner: &Arc<PoolInner>, entry: &Arc<ModelEntry>) -> Outcome {
    let queued = Instant::now();
    let waited = wait_for_slot(inner, entry).await;
    if waited.is_err() {
        // It left the queue: the waiter behind it may be due room that was
        // held back while this one was first in line.
        capacity::make_room(inner);
    }
    // How long the load queued for room, on the model_load span.
    tracing::Span::current().record("pool.slot_wait_ms", queued.elapsed().as_millis() as u64);
    let slot = match waited {
        Ok(slot) => slot,
        Err(outcome) => return outcome,
    };
    let started = Instant::now();
    let child = match inner.launcher.launch(inner, &entry.spec, &slot).await {
        Ok(child) => child,
        Err(e) => return Outcome::Failed(e),
    };
    if inner.shutdown.is_cancelled() {
        child.stop();
        return Outcome::Failed(PoolError::ShuttingDown);
    }
    let took = started.elapsed();
    inner.counters.load_time.record(took);
    inner.load_time.record(took);
    entry.failures.store(0, Ordering::Relaxed);
    entry.last_used_ms.store(inner.now_ms(), Ordering::Relaxed);
    tracing::info!(model = %entry.spec.id, pid = child.pid, port = child.port, load_ms = took.as_millis() as u64, "model ready");
    *entry.phase() = Phase::Warm(child.clone());
    inner.events.send(PoolEvent::Ready {
        model: entry.spec.id.clone(),
        pid: child.pid,
    });
    inner
        .tasks
        .spawn(watch_child(inner.clone(), entry.clone(), child));
    // The loader's hold on the slot ends here; the child's supervisor keeps
    // it until the process has been reaped.
    drop(slot);
    // Its callers may all have left during the start: then the new model is
    // idle at once, and may be the room a queued loader needs.
    capacity::make_room(inner);
    Outcome::Ready
}

/// Queues for a slot. Ends with the slot; with `Abandoned` once no caller
/// waits for the model any more (a preload always waits); with `NoCapacity`
/// after `slot_wait_timeout`; or at shutdown.
async fn wait_for_slot(
    inner: &Arc<PoolInner>,
    entry: &Arc<ModelEntry>,
) -> Result<Arc<SlotPermit>, Outcome> {
    let bytes = entry.spec.file_bytes;
    if let Some(budget) = inner.slots.budget()
        && bytes > budget
    {
        return Err(Outcome::Failed(PoolError::NoCapacity {
            model: entry.spec.id.clone(),
            reason: format!(
                "its file alone ({} MiB) exceeds the memory budget ({} MiB)",
                bytes >> 20,
                budget >> 20
            ),
        }));
    }
    let hold_until = capacity::hold_until(inner);
    let mut ticket =
        inner
            .slots
            .enqueue_for(bytes, Some(Arc::from(entry.spec.id.as_str())), hold_until);
    if let Some(slot) = (&mut ticket).now_or_never() {
        return Ok(slot);
    }
    capacity::make_room(inner);
    let give_up = tokio::time::sleep(inner.config.slot_wait_timeout);
    tokio::pin!(give_up);
    // When the hold ends this load may evict any idle model, and one may
    // have gone idle while it held back (room is otherwise made on the
    // events that free it: a lease released, a caller gone).
    let hold_over = tokio::time::sleep_until(hold_until);
    tokio::pin!(hold_over);
    let mut holding = true;
    loop {
        // Registered before the check, so a caller leaving in between is
        // not missed.
        let demand_gone = entry.demand_gone.notified();
        tokio::pin!(demand_gone);
        demand_gone.as_mut().enable();
        if !entry.kept_warm() && abandon_if_unwanted(entry) {
            return Err(Outcome::Abandoned);
        }
        tokio::select! {
            biased;
            slot = &mut ticket => return Ok(slot),
            _ = &mut demand_gone => {}
            _ = &mut hold_over, if holding => {
                holding = false;
                capacity::make_room(inner);
            }
            _ = &mut give_up => {
                return Err(Outcome::Failed(PoolError::NoCapacity {
                    model: entry.spec.id.clone(),
                    reason: capacity::blocked_reason(inner),
                }));
            }
            _ = inner.shutdown.cancelled() => return Err(Outcome::Failed(PoolError::ShuttingDown)),
        }
    }
}

/// Sends the entry back to cold when no caller waits for it. Under the phase
/// lock, where callers register as waiting, so none can join a load that is
/// being given up.
fn abandon_if_unwanted(entry: &ModelEntry) -> bool {
    let mut phase = entry.phase();
    if entry.waiting() != 0 {
        return false;
    }
    tracing::debug!(model = %entry.spec.id, "every caller left while the load waited for a slot; giving the place up");
    *phase = Phase::Cold;
    true
}

/// Waits for a warm child to exit. An exit the router did not ask for is a
/// crash (or a kill of a hung child): counted as a restart, the entry goes
/// cold if it still points at this child (a request may already have seen
/// the death and started a replacement), and a preloaded model is restarted
/// at once.
async fn watch_child(inner: Arc<PoolInner>, entry: Arc<ModelEntry>, child: Arc<ChildProcess>) {
    child.exited().await;
    {
        let mut phase = entry.phase();
        if matches!(&*phase, Phase::Warm(current) if Arc::ptr_eq(current, &child)) {
            *phase = Phase::Cold;
        }
    }
    if child.stop_requested() || inner.shutdown.is_cancelled() {
        return;
    }
    inner.counters.restarts.inc();
    inner.events.send(PoolEvent::Died {
        model: entry.spec.id.clone(),
        pid: child.pid,
    });
    tracing::warn!(model = %entry.spec.id, pid = child.pid, last_output = %child.stderr_tail(), "llama-server died; it will be replaced");
    if entry.kept_warm() {
        preload(&inner, entry);
    }
}
