//! Per-key rate limits with `governor` (GCRA over one atomic, so admission
//! is exact under any concurrency): requests per minute, and tokens per
//! minute, where a call pays its estimated prompt tokens up front and its
//! completion tokens once they are known. Tokens the bucket cannot take at
//! that point (the call already ran) become debt paid by the next call.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Which limit refused a call, and when it refills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// "requests_per_minute (60)" or "tokens_per_minute (1000)".
    pub limit: String,
    /// Until enough has refilled.
    pub retry_after: Duration,
}

/// A key's limiters; `C` is the clock (a fake one in tests).
pub struct RateLimits<C: Clock = DefaultClock> {
    requests: Option<(Direct<C>, u32)>,
    tokens: Option<(Direct<C>, u32)>,
    debt: AtomicU64,
    clock: C,
}

impl RateLimits<DefaultClock> {
    /// Limits on the real clock.
    pub fn new(requests_per_minute: Option<u32>, tokens_per_minute: Option<u32>) -> Self {
        RateLimits::with_clock(
            requests_per_minute,
            tokens_per_minute,
            DefaultClock::default(),
        )
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    /// Limits on `clock`. A limit of 0 or none is unlimited.
    pub fn with_clock(requests: Option<u32>, tokens: Option<u32>, clock: C) -> Self {
        let limiter = |per_minute: Option<u32>| {
            let n = NonZeroU32::new(per_minute?)?;
            Some((
                RateLimiter::direct_with_clock(Quota::per_minute(n), clock.clone()),
                n.get(),
            ))
        };
        RateLimits {
            requests: limiter(requests),
            tokens: limiter(tokens),
            debt: AtomicU64::new(0),
            clock,
        }
    }

    /// Admits one call that expects to use `prompt_tokens`.
    pub fn admit(&self, prompt_tokens: u32) -> Result<(), Refused> {
        if let Some((limiter, per_minute)) = &self.requests
            && let Err(not_until) = limiter.check()
        {
            return Err(Refused {
                limit: format!("requests_per_minute ({per_minute})"),
                retry_after: not_until.wait_time_from(self.clock.now()),
            });
        }
        let Some((limiter, per_minute)) = &self.tokens else {
            return Ok(());
        };
        let debt = self.debt.swap(0, Ordering::AcqRel);
        let wanted = u64::from(prompt_tokens).saturating_add(debt);
        // A call larger than the whole minute's allowance takes all of it.
        let n = clamp(wanted, *per_minute);
        let refused = |retry_after| Refused {
            limit: format!("tokens_per_minute ({per_minute})"),
            retry_after,
        };
        match limiter.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                self.debt.fetch_add(debt, Ordering::AcqRel);
                Err(refused(not_until.wait_time_from(self.clock.now())))
            }
            // `n` is clamped to the burst, so this cannot happen; refuse
            // rather than admit if it ever did.
            Err(_) => {
                self.debt.fetch_add(debt, Ordering::AcqRel);
                Err(refused(Duration::from_secs(60)))
            }
        }
    }

    /// Charges tokens learnt after the call (completion tokens, and prompt
    /// tokens beyond the estimate).
    pub fn charge(&self, tokens: u64) {
        let Some((limiter, per_minute)) = &self.tokens else {
            return;
        };
        if tokens == 0 {
            return;
        }
        if !matches!(limiter.check_n(clamp(tokens, *per_minute)), Ok(Ok(()))) {
            self.debt.fetch_add(tokens, Ordering::AcqRel);
        }
    }
}

impl<C: Clock> std::fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("requests_per_minute", &self.requests.as_ref().map(|r| r.1))
            .field("tokens_per_minute", &self.tokens.as_ref().map(|r| r.1))
            .finish_non_exhaustive()
    }
}

fn clamp(tokens: u64, per_minute: u32) -> NonZeroU32 {
    let n = u32::try_from(tokens)
        .unwrap_or(u32::MAX)
        .clamp(1, per_minute.max(1));
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use governor::clock::FakeRelativeClock;

    use super::*;

    /// 16 threads hammer a 60 rpm key on a clock that does not move: exactly
    /// 60 calls are admitted, whatever the interleaving.
    #[test]
    fn sixty_rpm_admits_exactly_sixty_among_sixteen_concurrent_callers() {
        let clock = FakeRelativeClock::default();
        let limits = Arc::new(RateLimits::with_clock(Some(60), None, clock.clone()));
        let admitted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let limits = limits.clone();
                let admitted = admitted.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        if limits.admit(10).is_ok() {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::Relaxed), 60);
        let refused = limits.admit(1).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert!(refused.limit.contains("requests_per_minute (60)"));
        clock.advance(Duration::from_secs(1));
        assert!(limits.admit(1).is_ok(), "one request refills per second");
        assert!(limits.admit(1).is_err());
    }

    #[test]
    fn tokens_are_estimated_up_front_and_completion_is_charged_after() {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::with_clock(None, Some(1000), clock.clone());
        assert!(limits.admit(600).is_ok());
        limits.charge(300);
        // 900 used: 100 left.
        assert!(limits.admit(200).is_err());
        assert!(limits.admit(100).is_ok());
        // The bucket is empty: a late charge becomes debt for the next call.
        limits.charge(500);
        clock.advance(Duration::from_secs(60));
        assert!(limits.admit(400).is_ok(), "500 debt + 400 fits in 1000");
        assert!(
            limits.admit(200).is_err(),
            "only 100 left after the debt was paid"
        );
    }

    #[test]
    fn no_limits_admit_everything() {
        let limits = RateLimits::new(None, Some(0));
        for _ in 0..1000 {
            assert!(limits.admit(u32::MAX).is_ok());
        }
    }
}
