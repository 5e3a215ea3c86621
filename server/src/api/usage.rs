//! `Usage` (the ledger's report per key and model, admin keys only) and the
//! per-key figures `Stats` shows.

use std::time::Duration;

use ai_router_proto::v1 as pb;
use chrono::Utc;
use tonic::Status;

use crate::access::Principal;
use crate::engine::Engine;
use crate::error::RouterError;

/// Report window when the request does not set one.
const DEFAULT_SINCE: Duration = Duration::from_secs(24 * 3600);

/// Reads the ledger off the async runtime (SQLite blocks).
pub async fn report(
    engine: &Engine,
    request: pb::UsageRequest,
) -> Result<pb::UsageResponse, Status> {
    let since = match request.since {
        None => DEFAULT_SINCE,
        Some(d) if d.seconds >= 0 && d.nanos >= 0 => {
            Duration::new(d.seconds as u64, d.nanos as u32)
        }
        Some(_) => {
            return Err(Status::invalid_argument("`since` must not be negative"));
        }
    };
    let from = chrono::Duration::from_std(since)
        .ok()
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::UNIX_EPOCH);
    let access = engine.access().clone();
    let lines = tokio::task::spawn_blocking(move || access.usage_since(from))
        .await
        .map_err(|e| Status::internal(format!("the usage report task failed: {e}")))?
        .map_err(|e| {
            Status::from(RouterError::FailedPrecondition(format!(
                "cannot read the usage ledger: {e}"
            )))
        })?;
    Ok(pb::UsageResponse {
        lines: lines
            .into_iter()
            .map(|l| pb::UsageLine {
                key: l.key,
                model: l.model,
                calls: l.calls,
                failed: l.failed,
                prompt_tokens: l.prompt_tokens,
                completion_tokens: l.completion_tokens,
                cost_usd: l.cost_usd,
            })
            .collect(),
    })
}

/// Refuses a non-admin key.
pub fn require_admin(
    engine: &Engine,
    principal: &Principal,
    rpc: &'static str,
) -> Result<(), Status> {
    engine
        .access()
        .require_admin(principal, rpc)
        .map_err(|e| Status::from(RouterError::from(e)))
}

/// Usage per key since start, for `Stats`.
pub fn key_usage(engine: &Engine) -> Vec<pb::KeyUsage> {
    use std::sync::atomic::Ordering::Relaxed;
    engine
        .access()
        .principals()
        .iter()
        .map(|p| {
            let u = &p.usage;
            pb::KeyUsage {
                name: p.name.clone(),
                calls: u.calls.load(Relaxed),
                failed: u.failed.load(Relaxed),
                prompt_tokens: u.prompt_tokens.load(Relaxed),
                completion_tokens: u.completion_tokens.load(Relaxed),
                cost_usd: u.cost_usd(),
                refused: u.refused.load(Relaxed),
            }
        })
        .collect()
}

/// The ledger writer's counters, for `Stats`.
pub fn ledger_stats(engine: &Engine) -> Option<pb::LedgerStats> {
    use std::sync::atomic::Ordering::Relaxed;
    let ledger = engine.access().ledger()?;
    let c = ledger.counters();
    Some(pb::LedgerStats {
        path: ledger.path().display().to_string(),
        rows_written: c.written.load(Relaxed),
        rows_failed: c.failed.load(Relaxed),
        rows_dropped: c.dropped.load(Relaxed),
        rows_waited: c.waited.load(Relaxed),
    })
}
