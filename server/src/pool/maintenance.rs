//! The pool's one background loop: samples children's RSS, stops models idle
//! past the TTL, probes warm children's `/health` (three failures in a row:
//! killed and replaced) and idle ones' generation (`probe`), and retries
//! preloads whose backoff has passed.

use std::sync::Arc;

use std::time::Duration;
use tokio::time::Instant;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::entry::Phase;
use super::{PoolInner, capacity, loader};

/// Failed probes in a row before a child counts as hung.
const HEALTH_FAILURES_TO_KILL: u32 = 3;

pub(super) async fn run(inner: Arc<PoolInner>) {
    let tick = tick_interval(&inner);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut system = System::new();
    let mut last_health = Instant::now();
    // Missed health answers in a row, per model id (models come and go with
    // config reloads).
    let mut health_failures: std::collections::HashMap<String, u32> =
        std::collections::HashMap::new();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = inner.shutdown.cancelled() => return,
        }
        sample_rss(&inner, &mut system);
        if let Some(ttl) = inner.config.idle_ttl {
            let ttl_ms = ttl.as_millis() as u64;
            for entry in inner.entries.load().values() {
                capacity::evict_if_idle_for(&inner, entry, ttl_ms, "idle_ttl");
            }
        }
        // Room is made the moment a model goes idle; this only backs that up.
        capacity::make_room(&inner);
        if last_health.elapsed() >= inner.config.health_interval {
            last_health = Instant::now();
            probe_health(&inner, &mut health_failures).await;
        }
        super::probe::start_due(&inner);
        retry_preloads(&inner);
    }
}

fn tick_interval(inner: &PoolInner) -> Duration {
    let mut tick = Duration::from_secs(1).min(inner.config.health_interval);
    if let Some(ttl) = inner.config.idle_ttl {
        tick = tick.min(ttl / 2);
    }
    tick.max(Duration::from_millis(20))
}

fn sample_rss(inner: &PoolInner, system: &mut System) {
    let children: Vec<_> = inner
        .entries
        .load()
        .values()
        .filter_map(|e| e.warm_child())
        .collect();
    if children.is_empty() {
        return;
    }
    let pids: Vec<Pid> = children.iter().map(|c| Pid::from_u32(c.pid)).collect();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&pids),
        true,
        ProcessRefreshKind::nothing().with_memory(),
    );
    for child in children {
        if let Some(p) = system.process(Pid::from_u32(child.pid)) {
            child.record_rss(p.memory());
        }
    }
}

async fn probe_health(inner: &PoolInner, failures: &mut std::collections::HashMap<String, u32>) {
    // A probe never takes longer than the interval between probes, so three
    // missed answers are noticed within about three intervals.
    let timeout = inner.config.health_interval.min(Duration::from_secs(2));
    let entries = inner.entries.load_full();
    let probes = entries
        .values()
        .filter_map(|e| e.warm_child())
        .map(|child| async move {
            let ok = child.healthy(&inner.http, timeout).await;
            (child, ok)
        });
    for (child, ok) in futures::future::join_all(probes).await {
        let count = failures.entry(child.model.clone()).or_default();
        if ok {
            *count = 0;
        } else {
            *count += 1;
        }
        if *count >= HEALTH_FAILURES_TO_KILL {
            *count = 0;
            tracing::warn!(model = %child.model, pid = child.pid, "llama-server stopped answering /health; killing it");
            child.kill();
        }
    }
}

fn retry_preloads(inner: &Arc<PoolInner>) {
    for entry in inner.entries.load().values().filter(|e| e.kept_warm()) {
        let due = matches!(&*entry.phase(), Phase::Failed { retry_at, .. } if Instant::now() >= *retry_at);
        if due {
            loader::preload(inner, entry.clone());
        }
    }
}
