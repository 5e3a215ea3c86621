//! Hang detection by generation. A wedged llama-server can keep answering
//! `/health` while generating nothing, so an idle warm child is asked, every
//! `local.generation_probe_interval`, for one token through the same
//! chat-completions route requests use. No answer within
//! `local.generation_probe_timeout` (or an error) means hung: the child is
//! killed and, like any dead child, replaced by the next request (or at once
//! when it is preloaded or pinned). A probe holds no lease: it neither keeps
//! the model from eviction nor counts as use for the idle TTL.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::PoolInner;
use super::process::ChildProcess;

/// The probe's request: one token of anything.
const PROBE_BODY: &str =
    r#"{"messages":[{"role":"user","content":"ping"}],"max_tokens":1,"stream":false}"#;

/// Starts a probe for every idle warm child whose last one is older than the
/// interval. Called from the maintenance loop; returns at once.
pub(super) fn start_due(inner: &Arc<PoolInner>) {
    let interval = inner.config.generation_probe_interval;
    if interval.is_zero() {
        return;
    }
    let now_ms = inner.now_ms();
    let interval_ms = interval.as_millis() as u64;
    for entry in inner.entries.load().values() {
        let Some(child) = entry.warm_child() else {
            continue;
        };
        let idle = entry.in_flight.load(Ordering::Acquire) == 0;
        let due = now_ms.saturating_sub(child.probed_at_ms.load(Ordering::Relaxed)) >= interval_ms
            && now_ms.saturating_sub(entry.last_used_ms.load(Ordering::Relaxed)) >= interval_ms;
        if !idle || !due || child.probing.swap(true, Ordering::AcqRel) {
            continue;
        }
        child.probed_at_ms.store(now_ms, Ordering::Relaxed);
        let inner2 = inner.clone();
        inner.tasks.spawn(async move {
            let answered = generates(&inner2, &child).await;
            child.probing.store(false, Ordering::Release);
            if let Err(why) = answered {
                judge_hung(&inner2, &child, &why);
            }
        });
    }
}

/// One token, or why not.
async fn generates(inner: &PoolInner, child: &ChildProcess) -> Result<(), String> {
    let timeout = inner.config.generation_probe_timeout;
    let sent = inner
        .http
        .post(child.chat_uri.to_string())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(PROBE_BODY)
        .timeout(timeout)
        .send();
    let answer = async {
        let response = sent.await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        response.bytes().await.map_err(|e| e.to_string())?;
        Ok(())
    };
    match tokio::time::timeout(timeout + Duration::from_millis(100), answer).await {
        Ok(result) => result,
        Err(_) => Err(format!("no token within {timeout:?}")),
    }
}

/// Kills a child that failed its probe, unless it was being stopped anyway
/// (an eviction or shutdown in the meantime also fails the probe).
fn judge_hung(inner: &PoolInner, child: &Arc<ChildProcess>, why: &str) {
    if child.stop_requested() || inner.shutdown.is_cancelled() || !child.is_alive() {
        return;
    }
    inner.counters.generation_probe_failures.inc();
    tracing::warn!(model = %child.model, pid = child.pid, reason = why, "llama-server failed its one-token generation probe; killing it as hung");
    child.kill();
}
