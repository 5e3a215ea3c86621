//! One admitted call's account: it holds the key's concurrency permit and,
//! when the call ends, charges its tokens to the rate limiter, its cost to
//! the budget and the running usage, and writes its ledger row. A call
//! dropped before it finished (the client left) is recorded as cancelled by
//! `Drop`, so every admitted call leaves exactly one row.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use chrono::Utc;
use tokio::sync::OwnedSemaphorePermit;

use super::Shared;
use super::ledger::Row;
use super::principal::Principal;

/// How a call ended, as far as accounting goes.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    /// Backend kind that answered ("" when none was reached).
    pub backend: &'a str,
    /// Prompt tokens reported by the upstream.
    pub prompt_tokens: u32,
    /// Completion tokens reported by the upstream.
    pub completion_tokens: u32,
    /// USD reported by the upstream.
    pub cost_usd: f64,
    /// "ok" or the error label.
    pub status: &'a str,
    /// False when the upstream reported the usage.
    pub estimated: bool,
}

/// An admitted call (see the module docs).
pub struct Metered {
    shared: Arc<Shared>,
    principal: Arc<Principal>,
    model: String,
    started: Instant,
    prompt_estimate: u32,
    streamed_deltas: u32,
    _permit: Option<OwnedSemaphorePermit>,
    done: bool,
}

impl Metered {
    pub(super) fn new(
        shared: Arc<Shared>,
        principal: Arc<Principal>,
        model: &str,
        prompt_estimate: u32,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Metered {
        Metered {
            shared,
            principal,
            model: model.to_string(),
            started: Instant::now(),
            prompt_estimate,
            streamed_deltas: 0,
            _permit: permit,
            done: false,
        }
    }

    /// The caller.
    pub fn principal(&self) -> &Arc<Principal> {
        &self.principal
    }

    /// Counts a text delta sent to the caller: if the call then fails or is
    /// cancelled, its row estimates the tokens it consumed from these.
    pub fn note_delta(&mut self) {
        self.streamed_deltas = self.streamed_deltas.saturating_add(1);
    }

    /// Records a call that produced a completion with reported usage.
    pub fn finish_ok(mut self, backend: &str, prompt: u32, completion: u32, cost_usd: f64) {
        self.record(Finished {
            backend,
            prompt_tokens: prompt,
            completion_tokens: completion,
            cost_usd,
            status: "ok",
            estimated: false,
        });
    }

    /// Records a call that failed with the error labelled `status`.
    pub fn finish_failed(mut self, status: &str) {
        let f = self.consumed_estimate(status);
        self.record(f);
    }

    /// What a call that ended without usage consumed, as far as the router
    /// can tell: nothing, unless output reached the caller (then the prompt
    /// estimate and one token per delta).
    fn consumed_estimate<'a>(&self, status: &'a str) -> Finished<'a> {
        let emitted = self.streamed_deltas > 0;
        Finished {
            backend: "",
            prompt_tokens: if emitted { self.prompt_estimate } else { 0 },
            completion_tokens: self.streamed_deltas,
            cost_usd: 0.0,
            status,
            estimated: emitted,
        }
    }

    fn record(&mut self, f: Finished<'_>) {
        self.done = true;
        let p = &self.principal;
        let extra_prompt = f.prompt_tokens.saturating_sub(self.prompt_estimate);
        p.rate
            .charge(u64::from(f.completion_tokens) + u64::from(extra_prompt));
        let ledger = self.shared.ledger.as_ref();
        // The clock is read only when something keeps a date.
        let now = (ledger.is_some() || p.budget.is_limited()).then(Utc::now);
        if let Some(now) = now {
            p.budget.add(f.cost_usd, now);
        }
        let u = &p.usage;
        u.calls.fetch_add(1, Ordering::Relaxed);
        if f.status != "ok" {
            u.failed.fetch_add(1, Ordering::Relaxed);
        }
        u.prompt_tokens
            .fetch_add(u64::from(f.prompt_tokens), Ordering::Relaxed);
        u.completion_tokens
            .fetch_add(u64::from(f.completion_tokens), Ordering::Relaxed);
        if f.cost_usd.is_finite() && f.cost_usd > 0.0 {
            let micro = (f.cost_usd * 1e6).round() as u64;
            u.cost_micro_usd.fetch_add(micro, Ordering::Relaxed);
        }
        if let (Some(ledger), Some(now)) = (ledger, now) {
            ledger.record(Row {
                ts_ms: now.timestamp_millis(),
                key: p.name.clone(),
                model: std::mem::take(&mut self.model),
                backend: f.backend.to_string(),
                prompt_tokens: f.prompt_tokens,
                completion_tokens: f.completion_tokens,
                cost_usd: if f.cost_usd.is_finite() {
                    f.cost_usd
                } else {
                    0.0
                },
                status: f.status.to_string(),
                duration_ms: self.started.elapsed().as_millis() as u64,
                estimated: f.estimated,
            });
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        if !self.done {
            let f = self.consumed_estimate("cancelled");
            self.record(f);
        }
    }
}
