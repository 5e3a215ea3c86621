//! Starting a model: one loader task per cold model however many requests
//! wait for it, a free port (retried if a stranger takes it first), a
//! readiness wait that fails the moment the child exits, backoff between
//! failed starts, and a watcher that notices when a warm child dies.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::Instrument;

use super::entry::{LoadResult, ModelEntry, Phase};
use super::process::{ChildProcess, SpawnParams};
use super::{PoolError, PoolEvent, PoolInner, binary, capacity, port};

/// Attempts when the chosen port turns out to be taken.
const PORT_ATTEMPTS: u32 = 3;
/// First delay between failed starts; doubles per failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Largest delay between failed starts below the breaker threshold.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Marks the entry Loading and spawns its loader. Called with the phase lock
/// held, which is what makes the start single-flight.
pub(super) fn begin(
    inner: &Arc<PoolInner>,
    entry: &Arc<ModelEntry>,
    phase: &mut Phase,
) -> watch::Receiver<LoadResult> {
    let (tx, rx) = watch::channel(None);
    *phase = Phase::Loading(rx.clone());
    let inner2 = inner.clone();
    let entry2 = entry.clone();
    // A child of the span of the request that triggered the start, so the
    // trace shows the load (and any eviction it caused) under that request.
    let span = tracing::info_span!("model_load", otel.name = "model_load", model = %entry.spec.id);
    inner.tasks.spawn(
        async move {
            let result = load(&inner2, &entry2).await;
            if let Err(e) = &result {
                record_failure(&inner2, &entry2, e.clone());
            }
            let _ = tx.send(Some(result));
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

fn record_failure(inner: &PoolInner, entry: &Arc<ModelEntry>, error: PoolError) {
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
        error,
        retry_at: Instant::now() + delay,
    };
}

async fn load(inner: &Arc<PoolInner>, entry: &Arc<ModelEntry>) -> Result<(), PoolError> {
    let binary = inner
        .binary
        .get_or_try_init(|| binary::locate(inner.config.llama_server.as_deref()))
        .await?;
    capacity::make_room(inner, entry).await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let port = port::pick_free_port().map_err(|e| PoolError::SpawnFailed {
            model: entry.spec.id.clone(),
            detail: format!("no free port: {e}"),
        })?;
        let spawned_at = Instant::now();
        let child = ChildProcess::spawn(
            SpawnParams {
                binary,
                spec: &entry.spec,
                port,
                stop_grace: inner.config.stop_grace,
            },
            &inner.tasks,
        )?;
        let ready = tokio::select! {
            r = child.wait_ready(&inner.http, inner.config.startup_timeout) => r,
            _ = inner.shutdown.cancelled() => Err(PoolError::ShuttingDown),
        };
        match ready {
            Ok(()) if !inner.shutdown.is_cancelled() => {
                inner.counters.load_time.record(spawned_at.elapsed());
                entry.failures.store(0, Ordering::Relaxed);
                entry.last_used_ms.store(inner.now_ms(), Ordering::Relaxed);
                tracing::info!(model = %entry.spec.id, pid = child.pid, port, load_ms = spawned_at.elapsed().as_millis() as u64, "model ready");
                *entry.phase() = Phase::Warm(child.clone());
                inner.events.send(PoolEvent::Ready {
                    model: entry.spec.id.clone(),
                    pid: child.pid,
                });
                inner
                    .tasks
                    .spawn(watch_child(inner.clone(), entry.clone(), child));
                return Ok(());
            }
            Ok(()) => {
                child.stop();
                return Err(PoolError::ShuttingDown);
            }
            Err(PoolError::ExitedDuringStartup { stderr_tail, .. })
                if attempt < PORT_ATTEMPTS && stderr_tail.contains("bind") =>
            {
                tracing::warn!(model = %entry.spec.id, port, "port was taken before llama-server could bind it; retrying on another");
            }
            Err(e) => {
                child.kill();
                return Err(e);
            }
        }
    }
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
    inner.idle.notify_waiters();
    if child.stop_requested() || inner.shutdown.is_cancelled() {
        return;
    }
    inner.counters.restarts.fetch_add(1, Ordering::Relaxed);
    inner.events.send(PoolEvent::Died {
        model: entry.spec.id.clone(),
        pid: child.pid,
    });
    tracing::warn!(model = %entry.spec.id, pid = child.pid, last_output = %child.stderr_tail(), "llama-server died; it will be replaced");
    if entry.preload {
        preload(&inner, entry);
    }
}
