//! Circuit breakers per (endpoint, model): one failing model on a
//! multi-model endpoint (a provider outage on OpenRouter, a model that
//! hangs) opens only its own breaker, not the endpoint's. Host failures
//! (unreachable, connection broken) are the host pool's business and never
//! count here (see [`UpstreamError::is_model_failure`](super::UpstreamError::is_model_failure)).
//!
//! The map is bounded: model names come from callers (an endpoint without a
//! model list takes any name), so past [`MAX_MODELS`] entries the breakers
//! with nothing to remember (closed, no failures) are dropped first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::breaker::{Breaker, BreakerConfig, BreakerSnapshot, BreakerState};

/// Most models tracked per endpoint.
pub(super) const MAX_MODELS: usize = 1024;

/// One endpoint's breakers, by upstream model name.
#[derive(Debug)]
pub(super) struct ModelBreakers {
    config: BreakerConfig,
    by_model: Mutex<HashMap<String, Arc<Breaker>>>,
}

impl ModelBreakers {
    pub(super) fn new(config: BreakerConfig) -> ModelBreakers {
        ModelBreakers {
            config,
            by_model: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Breaker>>> {
        self.by_model
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The breaker of `model`, created closed on first use.
    pub(super) fn of(&self, model: &str) -> Arc<Breaker> {
        let mut map = self.lock();
        if let Some(b) = map.get(model) {
            return b.clone();
        }
        if map.len() >= MAX_MODELS {
            let now = Instant::now();
            map.retain(|_, b| b.snapshot(now).consecutive_failures > 0);
            if map.len() >= MAX_MODELS {
                // Every tracked model is failing: forget an arbitrary one
                // rather than grow without bound.
                if let Some(k) = map.keys().next().cloned() {
                    map.remove(&k);
                }
            }
        }
        let b = Arc::new(Breaker::new(self.config));
        map.insert(model.to_string(), b.clone());
        b
    }

    /// The worst breaker of the endpoint (open before half-open before
    /// closed), for `Stats`; closed when no model has been called.
    pub(super) fn worst(&self, now: Instant) -> BreakerSnapshot {
        let rank = |s: BreakerState| match s {
            BreakerState::Open => 2,
            BreakerState::HalfOpen => 1,
            BreakerState::Closed => 0,
        };
        self.lock()
            .values()
            .map(|b| b.snapshot(now))
            .max_by_key(|s| (rank(s.state), s.consecutive_failures))
            .unwrap_or(BreakerSnapshot {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                times_opened: 0,
                retry_in: None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::breaker::Verdict;

    #[test]
    fn models_have_their_own_breakers_and_the_map_stays_bounded() {
        let breakers = ModelBreakers::new(BreakerConfig {
            failure_threshold: 1,
            cool_down: std::time::Duration::from_secs(60),
        });
        let now = Instant::now();
        let bad = breakers.of("bad");
        assert!(bad.try_acquire(now).unwrap().record(Verdict::Failure, now));
        assert!(breakers.of("bad").try_acquire(now).is_err());
        assert!(breakers.of("good").try_acquire(now).is_ok());
        assert_eq!(breakers.worst(now).state, BreakerState::Open);
        for i in 0..(2 * MAX_MODELS) {
            breakers.of(&format!("m{i}"));
        }
        assert!(breakers.lock().len() <= MAX_MODELS);
        // The failing one is remembered; idle ones were dropped.
        assert!(breakers.of("bad").try_acquire(now).is_err());
    }
}
