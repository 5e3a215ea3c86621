//! A per-endpoint retry budget: retries may be at most `ratio` of the calls
//! made over a sliding `window` (with a floor of `min_retries` per window
//! so a quiet endpoint can still retry), so a failing upstream is not
//! hammered with up to `max_attempts` times its normal load.
//!
//! The idea is Finagle's / tower's `TpsBudget`. Hand-written rather than
//! `tower::retry::budget::TpsBudget` because: our manifest enables only
//! tower's `util` feature (`retry` arrives by accident through reqwest's
//! feature set) and this change does not touch manifests; TpsBudget reads
//! tokio's clock itself, while this one takes `now` so the window is
//! unit-tested without sleeping; and its floor is "per second", ours the
//! "per window" the design asks for. The counts sit behind a
//! `std::sync::Mutex` held for a few additions, never across an await.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Buckets the window is divided into; the window slides one bucket at a time.
const BUCKETS: u32 = 10;

/// How many retries an endpoint may make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudgetConfig {
    /// Retries allowed per call in the window (0.2 = 20 %).
    pub ratio: f64,
    /// The sliding window.
    pub window: Duration,
    /// Retries always allowed per window, whatever the call count.
    pub min_retries: u32,
}

impl Default for RetryBudgetConfig {
    /// 20 % of calls over 10 s, at least 10 retries per window.
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.2,
            window: Duration::from_secs(10),
            min_retries: 10,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Which bucket-length slice of time since `origin` this counts;
    /// `u64::MAX` while unused.
    slot: u64,
    calls: u64,
    retries: u64,
}

const EMPTY: Bucket = Bucket {
    slot: u64::MAX,
    calls: 0,
    retries: 0,
};

/// One endpoint's budget.
#[derive(Debug)]
pub(super) struct RetryBudget {
    config: RetryBudgetConfig,
    origin: Instant,
    bucket_len: Duration,
    buckets: Mutex<[Bucket; BUCKETS as usize]>,
}

impl RetryBudget {
    pub(super) fn new(config: RetryBudgetConfig, now: Instant) -> RetryBudget {
        RetryBudget {
            config,
            origin: now,
            bucket_len: (config.window / BUCKETS).max(Duration::from_millis(1)),
            buckets: Mutex::new([EMPTY; BUCKETS as usize]),
        }
    }

    fn lock(&self) -> MutexGuard<'_, [Bucket; BUCKETS as usize]> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn slot(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(since / self.bucket_len.as_nanos()).unwrap_or(u64::MAX - 1)
    }

    /// Counts one call (its first attempt).
    pub(super) fn record_call(&self, now: Instant) {
        let slot = self.slot(now);
        current(&mut self.lock(), slot).calls += 1;
    }

    /// Takes one retry from the budget; false when it is spent.
    pub(super) fn try_retry(&self, now: Instant) -> bool {
        let slot = self.slot(now);
        let mut buckets = self.lock();
        let live = buckets
            .iter()
            .filter(|b| b.slot <= slot && slot - b.slot < u64::from(BUCKETS));
        let (calls, retries) = live.fold((0u64, 0u64), |(c, r), b| (c + b.calls, r + b.retries));
        // Truncation is intended: 0.2 × 7 calls allows 1 retry, not 2.
        let earned = (self.config.ratio.max(0.0) * calls as f64) as u64;
        if retries >= earned.max(u64::from(self.config.min_retries)) {
            return false;
        }
        current(&mut buckets, slot).retries += 1;
        true
    }
}

/// The bucket for `slot`, emptied first if it still holds an older slot.
fn current(buckets: &mut [Bucket; BUCKETS as usize], slot: u64) -> &mut Bucket {
    let bucket = &mut buckets[(slot % u64::from(BUCKETS)) as usize];
    if bucket.slot != slot {
        *bucket = Bucket { slot, ..EMPTY };
    }
    bucket
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(min_retries: u32) -> (RetryBudget, Instant) {
        let t0 = Instant::now();
        let config = RetryBudgetConfig {
            ratio: 0.2,
            window: Duration::from_secs(10),
            min_retries,
        };
        (RetryBudget::new(config, t0), t0)
    }

    fn retries_granted(b: &RetryBudget, now: Instant, tries: u32) -> u32 {
        (0..tries).filter(|_| b.try_retry(now)).count() as u32
    }

    #[test]
    fn a_quiet_endpoint_may_still_retry_up_to_the_floor() {
        let (b, t0) = budget(10);
        b.record_call(t0);
        assert_eq!(retries_granted(&b, t0, 50), 10);
    }

    #[test]
    fn retries_are_capped_at_the_ratio_of_calls_in_the_window() {
        let (b, t0) = budget(10);
        for _ in 0..100 {
            b.record_call(t0);
        }
        assert_eq!(retries_granted(&b, t0, 50), 20, "20 % of 100 calls");
        // More calls earn more retries.
        for _ in 0..10 {
            b.record_call(t0 + Duration::from_secs(1));
        }
        assert_eq!(retries_granted(&b, t0 + Duration::from_secs(1), 50), 2);
    }

    #[test]
    fn the_window_slides() {
        let (b, t0) = budget(0);
        for _ in 0..50 {
            b.record_call(t0);
        }
        assert_eq!(retries_granted(&b, t0, 50), 10);
        // 9.9 s later both the calls and the retries still count.
        let late = t0 + Duration::from_millis(9_900);
        assert_eq!(retries_granted(&b, late, 1), 0);
        // Once they age out there is nothing earned, and nothing spent.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(retries_granted(&b, later, 1), 0);
        for _ in 0..10 {
            b.record_call(later);
        }
        assert_eq!(retries_granted(&b, later, 5), 2);
        // Long silence: every bucket is stale.
        let much_later = t0 + Duration::from_secs(3600);
        for _ in 0..5 {
            b.record_call(much_later);
        }
        assert_eq!(retries_granted(&b, much_later, 5), 1);
    }

    #[test]
    fn a_zero_ratio_without_floor_never_retries() {
        let t0 = Instant::now();
        let b = RetryBudget::new(
            RetryBudgetConfig {
                ratio: 0.0,
                window: Duration::from_secs(1),
                min_retries: 0,
            },
            t0,
        );
        b.record_call(t0);
        assert!(!b.try_retry(t0));
    }
}
