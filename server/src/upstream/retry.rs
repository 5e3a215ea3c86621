//! When to try an upstream again. Backoff delays come from `backon`'s
//! exponential builder with jitter; the decision (what is retryable, honouring
//! `Retry-After`, never overrunning the deadline) is ours.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};

use super::UpstreamError;

/// Longest `Retry-After` the router is willing to wait inside one call.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// How many attempts and how far apart.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total (1 = no retry).
    pub max_attempts: u32,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// A single attempt.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            min_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// `max_attempts` attempts with 100 ms .. 2 s jittered exponential backoff.
    pub fn attempts(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }

    pub(super) fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .build()
    }
}

/// The delay before the next attempt, or None when the call should give up:
/// the error is not retryable, the backoff is spent, or waiting would pass
/// the deadline (then failing now is more useful than failing later).
pub(super) fn next_delay(
    error: &UpstreamError,
    backoff: &mut impl Iterator<Item = Duration>,
    deadline: Option<Instant>,
) -> Option<Duration> {
    if !error.is_retryable() {
        return None;
    }
    let planned = backoff.next()?;
    let delay = match error {
        UpstreamError::Http {
            retry_after: Some(after),
            ..
        } => (*after).max(planned),
        _ => planned,
    };
    if delay > MAX_RETRY_AFTER {
        return None;
    }
    match deadline {
        Some(d) if Instant::now() + delay >= d => None,
        _ => Some(delay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, retry_after: Option<Duration>) -> UpstreamError {
        UpstreamError::Http {
            endpoint: "e".into(),
            status,
            message: "m".into(),
            retry_after,
        }
    }

    #[test]
    fn retries_are_bounded_and_selective() {
        let policy = RetryPolicy::attempts(3);
        let mut b = policy.backoff();
        assert!(next_delay(&http(503, None), &mut b, None).is_some());
        assert!(next_delay(&http(503, None), &mut b, None).is_some());
        assert!(
            next_delay(&http(503, None), &mut b, None).is_none(),
            "3 attempts = 2 retries"
        );
        let mut b = policy.backoff();
        assert!(next_delay(&http(401, None), &mut b, None).is_none());
        assert!(next_delay(&http(402, None), &mut b, None).is_none());
    }

    #[test]
    fn retry_after_is_honoured_unless_the_deadline_is_shorter() {
        let policy = RetryPolicy::attempts(3);
        let after = Some(Duration::from_secs(2));
        let d = next_delay(&http(429, after), &mut policy.backoff(), None);
        assert!(d.is_some_and(|d| d >= Duration::from_secs(2)));
        let soon = Some(Instant::now() + Duration::from_millis(500));
        assert!(next_delay(&http(429, after), &mut policy.backoff(), soon).is_none());
    }
}
