//! A circuit breaker (one per endpoint and model, see `model_breakers`):
//! after `failure_threshold` consecutive failures it opens and calls are
//! refused at once (no HTTP request made) for `cool_down`; then exactly
//! one probe is let through (half-open); the probe's success closes the
//! breaker, its failure opens it again.
//!
//! Hand-written rather than a crate: the state machine is small, adding a
//! dependency (e.g. `failsafe`) would touch the manifests outside this
//! module, and owning it lets every method take `now` as a parameter so the
//! timing is unit-tested without sleeping. State sits behind a
//! `std::sync::Mutex` held only for a few field updates, never across an
//! await; a poisoned lock is recovered (the state is always consistent).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive endpoint failures that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before one probe is allowed.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    /// 5 consecutive failures, 10 s cool-down.
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(10),
        }
    }
}

/// The breaker's position, as shown in `Stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow normally.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// The cool-down is over: the next call (only one) is a probe.
    HalfOpen,
}

impl BreakerState {
    /// Short label for metrics ("closed", "open", "half_open").
    pub fn label(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A point-in-time view of one endpoint's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSnapshot {
    /// Where it stands. An open breaker whose cool-down has passed reads as
    /// half-open: the next call will be the probe.
    pub state: BreakerState,
    /// Endpoint failures since the last success.
    pub consecutive_failures: u32,
    /// Times this breaker has opened (a failed probe re-opens it).
    pub times_opened: u64,
    /// While open: time left before a probe is allowed.
    pub retry_in: Option<Duration>,
}

/// How one attempt ended, as far as the endpoint's health is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The endpoint answered properly.
    Success,
    /// A model failure (5xx, timeouts, in-stream errors).
    Failure,
    /// Says nothing about the model (any 4xx, a host that could not be
    /// reached, the client left): neither counts nor resets; a probe is
    /// given back.
    Neutral,
}

