//! The pure arithmetic of the out-of-process overhead harness: what a
//! gateway adds over the direct path, the highest rate that keeps p99 under
//! a bound, inter-token gaps, and what counts as a stalled stream. Kept
//! apart from the process and network code so it is unit-tested.

use std::time::Duration;

/// `a − b` in microseconds (negative when the gateway was faster, which
/// happens within noise).
pub fn added_us(a: Duration, b: Duration) -> f64 {
    (a.as_nanos() as f64 - b.as_nanos() as f64) / 1e3
}

/// The gaps between successive token arrival times.
pub fn gaps(token_times: &[Duration]) -> impl Iterator<Item = Duration> + '_ {
    token_times.windows(2).map(|w| w[1].saturating_sub(w[0]))
}

/// One step of an open-loop rate sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateStep {
    /// Requests per second asked for.
    pub offered: f64,
    /// Requests per second completed.
    pub achieved: f64,
    /// p99 latency, measured from each request's scheduled start.
    pub p99: Duration,
    /// Failed requests in the step.
    pub errors: u64,
}

impl RateStep {
    /// The step kept up: no errors and at least 90% of the offered rate.
    pub fn kept_up(&self) -> bool {
        self.errors == 0 && self.achieved >= 0.9 * self.offered
    }
}

/// The highest achieved rate of a step that kept up with p99 ≤ `bound`;
/// `None` when no step did.
pub fn highest_rate_within(steps: &[RateStep], bound: Duration) -> Option<f64> {
    steps
        .iter()
        .filter(|s| s.kept_up() && s.p99 <= bound)
        .map(|s| s.achieved)
        .fold(None, |best, r| Some(best.map_or(r, |b: f64| b.max(r))))
}

/// How one stream of the concurrency cell ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOutcome {
    /// Tokens received.
    pub tokens: u32,
    /// Longest gap between two tokens (time to the first token is judged
    /// apart: at a burst it includes opening the connection).
    pub longest_gap: Duration,
    /// The stream failed.
    pub failed: bool,
}

/// A stream stalled when it failed, came up short, or waited longer than
/// `allowed_gap` for a token.
pub fn stalled(outcome: &StreamOutcome, expected_tokens: u32, allowed_gap: Duration) -> bool {
    outcome.failed || outcome.tokens < expected_tokens || outcome.longest_gap > allowed_gap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn added_is_signed() {
        assert_eq!(added_us(us(350), us(100)), 250.0);
        assert_eq!(added_us(us(90), us(100)), -10.0);
    }

    #[test]
    fn gaps_are_successive_differences() {
        let g: Vec<Duration> = gaps(&[us(10), us(15), us(15), us(40)]).collect();
        assert_eq!(g, vec![us(5), us(0), us(25)]);
        assert_eq!(gaps(&[us(3)]).count(), 0);
    }

    #[test]
    fn highest_rate_skips_steps_that_fell_behind_or_failed() {
        let step = |offered: f64, achieved: f64, p99_us: u64, errors: u64| RateStep {
            offered,
            achieved,
            p99: us(p99_us),
            errors,
        };
        let steps = [
            step(500.0, 499.0, 400, 0),
            step(1000.0, 998.0, 900, 0),
            step(2000.0, 1990.0, 4_000, 0),
            step(4000.0, 2500.0, 800, 0), // fell behind: not counted
            step(8000.0, 7900.0, 700, 3), // errors: not counted
        ];
        assert_eq!(
            highest_rate_within(&steps, Duration::from_millis(1)),
            Some(998.0)
        );
        assert_eq!(
            highest_rate_within(&steps, Duration::from_millis(5)),
            Some(1990.0)
        );
        assert_eq!(highest_rate_within(&steps, us(100)), None);
        assert_eq!(highest_rate_within(&[], us(100)), None);
    }

    #[test]
    fn a_stream_stalls_when_short_failed_or_slow() {
        let ok = StreamOutcome {
            tokens: 16,
            longest_gap: Duration::from_millis(60),
            failed: false,
        };
        let allowed = Duration::from_millis(200);
        assert!(!stalled(&ok, 16, allowed));
        assert!(stalled(&StreamOutcome { tokens: 15, ..ok }, 16, allowed));
        assert!(stalled(&StreamOutcome { failed: true, ..ok }, 16, allowed));
        let slow = StreamOutcome {
            longest_gap: Duration::from_millis(201),
            ..ok
        };
        assert!(stalled(&slow, 16, allowed));
    }
}
