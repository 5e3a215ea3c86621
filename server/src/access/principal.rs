//! Who is calling: a tenant with the models it may use (globs), its limits,
//! budget, priority class and running usage figures. Built once from a
//! [`KeyConfig`]; shared as `Arc<Principal>` by every call the key makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use globset::{Glob, GlobSet, GlobSetBuilder};
use tokio::sync::Semaphore;

use super::budget::Budget;
use super::rate::RateLimits;
use crate::config::KeyConfig;
use crate::domain::Priority;

/// The models a key may use.
#[derive(Debug, Clone)]
pub struct ModelPolicy {
    globs: GlobSet,
    everything: bool,
}

impl ModelPolicy {
    /// Compiles the patterns; `*` matches any characters, `/` included.
    pub fn new(patterns: &[String]) -> Result<ModelPolicy, globset::Error> {
        let mut set = GlobSetBuilder::new();
        for p in patterns {
            set.add(Glob::new(p)?);
        }
        Ok(ModelPolicy {
            globs: set.build()?,
            everything: patterns.iter().any(|p| p == "*"),
        })
    }

    /// Every model.
    pub fn everything() -> ModelPolicy {
        ModelPolicy {
            globs: GlobSet::empty(),
            everything: true,
        }
    }

    /// Whether `model` may be used.
    pub fn allows(&self, model: &str) -> bool {
        self.everything || self.globs.is_match(model)
    }
}

/// Running usage of one key since the router started (`Stats`, `/metrics`).
#[derive(Debug, Default)]
pub struct KeyUsage {
    /// Finished calls, any outcome.
    pub calls: AtomicU64,
    /// Finished calls that failed or were cancelled.
    pub failed: AtomicU64,
    /// Prompt tokens.
    pub prompt_tokens: AtomicU64,
    /// Completion tokens.
    pub completion_tokens: AtomicU64,
    /// Cost in micro-USD (an integer, so it can be an atomic).
    pub cost_micro_usd: AtomicU64,
    /// Calls refused by this key's limits or budget.
    pub refused: AtomicU64,
}

impl KeyUsage {
    /// Cost in USD.
    pub fn cost_usd(&self) -> f64 {
        self.cost_micro_usd.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// An authenticated caller.
#[derive(Debug)]
pub struct Principal {
    /// Tenant name (safe to show: Stats, metrics, ledger, messages).
    pub name: String,
    /// May call Stats and Usage.
    pub admin: bool,
    /// Admission class on shared routes.
    pub priority: Priority,
    /// Largest batch this key may send.
    pub max_batch_items: Option<usize>,
    /// Calls this key may have in flight; None: unlimited.
    pub max_concurrency: Option<usize>,
    pub(super) policy: ModelPolicy,
    pub(super) rate: RateLimits,
    pub(super) budget: Budget,
    pub(super) in_flight: Option<Arc<Semaphore>>,
    /// Usage since start.
    pub usage: KeyUsage,
}

impl Principal {
    /// A principal from a validated key entry.
    pub fn from_config(key: &KeyConfig) -> Result<Principal, globset::Error> {
        Ok(Principal {
            name: key.name.clone(),
            admin: key.admin,
            priority: key.priority,
            max_batch_items: key.max_batch_items,
            max_concurrency: key.max_concurrency,
            policy: ModelPolicy::new(&key.models)?,
            rate: RateLimits::new(key.requests_per_minute, key.tokens_per_minute),
            budget: Budget::new(key.budget_usd_per_day, key.budget_usd_per_month),
            in_flight: key
                .max_concurrency
                .map(|n| Arc::new(Semaphore::new(n.max(1)))),
            usage: KeyUsage::default(),
        })
    }

    /// The caller of an open service (no keys configured): every model,
    /// no limits, admin.
    pub fn anonymous() -> Principal {
        Principal {
            name: "anonymous".to_string(),
            admin: true,
            priority: Priority::Interactive,
            max_batch_items: None,
            max_concurrency: None,
            policy: ModelPolicy::everything(),
            rate: RateLimits::new(None, None),
            budget: Budget::new(None, None),
            in_flight: None,
            usage: KeyUsage::default(),
        }
    }

    /// Whether the key may use `model` (ListModels shows only these).
    pub fn may_use(&self, model: &str) -> bool {
        self.policy.allows(model)
    }

    /// Whether the key may see every model (then NOT_FOUND may list them all).
    pub fn sees_everything(&self) -> bool {
        self.policy.everything
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_prefixes_across_slashes() {
        let p = ModelPolicy::new(&["openrouter/anthropic/*".into(), "tiny-*".into()]).unwrap();
        assert!(p.allows("openrouter/anthropic/claude-3.5-haiku"));
        assert!(p.allows("tiny-a"));
        assert!(!p.allows("openrouter/openai/gpt-4o"));
        assert!(!p.allows("big-tiny-a"));
        assert!(ModelPolicy::new(&["*".into()]).unwrap().allows("a/b/c"));
        assert!(ModelPolicy::new(&["[".into()]).is_err());
    }
}