#[derive(Debug, Clone, Copy)]
enum Position {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
struct Inner {
    position: Position,
    consecutive_failures: u32,
    times_opened: u64,
}

/// One endpoint's breaker.
#[derive(Debug)]
pub(super) struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Leave to send one attempt. Report how it went with [`Permit::record`];
/// a permit dropped unrecorded (the call was cancelled) gives its probe
/// back, so a cancelled probe never leaves the breaker stuck half-open.
#[must_use = "record the attempt's verdict on the permit"]
pub(super) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

impl Breaker {
    pub(super) fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config: BreakerConfig {
                failure_threshold: config.failure_threshold.max(1),
                ..config
            },
            inner: Mutex::new(Inner {
                position: Position::Closed,
                consecutive_failures: 0,
                times_opened: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A permit for one attempt, or how long until a probe may be sent.
    pub(super) fn try_acquire(&self, now: Instant) -> Result<Permit<'_>, Duration> {
        let mut inner = self.lock();
        let probe = match inner.position {
            Position::Closed => false,
            Position::Open { until } if now < until => return Err(until - now),
            Position::Open { .. } | Position::HalfOpen { probing: false } => {
                inner.position = Position::HalfOpen { probing: true };
                true
            }
            // A probe is out; its answer decides. At worst it fails and the
            // breaker stays open for a whole cool-down.
            Position::HalfOpen { probing: true } => return Err(self.config.cool_down),
        };
        Ok(Permit {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    /// Whether an attempt now would be refused (used to skip a backoff
    /// sleep that would end in a refusal anyway).
    pub(super) fn refuses(&self, now: Instant) -> bool {
        match self.lock().position {
            Position::Closed | Position::HalfOpen { probing: false } => false,
            Position::Open { until } => now < until,
            Position::HalfOpen { probing: true } => true,
        }
    }

    /// Records an attempt's verdict; true when this verdict opened the breaker.
    fn record(&self, probe: bool, verdict: Verdict, now: Instant) -> bool {
        let mut inner = self.lock();
        match verdict {
            Verdict::Success => {
                // A straggler that started before the breaker opened does not
                // close it: only the probe (or a closed breaker) decides.
                if probe || !matches!(inner.position, Position::Open { .. }) {
                    inner.consecutive_failures = 0;
                    inner.position = Position::Closed;
                }
                false
            }
            Verdict::Failure => {
                inner.consecutive_failures = inner.consecutive_failures.saturating_add(1);
                let open = match inner.position {
                    Position::Closed => inner.consecutive_failures >= self.config.failure_threshold,
                    Position::HalfOpen { .. } => probe,
                    Position::Open { .. } => false,
                };
                if open {
                    inner.position = Position::Open {
                        until: now + self.config.cool_down,
                    };
                    inner.times_opened += 1;
                }
                open
            }
            Verdict::Neutral => {
                if probe && matches!(inner.position, Position::HalfOpen { probing: true }) {
                    inner.position = Position::HalfOpen { probing: false };
                }
                false
            }
        }
    }

    /// The breaker as `Stats` shows it.
    pub(super) fn snapshot(&self, now: Instant) -> BreakerSnapshot {
        let inner = self.lock();
        let (state, retry_in) = match inner.position {
            Position::Closed => (BreakerState::Closed, None),
            Position::Open { until } if now < until => (BreakerState::Open, Some(until - now)),
            Position::Open { .. } | Position::HalfOpen { .. } => (BreakerState::HalfOpen, None),
        };
        BreakerSnapshot {
            state,
            consecutive_failures: inner.consecutive_failures,
            times_opened: inner.times_opened,
            retry_in,
        }
    }
}

impl Permit<'_> {
    /// Records the attempt's verdict; true when it opened the breaker.
    pub(super) fn record(mut self, verdict: Verdict, now: Instant) -> bool {
        self.recorded = true;
        self.breaker.record(self.probe, verdict, now)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breaker
                .record(self.probe, Verdict::Neutral, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(10);

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            failure_threshold: 5,
            cool_down: COOL,
        })
    }

    fn fail(b: &Breaker, now: Instant) -> bool {
        b.try_acquire(now).unwrap().record(Verdict::Failure, now)
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..4 {
            assert!(!fail(&b, t0));
        }
        // A success resets the run.
        assert!(!b.try_acquire(t0).unwrap().record(Verdict::Success, t0));
        for _ in 0..4 {
            assert!(!fail(&b, t0));
        }
        // Neutral verdicts (400, 429) neither count nor reset.
        assert!(!b.try_acquire(t0).unwrap().record(Verdict::Neutral, t0));
        assert_eq!(b.snapshot(t0).consecutive_failures, 4);
        assert!(fail(&b, t0), "the fifth consecutive failure opens it");
        let s = b.snapshot(t0);
        assert_eq!(s.state, BreakerState::Open);
        assert_eq!(s.times_opened, 1);
        assert_eq!(s.retry_in, Some(COOL));
    }

    #[test]
    fn open_refuses_until_the_cool_down_then_lets_exactly_one_probe_through() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..5 {
            fail(&b, t0);
        }
        let almost = t0 + COOL - Duration::from_millis(1);
        assert_eq!(b.try_acquire(almost).err(), Some(Duration::from_millis(1)));
        assert!(b.refuses(almost));

        let after = t0 + COOL;
        assert_eq!(b.snapshot(after).state, BreakerState::HalfOpen);
        assert!(!b.refuses(after));
        let probe = b.try_acquire(after).unwrap();
        assert!(b.try_acquire(after).is_err(), "only one probe at a time");
        assert!(b.refuses(after));
        assert!(!probe.record(Verdict::Success, after));
        let s = b.snapshot(after);
        assert_eq!(s.state, BreakerState::Closed);
        assert_eq!(s.consecutive_failures, 0);
        assert!(b.try_acquire(after).is_ok());
    }

    #[test]
    fn a_failed_probe_reopens_for_another_cool_down() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..5 {
            fail(&b, t0);
        }
        let t1 = t0 + COOL;
        assert!(fail(&b, t1), "the failed probe re-opens it");
        assert_eq!(b.snapshot(t1).times_opened, 2);
        assert!(b.try_acquire(t1 + COOL / 2).is_err());
        assert!(b.try_acquire(t1 + COOL).is_ok());
    }

    #[test]
    fn a_cancelled_or_neutral_probe_is_given_back() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..5 {
            fail(&b, t0);
        }
        let t1 = t0 + COOL;
        drop(b.try_acquire(t1).unwrap());
        let probe = b.try_acquire(t1).expect("a dropped probe frees the slot");
        assert!(!probe.record(Verdict::Neutral, t1));
        assert_eq!(b.snapshot(t1).state, BreakerState::HalfOpen);
        let probe = b.try_acquire(t1).expect("a neutral probe frees the slot");
        assert!(!probe.record(Verdict::Success, t1));
        assert_eq!(b.snapshot(t1).state, BreakerState::Closed);
    }

    #[test]
    fn stragglers_neither_close_nor_reopen_an_open_breaker() {
        let b = breaker();
        let t0 = Instant::now();
        let straggler_ok = b.try_acquire(t0).unwrap();
        let straggler_bad = b.try_acquire(t0).unwrap();
        for _ in 0..5 {
            fail(&b, t0);
        }
        assert!(!straggler_ok.record(Verdict::Success, t0));
        assert_eq!(b.snapshot(t0).state, BreakerState::Open);
        assert!(!straggler_bad.record(Verdict::Failure, t0));
        assert_eq!(b.snapshot(t0).times_opened, 1);
    }
}
