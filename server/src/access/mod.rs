//! Access control and tenancy, independent of any transport: a door (gRPC
//! today, HTTP next) hands over the raw credential it received
//! ([`Credentials`]) and gets a [`Principal`] back; before running a call
//! it asks [`AccessControl::admit`] for a [`Metered`] guard, which checks the
//! key's model allowlist, concurrency, budget and rate limits, and which
//! writes the call's usage to the ledger when the call ends however it ends.
//!
//! - [`key`]: keys held as SHA-256 digests, constant-time compare.
//! - [`principal`]: the tenant with its globs, limits and usage figures.
//! - [`rate`]: `governor` limiters (requests and tokens per minute).
//! - [`budget`]: USD per UTC day and month, seeded from the ledger.
//! - [`ledger`]: SQLite (WAL), batched writes on a dedicated thread.
//! - [`metrics`]: per-key usage and ledger health in `/metrics`.
//!
//! With no keys configured the service is open: every caller is the
//! `anonymous` principal (admin, no limits) and no ledger is kept.

mod budget;
mod credentials;
mod error;
mod estimate;
pub mod key;
pub mod ledger;
mod metered;
mod metrics;
mod principal;
mod rate;
mod reload;
mod tenants;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

pub use credentials::{Credentials, MAX_CREDENTIAL_BYTES};
pub use error::AccessError;
pub use estimate::prompt_tokens as estimate_prompt_tokens;
pub use key::KeyHash;
pub use ledger::{Ledger, LedgerError, UsageLine};
pub use metered::{Finished, Metered};
pub use metrics::AccessGauges;
pub use principal::{KeyUsage, ModelPolicy, Principal};
pub use rate::RateLimits;
pub use reload::PreparedKeys;
use tenants::Tenants;

use crate::config::AccessConfig;

/// Why access control could not start; the router does not start either.
#[derive(Debug, thiserror::Error)]
pub enum AccessStartError {
    /// The ledger database cannot be used.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A reload would turn keys on or off, which needs a restart.
    #[error("{0}")]
    KeysToggled(&'static str),
    /// A key entry is unusable (validation normally catches this first).
    #[error("invalid access.keys entry '{name}': {reason}")]
    Key {
        /// The tenant.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

/// The access layer; cheap to clone.
#[derive(Clone)]
pub struct AccessControl {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    /// The keys; a config reload swaps in a new set.
    tenants: ArcSwap<Tenants>,
    /// Open when keys are configured (whether keys are on cannot change
    /// without a restart).
    anonymous: Option<Arc<Principal>>,
    ledger: Option<Ledger>,
    denied: Mutex<BTreeMap<&'static str, u64>>,
}

impl AccessControl {
    /// An open service: no keys, no ledger.
    pub fn open() -> AccessControl {
        AccessControl::from_parts(Vec::new(), None)
    }

    /// Builds the key table from a validated config and, when keys are
    /// configured, opens the ledger and seeds every budget from it.
    pub fn start(config: &AccessConfig) -> Result<AccessControl, AccessStartError> {
        let keys = principals(config)?;
        if keys.is_empty() {
            return Ok(AccessControl::open());
        }
        let ledger = Ledger::open(&config.ledger_path)?;
        seed_budgets(&ledger, keys.iter().map(|(_, p, _)| p))?;
        Ok(AccessControl::from_parts(keys, Some(ledger)))
    }

    /// Keys and limits with no ledger: usage is not persisted and budgets
    /// start at zero. For benchmarks (the request path with the ledger off)
    /// and embedders that keep usage elsewhere; `serve` always uses
    /// [`AccessControl::start`].
    pub fn in_memory(config: &AccessConfig) -> Result<AccessControl, AccessStartError> {
        Ok(AccessControl::from_parts(principals(config)?, None))
    }

    fn from_parts(keys: Vec<Key>, ledger: Option<Ledger>) -> AccessControl {
        let anonymous = keys.is_empty().then(|| Arc::new(Principal::anonymous()));
        AccessControl {
            shared: Arc::new(Shared {
                tenants: ArcSwap::from_pointee(Tenants::new(keys)),
                anonymous,
                ledger,
                denied: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// True when no keys are configured (everyone is `anonymous`).
    pub fn is_open(&self) -> bool {
        self.shared.anonymous.is_some()
    }

    /// Who presented `credentials`.
    pub fn authenticate(
        &self,
        credentials: Credentials<'_>,
    ) -> Result<Arc<Principal>, AccessError> {
        if let Some(anonymous) = &self.shared.anonymous {
            return Ok(anonymous.clone());
        }
        let key = credentials.key().map_err(|e| self.denied(e))?;
        let hash = KeyHash::of(key);
        match self.shared.tenants.load().keys.get(hash.bytes()) {
            Some((stored, principal)) if stored.matches(&hash) => Ok(principal.clone()),
            _ => Err(self.denied(AccessError::UnknownKey)),
        }
    }

    /// Refuses unless the key may use every one of `models` (a call's model
    /// and its fallbacks).
    pub fn authorize<'a>(
        &self,
        principal: &Principal,
        models: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), AccessError> {
        match models.into_iter().find(|m| !principal.may_use(m)) {
            None => Ok(()),
            Some(model) => Err(self.denied(AccessError::ModelDenied {
                tenant: principal.name.clone(),
                model: model.to_string(),
            })),
        }
    }

    /// Refuses unless the key is an admin key.
    pub fn require_admin(
        &self,
        principal: &Principal,
        rpc: &'static str,
    ) -> Result<(), AccessError> {
        if principal.admin {
            Ok(())
        } else {
            Err(self.denied(AccessError::AdminOnly { rpc }))
        }
    }

    /// Refuses a batch larger than the key allows.
    pub fn check_batch(&self, principal: &Principal, items: usize) -> Result<(), AccessError> {
        match principal.max_batch_items {
            Some(max) if items > max => Err(self.refused(
                principal,
                AccessError::BatchTooLarge {
                    tenant: principal.name.clone(),
                    items,
                    max,
                },
            )),
            _ => Ok(()),
        }
    }

    /// Admits one call (or batch item) for `model` whose prompt is
    /// estimated at `prompt_estimate` tokens: concurrency, budget, then the
    /// rate limits. The guard records the call's usage when it ends.
    pub fn admit(
        &self,
        principal: &Arc<Principal>,
        model: &str,
        prompt_estimate: u32,
    ) -> Result<Metered, AccessError> {
        let p = principal;
        let permit = match &p.in_flight {
            None => None,
            Some(sem) => Some(sem.clone().try_acquire_owned().map_err(|_| {
                self.refused(
                    p,
                    AccessError::RateLimited {
                        tenant: p.name.clone(),
                        limit: format!("max_concurrency ({})", p.max_concurrency.unwrap_or(0)),
                        retry_after: CONCURRENCY_PUSHBACK,
                    },
                )
            })?),
        };
        if let Err(over) = p.budget.check(Utc::now()) {
            return Err(self.refused(
                p,
                AccessError::BudgetExhausted {
                    tenant: p.name.clone(),
                    period: over.period,
                    spent: over.spent,
                    budget: over.budget,
                    retry_after: over.retry_after,
                },
            ));
        }
        if let Err(r) = p.rate.admit(prompt_estimate) {
            return Err(self.refused(
                p,
                AccessError::RateLimited {
                    tenant: p.name.clone(),
                    limit: r.limit,
                    retry_after: r.retry_after,
                },
            ));
        }
        Ok(Metered::new(
            self.shared.clone(),
            p.clone(),
            model,
            prompt_estimate,
            permit,
        ))
    }

    /// Every configured key's principal (empty when open).
    pub fn principals(&self) -> Vec<Arc<Principal>> {
        self.shared.tenants.load().principals.clone()
    }

    /// The ledger, when keys are configured.
    pub fn ledger(&self) -> Option<&Ledger> {
        self.shared.ledger.as_ref()
    }

    /// Refusals by reason label since start.
    pub fn denials(&self) -> Vec<(&'static str, u64)> {
        self.shared
            .denied
            .lock()
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect()
    }

    /// Usage per key and model since `since`, read from the ledger after
    /// flushing what is queued. Blocking (SQLite): call it off the runtime.
    pub fn usage_since(&self, since: DateTime<Utc>) -> Result<Vec<UsageLine>, String> {
        let Some(ledger) = &self.shared.ledger else {
            return Ok(Vec::new());
        };
        ledger.flush();
        let conn = ledger::open_reader(ledger.path()).map_err(|e| e.to_string())?;
        ledger::usage_since(&conn, since.timestamp_millis()).map_err(|e| e.to_string())
    }

    /// Writes every queued ledger row and stops the writer. Blocking.
    pub fn close(&self) {
        if let Some(ledger) = &self.shared.ledger {
            ledger.close();
        }
    }

    fn denied(&self, e: AccessError) -> AccessError {
        *self.shared.denied.lock().entry(e.label()).or_default() += 1;
        e
    }

    fn refused(&self, p: &Principal, e: AccessError) -> AccessError {
        p.usage.refused.fetch_add(1, Ordering::Relaxed);
        self.denied(e)
    }
}

/// The configured keys as (hash, principal, entry).
fn principals(config: &AccessConfig) -> Result<Vec<Key>, AccessStartError> {
    config.keys.iter().map(key_from_config).collect()
}

/// A key's digest, its principal and the entry it came from.
type Key = (KeyHash, Arc<Principal>, crate::config::KeyConfig);

fn key_from_config(k: &crate::config::KeyConfig) -> Result<Key, AccessStartError> {
    let bad = |reason: String| AccessStartError::Key {
        name: k.name.clone(),
        reason,
    };
    let hash = KeyHash::parse(&k.hash).map_err(|e| bad(e.to_string()))?;
    let principal = Principal::from_config(k).map_err(|e| bad(e.to_string()))?;
    Ok((hash, Arc::new(principal), k.clone()))
}

/// Retry hint when a key is at its `max_concurrency`: a call usually ends
/// within this, and the caller cannot know when.
const CONCURRENCY_PUSHBACK: std::time::Duration = std::time::Duration::from_millis(100);

fn seed_budgets<'a>(
    ledger: &Ledger,
    principals: impl Iterator<Item = &'a Arc<Principal>>,
) -> Result<(), LedgerError> {
    let now = Utc::now();
    let read = || -> rusqlite::Result<_> {
        let conn = ledger::open_reader(ledger.path())?;
        let day = ledger::spend_since(&conn, budget::day_start(now).timestamp_millis())?;
        let month = ledger::spend_since(&conn, budget::month_start(now).timestamp_millis())?;
        Ok((day, month))
    };
    let (day, month) = read().map_err(|e| LedgerError::new(ledger.path(), e.to_string()))?;
    for p in principals {
        let d = day.get(&p.name).copied().unwrap_or(0.0);
        let m = month.get(&p.name).copied().unwrap_or(0.0);
        p.budget.seed(d, m, now);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
